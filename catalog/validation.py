"""Checks a price must pass before it is saved, shared by services and admin forms."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from catalog.choices import TIERED_MODELS, USAGE_MODELS, ChargeModel, Timing
from catalog.exceptions import InvalidPrice
from catalog.rating import Tier

_MAX_DIGITS = 30
_MAX_PLACES = 12


def _decimal_problem(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        return "must be a decimal number"
    value = Decimal(value)
    if not value.is_finite():
        return "must be a finite number"
    if value < 0:
        return "must not be negative"
    sign, digits, exp = value.normalize().as_tuple()
    places = max(0, -exp)
    whole = max(0, len(digits) + exp)
    if places > _MAX_PLACES:
        return f"has more than {_MAX_PLACES} decimal places"
    if whole > _MAX_DIGITS - _MAX_PLACES:
        return "is too large"
    return None


def price_problems(
    *,
    charge_model: str,
    timing: str,
    unit_amount: Decimal | None,
    package_size: Decimal | None,
    minimum_amount: Decimal | None,
    tiers: Sequence[Tier] | None,
) -> dict[str, list[str]]:
    """Every problem found, by field ("tiers" for the tier list). ``tiers=None`` skips tiers."""
    problems: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        problems.setdefault(name, []).append(message)

    if charge_model not in ChargeModel.values:
        add("charge_model", f"unknown charge model {charge_model!r}")
        return problems
    if timing not in Timing.values:
        add("timing", f"unknown timing {timing!r}")
    elif charge_model in USAGE_MODELS and timing != Timing.IN_ARREARS:
        add("timing", "usage is billed in arrears: only a flat fee may be billed in advance")

    if unit_amount is None:
        add("unit_amount", "is required (0 for tiered prices)")
    elif problem := _decimal_problem(unit_amount):
        add("unit_amount", problem)
    elif charge_model in TIERED_MODELS and unit_amount != 0:
        add("unit_amount", "is not used by tiered prices: set the unit amounts on the tiers")

    if charge_model == ChargeModel.PACKAGE:
        if package_size is None:
            add("package_size", "a package price needs the number of units per block")
        elif problem := _decimal_problem(package_size):
            add("package_size", problem)
        elif package_size <= 0:
            add("package_size", "must be above 0")
    elif package_size is not None:
        add("package_size", "only package prices have a package size")

    if minimum_amount is not None and (problem := _decimal_problem(minimum_amount)):
        add("minimum_amount", problem)

    if tiers is not None:
        for message in tier_problems(charge_model=charge_model, tiers=tiers):
            add("tiers", message)
    return problems


def tier_problems(*, charge_model: str, tiers: Sequence[Tier]) -> list[str]:
    if charge_model not in TIERED_MODELS:
        return ["only graduated and volume prices have tiers"] if tiers else []
    if not tiers:
        return ["a tiered price needs at least one tier; the last has no 'up to'"]
    messages = []
    previous: Decimal | None = None
    for number, tier in enumerate(tiers, start=1):
        last = number == len(tiers)
        for name, value in (("unit amount", tier.unit_amount), ("flat amount", tier.flat_amount)):
            if problem := _decimal_problem(value):
                messages.append(f"tier {number}: {name} {problem}")
        if tier.up_to is None:
            if not last:
                messages.append(f"tier {number}: only the last tier may be open-ended")
            continue
        if last:
            messages.append(f"tier {number}: the last tier must be open-ended (no 'up to')")
        if problem := _decimal_problem(tier.up_to):
            messages.append(f"tier {number}: 'up to' {problem}")
        elif tier.up_to <= 0:
            messages.append(f"tier {number}: 'up to' must be above 0")
        elif previous is not None and tier.up_to <= previous:
            messages.append(
                f"tier {number}: 'up to' {tier.up_to} must be above the previous tier's {previous}"
            )
        else:
            previous = tier.up_to
    return messages


def price_validate(**terms) -> None:
    """Raise ``InvalidPrice`` listing every problem, or return quietly."""
    problems = price_problems(**terms)
    if problems:
        detail = "; ".join(f"{name}: {', '.join(msgs)}" for name, msgs in problems.items())
        raise InvalidPrice(detail, errors=problems)
