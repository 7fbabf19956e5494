"""VAT: which category and rate applies, and the tax per rate on the sum of net lines.

EN 16931 (BR-CO-17): the VAT of a category and rate is the sum of the net line amounts of that
category and rate times the rate, rounded once (half up). Rounding each line's tax and adding
up would drift by a cent per few lines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext

from django.conf import settings
from django.db.models import Q

from accounts.choices import TaxStatus
from invoices.choices import TaxCategory
from invoices.exceptions import TaxRateMissing

CATEGORY_BY_TAX_STATUS: dict[str, str] = {
    TaxStatus.DOMESTIC: TaxCategory.STANDARD,
    TaxStatus.EU_REVERSE_CHARGE: TaxCategory.REVERSE_CHARGE,
    TaxStatus.OUTSIDE_EU: TaxCategory.NOT_SUBJECT,
    TaxStatus.EXEMPT: TaxCategory.EXEMPT,
}

# Ledger tax codes per category (DATEV-style keys an accountant maps on import).
LEDGER_TAX_CODE: dict[str, str] = {
    TaxCategory.STANDARD: "USt",
    TaxCategory.REVERSE_CHARGE: "RC",
    TaxCategory.NOT_SUBJECT: "NStb",
    TaxCategory.EXEMPT: "StFrei",
    TaxCategory.ZERO: "USt0",
}


@dataclass(frozen=True)
class TaxGroup:
    category: str
    rate: Decimal
    net_minor: int
    tax_minor: int

    @property
    def gross_minor(self) -> int:
        return self.net_minor + self.tax_minor

    def as_dict(self) -> dict:
        return {
            "category": self.category,
            "rate": format(self.rate, "f"),
            "net_minor": self.net_minor,
            "tax_minor": self.tax_minor,
        }

    @classmethod
    def from_dict(cls, data: dict) -> TaxGroup:
        return cls(data["category"], Decimal(data["rate"]), data["net_minor"], data["tax_minor"])


def tax_on(net_minor: int, rate: Decimal) -> int:
    """``net_minor * rate / 100`` rounded half up (away from zero) to a whole minor unit."""
    with localcontext() as ctx:
        ctx.prec = 60
        exact = Decimal(net_minor) * Decimal(rate) / Decimal(100)
        return int(exact.to_integral_value(rounding=ROUND_HALF_UP))


def tax_breakdown(lines: Iterable[tuple[str, Decimal, int]]) -> list[TaxGroup]:
    """Group ``(category, rate, net_minor)`` triples and tax each group's SUM once."""
    sums: dict[tuple[str, Decimal], int] = {}
    for category, rate, net_minor in lines:
        key = (category, Decimal(rate).quantize(Decimal("0.01")))
        sums[key] = sums.get(key, 0) + net_minor
    return [
        TaxGroup(category, rate, net, tax_on(net, rate))
        for (category, rate), net in sorted(sums.items(), key=lambda kv: (kv[0][0], -kv[0][1]))
    ]


def category_for(tax_status: str) -> str:
    try:
        return CATEGORY_BY_TAX_STATUS[tax_status]
    except KeyError:
        raise TaxRateMissing(f"No VAT category for tax status {tax_status!r}.") from None


def seller_country() -> str:
    return settings.PAYDESK_SELLER.get("country", "DE")


def rates_valid_on(on: dt.date, *, country: str | None = None):
    from invoices.models import TaxRate

    return TaxRate.objects.filter(country=country or seller_country(), valid_from__lte=on).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=on)
    )


class RateBook:
    """The TaxRate rows valid on one date, loaded once (a billing run asks thousands of times)."""

    def __init__(self, on: dt.date, *, country: str | None = None) -> None:
        self.on = on
        self._rows = list(rates_valid_on(on, country=country).order_by("category", "-rate"))

    def default(self, category: str):
        """The category's standard rate: the highest valid rate of the category."""
        for row in self._rows:
            if row.category == category:
                return row
        raise TaxRateMissing(
            f"No {category} tax rate is valid on {self.on.isoformat()}.", category=category
        )

    def exact(self, category: str, rate: Decimal):
        for row in self._rows:
            if row.category == category and row.rate == rate:
                return row
        raise TaxRateMissing(
            f"No {category} tax rate of {rate} % is valid on {self.on.isoformat()}.",
            category=category,
            rate=str(rate),
        )
