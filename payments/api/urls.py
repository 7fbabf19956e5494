from django.urls import path

from payments.api import views

urlpatterns = [
    path("payments/<int:pk>", views.PaymentDetailView.as_view(), name="payment-detail"),
    path("payments/<int:pk>/refunds", views.RefundCreateView.as_view(), name="payment-refunds"),
]
