from django.urls import path

from ledger import views

app_name = "ledger"

urlpatterns = [
    path("trial-balance/", views.trial_balance_page, name="trial_balance"),
    path("export.csv", views.journal_export, name="journal_export"),
]
