"""Rating: what a price component costs for a quantity in one billing period.

Pure functions. Invoices call them for fees, metering for usage. Amounts are exact Decimals in
major units (``rate``) until ``rate_minor`` rounds them once, half-up, to the currency's minor unit.

Charge models (``quantity`` is a Decimal; fractions such as 12.5 GB-hours work everywhere):

- FLAT: ``unit_amount × quantity``. For a flat fee the quantity is the subscription's seat count
  (1 unless the plan is sold per seat), so pass ``subscription.quantity``.
- PER_UNIT: ``quantity × unit_amount``.
- GRADUATED: each tier prices the slice of the quantity that falls into it (``up_to`` inclusive:
  100 with ``up_to=100`` lies wholly in the first tier); a tier's ``flat_amount`` is added for
  every tier the quantity reaches (its slice is > 0), as Stripe does.
- VOLUME: the whole quantity at the unit price of the tier it falls into, plus that tier's
  ``flat_amount``.
- PACKAGE: ``ceil(quantity / package_size) × unit_amount``; a partial block costs a whole block.
- Quantity 0 reaches no tier and no block, so it costs 0 in every model ...
- ... except that ``minimum_amount``, when set, is a commitment per period: it applies
  whatever the quantity, 0 included (as Lago's minimum commitments do).

Negative quantities are refused (``InvalidQuantity``). Usage corrections for a period already
billed should use ``rate_delta_minor`` (rate of the new total minus rate of the billed total),
which is right for every model. ``allow_negative=True`` rates ``-quantity`` and negates without
the minimum; that equals the delta only for linear models (PER_UNIT, FLAT) without a minimum.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, localcontext

from catalog.choices import ChargeModel
from catalog.exceptions import InvalidPrice, InvalidQuantity
from common.money import Money

__all__ = [
    "PriceTerms",
    "Tier",
    "rate",
    "rate_delta_minor",
    "rate_minor",
    "terms_of",
]

# Quantities and prices have at most 30 digits; their products and sums need about 62.
_PRECISION = 100
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Tier:
    up_to: Decimal | None
    unit_amount: Decimal
    flat_amount: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class PriceTerms:
    """The rating-relevant part of a price, detached from the database."""

    charge_model: str
    currency: str
    unit_amount: Decimal = ZERO
    package_size: Decimal | None = None
    minimum_amount: Decimal | None = None
    tiers: tuple[Tier, ...] = field(default_factory=tuple)


def _sorted_tiers(tiers: Iterable[Tier]) -> tuple[Tier, ...]:
    return tuple(sorted(tiers, key=lambda t: (t.up_to is None, t.up_to or ZERO)))


def terms_of(price) -> PriceTerms:
    """Terms of a ``catalog.Price``; uses prefetched ``tiers`` and ``plan`` when present."""
    if isinstance(price, PriceTerms):
        return price
    tiers: tuple[Tier, ...] = ()
    if price.charge_model in (ChargeModel.GRADUATED, ChargeModel.VOLUME):
        tiers = _sorted_tiers(
            Tier(t.up_to, t.unit_amount, t.flat_amount) for t in price.tiers.all()
        )
    return PriceTerms(
        charge_model=price.charge_model,
        currency=price.plan.currency,
        unit_amount=price.unit_amount,
        package_size=price.package_size,
        minimum_amount=price.minimum_amount,
        tiers=tiers,
    )


def _quantity(quantity: object, *, allow_negative: bool) -> Decimal:
    if isinstance(quantity, bool) or not isinstance(quantity, Decimal | int):
        raise InvalidQuantity(
            f"quantity must be a Decimal or int, not {type(quantity).__name__}",
            quantity=repr(quantity),
        )
    value = Decimal(quantity)
    if not value.is_finite():
        raise InvalidQuantity(f"quantity {quantity} is not a finite number")
    if value < 0 and not allow_negative:
        raise InvalidQuantity(
            f"quantity {quantity} is negative; only adjustment lines may be negative",
            quantity=str(quantity),
        )
    return value


def _graduated(tiers: tuple[Tier, ...], q: Decimal) -> Decimal:
    total = ZERO
    lower = ZERO
    for tier in tiers:
        upper = tier.up_to
        top = q if upper is None or q < upper else upper
        portion = top - lower
        if portion > 0:
            total += portion * tier.unit_amount + tier.flat_amount
        if upper is None or q <= upper:
            return total
        lower = upper
    raise InvalidPrice("the last tier must be open-ended (no 'up to')")


def _volume(tiers: tuple[Tier, ...], q: Decimal) -> Decimal:
    if q == 0:
        return ZERO
    for tier in tiers:
        if tier.up_to is None or q <= tier.up_to:
            return q * tier.unit_amount + tier.flat_amount
    raise InvalidPrice("the last tier must be open-ended (no 'up to')")


def _package(terms: PriceTerms, q: Decimal) -> Decimal:
    size = terms.package_size
    if size is None or size <= 0:
        raise InvalidPrice("a package price needs a package size above 0")
    blocks, rest = divmod(q, size)
    if rest:
        blocks += 1
    return blocks * terms.unit_amount


def _rate(terms: PriceTerms, q: Decimal, *, with_minimum: bool) -> Decimal:
    model = terms.charge_model
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        if model in (ChargeModel.FLAT, ChargeModel.PER_UNIT):
            amount = q * terms.unit_amount
        elif model == ChargeModel.GRADUATED:
            amount = _graduated(terms.tiers, q)
        elif model == ChargeModel.VOLUME:
            amount = _volume(terms.tiers, q)
        elif model == ChargeModel.PACKAGE:
            amount = _package(terms, q)
        else:
            raise InvalidPrice(f"unknown charge model {model!r}")
        if with_minimum and terms.minimum_amount is not None and amount < terms.minimum_amount:
            amount = terms.minimum_amount
        return +amount


def rate(*, price, quantity: Decimal, allow_negative: bool = False) -> Decimal:
    """Exact amount in major units for ``quantity`` in one period, minimum applied."""
    terms = terms_of(price)
    q = _quantity(quantity, allow_negative=allow_negative)
    if q < 0:
        return -_rate(terms, -q, with_minimum=False)
    return _rate(terms, q, with_minimum=True)


def rate_minor(*, price, quantity: Decimal, allow_negative: bool = False) -> int:
    """``rate`` rounded once, half-up, to the currency's minor unit (JPY 0, EUR 2, KWD 3)."""
    terms = terms_of(price)
    amount = rate(price=terms, quantity=quantity, allow_negative=allow_negative)
    return Money.from_decimal(amount, terms.currency).minor


def rate_delta_minor(*, price, billed_quantity: Decimal, new_quantity: Decimal) -> int:
    """What to add (or credit, if negative) when a billed period's quantity changes.

    Rating both totals keeps tiers, blocks and the minimum right, and the billed line plus the
    adjustment always add up to exactly what the new total would have cost.
    """
    terms = terms_of(price)
    return rate_minor(price=terms, quantity=new_quantity) - rate_minor(
        price=terms, quantity=billed_quantity
    )
