from django.urls import path

from staff import views

app_name = "staff"

urlpatterns = [
    path("", views.home, name="home"),
    path("home/accounting/", views.home_accountant, name="home_accountant"),
    path("home/support/", views.home_support, name="home_support"),
    path("home/growth/", views.home_growth, name="home_growth"),
    path("home/risk/", views.home_risk, name="home_risk"),
    path("home/finance/", views.home_finance, name="home_finance"),
    path("approvals/", views.approvals, name="approvals"),
    path("approvals/<int:pk>/", views.approval_detail, name="approval_detail"),
    path("approvals/<int:pk>/decide/", views.approval_decide, name="approval_decide"),
    path("finance/limits/", views.limits, name="limits"),
]
