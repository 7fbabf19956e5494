"""Gateway configuration from settings, and the gateway for a provider.

Settings come from the environment (``STRIPE_*``, ``BRAINTREE_*``); tests override them to point
at the local fake PSPs. ``BRAINTREE_MERCHANT_ACCOUNTS`` (optional) maps currencies to merchant
account ids, e.g. ``{"EUR": "acct_eur"}``.
"""

from __future__ import annotations

from django.conf import settings

from payments.exceptions import ProviderNotConfigured
from payments.gateways import PROVIDERS, get_gateway
from payments.gateways.base import BraintreeConfig, Gateway, StripeConfig

# Writes should fail fast; the UNKNOWN state and the sync task take care of slow answers.
DEFAULT_TIMEOUT_S = 20.0


def stripe_config() -> StripeConfig:
    if not settings.STRIPE_SECRET_KEY:
        raise ProviderNotConfigured("Set STRIPE_SECRET_KEY to take payments with Stripe.")
    return StripeConfig(
        secret_key=settings.STRIPE_SECRET_KEY,
        webhook_secret=settings.STRIPE_WEBHOOK_SECRET,
        api_base=settings.STRIPE_API_BASE or None,
        timeout_s=float(getattr(settings, "STRIPE_TIMEOUT_S", DEFAULT_TIMEOUT_S)),
    )


def braintree_config() -> BraintreeConfig:
    if not (settings.BRAINTREE_MERCHANT_ID and settings.BRAINTREE_PRIVATE_KEY):
        raise ProviderNotConfigured(
            "Set BRAINTREE_MERCHANT_ID, BRAINTREE_PUBLIC_KEY and BRAINTREE_PRIVATE_KEY."
        )
    return BraintreeConfig(
        environment=settings.BRAINTREE_ENVIRONMENT,
        merchant_id=settings.BRAINTREE_MERCHANT_ID,
        public_key=settings.BRAINTREE_PUBLIC_KEY,
        private_key=settings.BRAINTREE_PRIVATE_KEY,
        timeout_s=float(getattr(settings, "BRAINTREE_TIMEOUT_S", DEFAULT_TIMEOUT_S)),
        merchant_account_ids=dict(getattr(settings, "BRAINTREE_MERCHANT_ACCOUNTS", {}) or {}),
    )


def config_for(provider: str) -> StripeConfig | BraintreeConfig:
    if provider == "stripe":
        return stripe_config()
    if provider == "braintree":
        return braintree_config()
    raise ProviderNotConfigured(f"'{provider}' is not a payment provider Paydesk talks to.")


# Adapters hold an SDK client with a connection pool; build one per configuration, not per call.
_cache: dict[tuple[str, object], Gateway] = {}


def gateway_for(provider: str) -> Gateway:
    if provider not in PROVIDERS:
        raise ProviderNotConfigured(f"'{provider}' is not a payment provider Paydesk talks to.")
    config = config_for(provider)
    key = (provider, repr(config))
    gateway = _cache.get(key)
    if gateway is None:
        if len(_cache) > 16:
            _cache.clear()
        gateway = _cache[key] = get_gateway(provider, config)
    return gateway
