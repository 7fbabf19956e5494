from django.urls import path

from accounts.api import views

urlpatterns = [
    path("accounts", views.AccountCreateView.as_view(), name="account-create"),
    path("accounts/<str:ref>", views.AccountDetailView.as_view(), name="account-detail"),
]
