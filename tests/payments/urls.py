"""The project's URLs plus payments' screens and webhooks, as the lead will include them."""

from django.urls import include, path

from billing_site.urls import urlpatterns as project

urlpatterns = [
    path("webhooks/", include("payments.webhook_urls")),
    path("payments/", include("payments.urls")),
    *project,
]
