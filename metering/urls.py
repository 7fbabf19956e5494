from django.urls import path

from metering import views

app_name = "metering"

urlpatterns = [
    path("accounts/<str:ref>/usage", views.account_usage, name="account_usage"),
]
