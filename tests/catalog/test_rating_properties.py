"""Rating against independent computations, for random tiers and quantities."""

from bisect import bisect_left
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.choices import ChargeModel as CM
from catalog.rating import PriceTerms, Tier, rate, rate_delta_minor, rate_minor

D = Decimal

amounts = st.decimals(min_value=0, max_value=50, places=4, allow_nan=False, allow_infinity=False)
bounds = st.lists(st.integers(min_value=1, max_value=300), min_size=0, max_size=4, unique=True)


@st.composite
def tier_lists(draw):
    ups = sorted(draw(bounds))
    tiers = [Tier(D(u), draw(amounts), draw(amounts)) for u in ups]
    tiers.append(Tier(None, draw(amounts), draw(amounts)))
    return tuple(tiers)


def graduated_by_units(tiers, q: int) -> Decimal:
    """Unit by unit: each unit costs the price of the tier it lands in; a tier's flat amount
    is charged once when at least one unit lands in it."""
    ups = [t.up_to for t in tiers[:-1]]
    total = D(0)
    reached = set()
    for unit in range(1, q + 1):
        index = bisect_left(ups, unit)  # first tier whose up_to >= unit
        total += tiers[index].unit_amount
        reached.add(index)
    return total + sum((tiers[i].flat_amount for i in reached), D(0))


@settings(max_examples=200)
@given(tiers=tier_lists(), q=st.integers(min_value=0, max_value=700))
def test_graduated_equals_unit_by_unit_sum(tiers, q):
    terms = PriceTerms(charge_model=CM.GRADUATED, currency="EUR", tiers=tiers)
    assert rate(price=terms, quantity=D(q)) == graduated_by_units(tiers, q)


quantities = st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False)


@given(tiers=tier_lists(), a=quantities, b=quantities)
def test_graduated_never_decreases_with_more_usage(tiers, a, b):
    terms = PriceTerms(charge_model=CM.GRADUATED, currency="EUR", tiers=tiers)
    low, high = sorted((a, b))
    assert rate(price=terms, quantity=low) <= rate(price=terms, quantity=high)


@given(tiers=tier_lists(), q=quantities)
def test_volume_prices_the_whole_quantity_at_the_tier_it_falls_into(tiers, q):
    terms = PriceTerms(charge_model=CM.VOLUME, currency="EUR", tiers=tiers)
    ups = [t.up_to for t in tiers[:-1]]
    tier = tiers[bisect_left(ups, q)]
    expected = D(0) if q == 0 else q * tier.unit_amount + tier.flat_amount
    assert rate(price=terms, quantity=q) == expected


@given(tiers=tier_lists(), data=st.data())
def test_volume_boundary_belongs_to_the_lower_tier(tiers, data):
    if len(tiers) < 2:
        return
    i = data.draw(st.integers(min_value=0, max_value=len(tiers) - 2))
    bound = tiers[i].up_to
    terms = PriceTerms(charge_model=CM.VOLUME, currency="EUR", tiers=tiers)
    assert rate(price=terms, quantity=bound) == bound * tiers[i].unit_amount + tiers[i].flat_amount
    above = bound + D("0.001")
    nxt = tiers[i + 1]
    assert rate(price=terms, quantity=above) == above * nxt.unit_amount + nxt.flat_amount


@given(
    size=st.decimals(min_value=D("0.5"), max_value=500, places=2),
    unit=amounts,
    q=quantities,
)
def test_package_bills_the_smallest_number_of_whole_blocks_that_covers_the_quantity(size, unit, q):
    terms = PriceTerms(charge_model=CM.PACKAGE, currency="EUR", unit_amount=unit, package_size=size)
    blocks = Fraction(q) / Fraction(size)
    whole = blocks.numerator // blocks.denominator + (1 if blocks.denominator != 1 else 0)
    assert rate(price=terms, quantity=q) == whole * unit
    assert whole * size >= q > (whole - 1) * size


currencies = st.sampled_from(["EUR", "USD", "JPY", "KWD", "CHF"])
EXPONENT = {"EUR": 2, "USD": 2, "JPY": 0, "KWD": 3, "CHF": 2}


@given(tiers=tier_lists(), q=quantities, currency=currencies, minimum=st.none() | amounts)
def test_rate_minor_is_rate_rounded_half_up_once(tiers, q, currency, minimum):
    terms = PriceTerms(
        charge_model=CM.GRADUATED, currency=currency, tiers=tiers, minimum_amount=minimum
    )
    exact = rate(price=terms, quantity=q)
    if minimum is not None:
        assert exact >= minimum
    # Half-up on the exact rational value, computed without Decimal contexts.
    scaled = Fraction(exact) * 10 ** EXPONENT[currency]
    expected = int((scaled + Fraction(1, 2)).__floor__())
    assert rate_minor(price=terms, quantity=q) == expected
    shifted = exact.scaleb(EXPONENT[currency]).quantize(D(1), rounding=ROUND_HALF_UP)
    assert expected == int(shifted)


@given(
    tiers=tier_lists(),
    billed=quantities,
    new=quantities,
    model=st.sampled_from([CM.GRADUATED, CM.VOLUME]),
)
def test_billed_amount_plus_adjustment_is_what_the_new_total_costs(tiers, billed, new, model):
    terms = PriceTerms(charge_model=model, currency="EUR", tiers=tiers)
    delta = rate_delta_minor(price=terms, billed_quantity=billed, new_quantity=new)
    assert rate_minor(price=terms, quantity=billed) + delta == rate_minor(price=terms, quantity=new)
