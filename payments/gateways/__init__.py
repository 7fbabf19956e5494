"""PSP gateways: one protocol (``base``), one adapter per PSP. Business code imports from here."""

from __future__ import annotations

from payments.gateways.base import BraintreeConfig, Gateway, StripeConfig

PROVIDERS = ("stripe", "braintree")


def get_gateway(provider: str, config: StripeConfig | BraintreeConfig) -> Gateway:
    """The adapter for ``provider``; SDKs are imported only when their adapter is needed."""
    if provider == "stripe":
        from payments.gateways.stripe import StripeGateway

        if not isinstance(config, StripeConfig):
            raise TypeError("the stripe gateway needs a StripeConfig")
        return StripeGateway(config)
    if provider == "braintree":
        from payments.gateways.braintree import BraintreeGateway

        if not isinstance(config, BraintreeConfig):
            raise TypeError("the braintree gateway needs a BraintreeConfig")
        return BraintreeGateway(config)
    raise ValueError(f"unknown payment provider {provider!r}")
