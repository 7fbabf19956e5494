"""Proration of in-advance fees when a subscription changes plan or ends mid-period.

Only IN_ADVANCE prices are prorated: usage in arrears is billed by metering for the actual use.
Time is counted in whole seconds. The unused part of a fee is its exact share
``full × remaining / period`` rounded once, and it is split off with ``Money.allocate``, so the
unused part plus the used part is always exactly the full fee in minor units.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from catalog.choices import Timing
from catalog.rating import rate_minor
from common.money import Money

_SECOND = timedelta(seconds=1)
_FRACTION_PLACES = Decimal("1e-12")


@dataclass(frozen=True, slots=True)
class ProrationItem:
    """One proration line: a credit (negative) for the old plan or a charge for the new one."""

    description: str
    price_id: int
    period_start: datetime  # the prorated part of the period: [change time, period end)
    period_end: datetime
    amount_minor: int
    fraction: Decimal  # seconds remaining / seconds in the period, 12 places, for display
    currency: str = ""
    quantity: Decimal = Decimal(1)  # seats the fee was charged for


def split_seconds(*, period: tuple[datetime, datetime], at: datetime) -> tuple[int, int]:
    """(remaining, used) whole seconds of ``period`` at ``at``; a partial second counts as used."""
    start, end = period
    total = (end - start) // _SECOND
    remaining = max(0, min(total, (end - at) // _SECOND))
    return remaining, total - remaining


def split_fee(*, full_minor: int, currency: str, remaining: int, used: int) -> tuple[int, int]:
    """(unused, used) parts of a fee; they add up exactly to ``full_minor``."""
    if remaining + used == 0:
        return 0, full_minor
    unused_part, used_part = Money(full_minor, currency).allocate([remaining, used])
    return unused_part.minor, used_part.minor


def prorated_items(
    *,
    plan,
    quantity: int,
    period: tuple[datetime, datetime],
    at: datetime,
    credit: bool,
    label: str,
) -> list[ProrationItem]:
    """Items for the unused part of ``plan``'s in-advance fees from ``at`` to the period end.

    ``credit=True`` gives negative amounts (giving back the old plan), else positive (the new plan).
    """
    remaining, used = split_seconds(period=period, at=at)
    if remaining == 0:
        return []
    total = remaining + used
    fraction = (Decimal(remaining) / Decimal(total)).quantize(_FRACTION_PLACES)
    seats = Decimal(quantity)
    items = []
    for price in plan.prices.all():
        if price.timing != Timing.IN_ADVANCE:
            continue
        full = rate_minor(price=price, quantity=seats)
        unused, _ = split_fee(
            full_minor=full, currency=plan.currency, remaining=remaining, used=used
        )
        if unused == 0:
            continue
        items.append(
            ProrationItem(
                description=f"{label}: {price.description} ({plan.name})",
                price_id=price.pk,
                period_start=period[1] - remaining * _SECOND,
                period_end=period[1],
                amount_minor=-unused if credit else unused,
                fraction=fraction,
                currency=plan.currency,
                quantity=seats,
            )
        )
    return items
