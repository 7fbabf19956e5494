"""Each charge model against amounts worked out by hand, tier boundaries included."""

from decimal import Decimal

import pytest

from catalog.choices import ChargeModel as CM
from catalog.exceptions import InvalidQuantity
from catalog.rating import PriceTerms, Tier, rate, rate_delta_minor, rate_minor, terms_of

D = Decimal

# Tier 1: up to 100 at 1.00 + 10 flat; tier 2: up to 200 at 0.50 + 5 flat; then 0.25.
TIERS = (Tier(D(100), D("1.00"), D(10)), Tier(D(200), D("0.50"), D(5)), Tier(None, D("0.25")))
GRADUATED = PriceTerms(charge_model=CM.GRADUATED, currency="EUR", tiers=TIERS)
VOLUME = PriceTerms(charge_model=CM.VOLUME, currency="EUR", tiers=TIERS)
PACKAGE = PriceTerms(charge_model=CM.PACKAGE, currency="EUR", unit_amount=D(5), package_size=D(100))


def per_unit(unit: str, currency: str = "EUR", minimum: str | None = None) -> PriceTerms:
    return PriceTerms(
        charge_model=CM.PER_UNIT,
        currency=currency,
        unit_amount=D(unit),
        minimum_amount=None if minimum is None else D(minimum),
    )


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("0", "0"),  # no tier reached: no flat amount either
        ("0.5", "10.5"),  # 0.5 × 1.00 + 10
        ("100", "110"),  # exactly at up_to: all in tier 1
        ("100.5", "115.25"),  # 110 + 0.5 × 0.50 + 5
        ("101", "115.5"),
        ("200", "165"),  # 110 + 100 × 0.50 + 5
        ("250", "177.5"),  # 165 + 50 × 0.25 (the last tier has no flat amount)
    ],
)
def test_graduated(quantity, expected):
    assert rate(price=GRADUATED, quantity=D(quantity)) == D(expected)


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("0", "0"),
        ("1", "11"),  # 1 × 1.00 + 10
        ("100", "110"),  # exactly at up_to: tier 1 for all 100
        ("100.5", "55.25"),  # all 100.5 at 0.50, + 5
        ("200", "105"),
        ("201", "50.25"),  # all 201 at 0.25: crossing a volume boundary can lower the price
    ],
)
def test_volume(quantity, expected):
    assert rate(price=VOLUME, quantity=D(quantity)) == D(expected)


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("0", "0"),
        ("1", "5"),  # a partial block is a whole block
        ("100", "5"),
        ("100.000000000001", "10"),
        ("250", "15"),
        ("300", "15"),
    ],
)
def test_package(quantity, expected):
    assert rate(price=PACKAGE, quantity=D(quantity)) == D(expected)


def test_per_unit_with_fractional_quantity():
    assert rate(price=per_unit("0.0002"), quantity=D("12.5")) == D("0.0025")


def test_flat_fee_is_per_seat():
    flat = PriceTerms(charge_model=CM.FLAT, currency="EUR", unit_amount=D("49"))
    assert rate(price=flat, quantity=D(1)) == D(49)
    assert rate(price=flat, quantity=D(3)) == D(147)


@pytest.mark.parametrize(
    ("quantity", "expected"), [("0", "6000"), ("1000", "6000"), ("200000", "12000")]
)
def test_minimum_is_a_commitment_even_without_usage(quantity, expected):
    committed = per_unit("0.06", minimum="6000")
    assert rate(price=committed, quantity=D(quantity)) == D(expected)


@pytest.mark.parametrize(
    ("currency", "unit", "quantity", "minor"),
    [
        ("EUR", "0.005", "1", 1),  # exactly half a cent rounds up
        ("EUR", "0.0049", "1", 0),
        ("JPY", "0.5", "1", 1),  # JPY has no minor unit: half a yen rounds up
        ("JPY", "0.49", "1", 0),
        ("JPY", "19.2", "3", 58),  # 57.6 yen
        ("KWD", "0.0005", "1", 1),  # KWD has three places: half a fils rounds up
        ("KWD", "0.0004", "1", 0),
        ("KWD", "1.2345", "1", 1235),
        ("EUR", "0.0002", "12.5", 0),  # 0.0025 EUR
        ("EUR", "0.0002", "25", 1),  # 0.005 EUR
    ],
)
def test_rate_minor_rounds_once_half_up(currency, unit, quantity, minor):
    assert rate_minor(price=per_unit(unit, currency), quantity=D(quantity)) == minor


def test_rounding_happens_once_not_per_tier():
    # Each tier alone would round 0.004 EUR down to 0; together they are 0.008 -> 1 cent.
    terms = PriceTerms(
        charge_model=CM.GRADUATED,
        currency="EUR",
        tiers=(Tier(D(1), D("0.004")), Tier(None, D("0.004"))),
    )
    assert rate_minor(price=terms, quantity=D(2)) == 1


@pytest.mark.parametrize("bad", [D(-1), D("-0.000001"), -1])
def test_negative_quantity_is_refused(bad):
    with pytest.raises(InvalidQuantity) as exc:
        rate(price=per_unit("1"), quantity=bad)
    assert exc.value.code == "invalid_quantity"


@pytest.mark.parametrize("bad", [1.5, True, "3", D("NaN"), D("Infinity"), None])
def test_non_decimal_quantity_is_refused(bad):
    with pytest.raises(InvalidQuantity):
        rate_minor(price=per_unit("1"), quantity=bad)


def test_negative_adjustment_is_rated_as_its_absolute_value_negated_without_minimum():
    committed = per_unit("0.5", minimum="100")
    assert rate(price=committed, quantity=D(-3), allow_negative=True) == D("-1.5")
    assert rate_minor(price=per_unit("0.005"), quantity=D(-1), allow_negative=True) == -1


def test_delta_for_a_changed_tiered_quantity_rates_both_totals():
    # Billed 100 (110.00); 101 costs 115.50: the extra hour also crosses into tier 2's flat fee.
    assert rate_delta_minor(price=GRADUATED, billed_quantity=D(100), new_quantity=D(101)) == 550
    assert rate_delta_minor(price=GRADUATED, billed_quantity=D(100), new_quantity=D(99)) == -100
    assert rate_delta_minor(price=VOLUME, billed_quantity=D(200), new_quantity=D(201)) == -5475


def test_large_quantities_lose_no_digits():
    # 30 significant digits: Python's default 28-digit context would round this product.
    big = D("999999999999999999.999999999999")
    exact = D("999999.999999999999999999999999")
    assert rate(price=per_unit("0.000000000001"), quantity=big) == exact


def test_terms_are_read_from_a_saved_price_with_its_tiers_in_order(make_plan):
    plan = make_plan("TEAM-EUR")
    price = plan.prices.get(code="cluster_hours")
    terms = terms_of(price)
    assert terms.currency == "EUR"
    assert [t.up_to for t in terms.tiers] == [D(100), None]
    # 100 × 0.12 + 50 × 0.10
    assert rate_minor(price=price, quantity=D(150)) == 1700
    assert rate_minor(price=plan.prices.get(code="base"), quantity=D(1)) == 4900
