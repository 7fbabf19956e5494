from django.urls import path

from metering.api import views

urlpatterns = [
    path("meters", views.MetersView.as_view(), name="meters"),
    path("usage-events", views.UsageEventsView.as_view(), name="usage-events"),
    path("usage-events/void", views.UsageEventsVoidView.as_view(), name="usage-events-void"),
    path("accounts/<str:ref>/usage", views.AccountUsageView.as_view(), name="account-usage"),
]
