"""The tax status an account gets unless someone sets it explicitly."""

from __future__ import annotations

from accounts.choices import TaxStatus
from accounts.vat import is_eu

SELLER_COUNTRY = "DE"


def default_tax_status(country: str, vat_id: str) -> TaxStatus:
    """DE -> domestic; other EU with a VAT id -> reverse charge; EU without -> domestic
    (a consumer or an unregistered business pays German VAT); outside the EU -> not taxable here.

    ``vat_id`` must already be validated: this decides on presence, not validity.
    """
    if country == SELLER_COUNTRY:
        return TaxStatus.DOMESTIC
    if is_eu(country):
        return TaxStatus.EU_REVERSE_CHARGE if vat_id else TaxStatus.DOMESTIC
    return TaxStatus.OUTSIDE_EU
