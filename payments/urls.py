"""Include at ``payments/``: ``path("payments/", include("payments.urls"))``."""

from django.urls import path

from payments import views

app_name = "payments"

urlpatterns = [
    path("<int:pk>/", views.payment_detail, name="detail"),
    path("<int:pk>/refund", views.refund_new, name="refund"),
    path("<int:pk>/refunds/<int:refund_pk>/", views.refund_done, name="refund_done"),
    path("bank-transfer", views.bank_transfer_record, name="bank_transfer"),
    path("reconciliation/", views.reconciliation_list, name="reconciliation"),
    path("reconciliation/<int:pk>/", views.reconciliation_detail, name="reconciliation_detail"),
    path("reconciliation/<int:pk>/csv", views.reconciliation_csv, name="reconciliation_csv"),
]
