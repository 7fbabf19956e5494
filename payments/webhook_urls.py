"""Include at ``webhooks/``: ``path("webhooks/", include("payments.webhook_urls"))``."""

from django.urls import path

from payments.webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("stripe", views.stripe_webhook, name="stripe"),
    path("braintree", views.braintree_webhook, name="braintree"),
]
