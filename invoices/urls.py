from django.urls import path

from invoices import views

app_name = "invoices"

urlpatterns = [
    path("<int:pk>/pdf", views.invoice_pdf, name="invoice_pdf"),
    path("credit-notes/<int:pk>/pdf", views.credit_note_pdf, name="credit_note_pdf"),
]
