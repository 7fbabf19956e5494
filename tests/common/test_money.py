from decimal import ROUND_DOWN, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.exceptions import PaydeskError
from common.money import (
    CurrencyMismatch,
    InvalidAmount,
    Money,
    UnknownCurrency,
    exponent,
    stripe_exponent,
)

CURRENCIES = ["JPY", "EUR", "KWD"]

currencies = st.sampled_from(CURRENCIES)
minors = st.integers(min_value=-(10**15), max_value=10**15)
ratio_lists = st.lists(
    st.one_of(
        st.integers(min_value=0, max_value=1000),
        st.decimals(min_value=0, max_value=100, places=3, allow_nan=False, allow_infinity=False),
    ),
    min_size=1,
    max_size=12,
).filter(lambda ratios: sum(ratios) > 0)


# --- construction and validation --------------------------------------------------------


def test_exponents_come_from_cldr():
    assert (exponent("JPY"), exponent("EUR"), exponent("KWD")) == (0, 2, 3)


@pytest.mark.parametrize("code", ["XYZ", "eur", "", "EURO", "E1R", None, 978])
def test_unknown_currency_is_refused_with_its_code_named(code):
    with pytest.raises(UnknownCurrency) as excinfo:
        Money(100, code)
    assert excinfo.value.code == "unknown_currency"
    assert repr(code) in str(excinfo.value)


def test_money_errors_are_domain_errors_with_stable_codes():
    assert issubclass(CurrencyMismatch, PaydeskError)
    assert (CurrencyMismatch.code, UnknownCurrency.code, InvalidAmount.code) == (
        "currency_mismatch",
        "unknown_currency",
        "invalid_amount",
    )


@pytest.mark.parametrize("minor", [1.0, Decimal("1"), True, "100", None])
def test_minor_must_be_a_plain_int(minor):
    with pytest.raises(InvalidAmount):
        Money(minor, "EUR")


@pytest.mark.parametrize("build", [Money.from_decimal, Money.from_decimal_exact])
def test_float_amounts_are_refused(build):
    with pytest.raises(InvalidAmount):
        build(0.1, "EUR")


@pytest.mark.parametrize("amount", ["abc", "NaN", "Infinity", "", True])
def test_non_numeric_amounts_are_refused(amount):
    with pytest.raises(InvalidAmount):
        Money.from_decimal(amount, "EUR")


def test_money_is_immutable():
    m = Money(100, "EUR")
    with pytest.raises(AttributeError):
        m.minor = 5


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("12.345", "EUR", 1235),
        ("-12.345", "EUR", -1235),
        ("12.344", "EUR", 1234),
        ("1234.5", "JPY", 1235),
        ("1.2345", "KWD", 1235),
        (7, "EUR", 700),
        (Decimal("0.005"), "EUR", 1),
    ],
)
def test_from_decimal_rounds_half_up(amount, currency, minor):
    assert Money.from_decimal(amount, currency) == Money(minor, currency)


def test_from_decimal_honours_rounding_mode():
    assert Money.from_decimal("12.349", "EUR", rounding=ROUND_DOWN) == Money(1234, "EUR")


def test_from_decimal_exact_refuses_values_that_need_rounding():
    with pytest.raises(InvalidAmount):
        Money.from_decimal_exact("12.345", "EUR")
    with pytest.raises(InvalidAmount):
        Money.from_decimal_exact("1.5", "JPY")
    assert Money.from_decimal_exact("12.300", "EUR") == Money(1230, "EUR")
    assert Money.from_decimal_exact("1.234", "KWD") == Money(1234, "KWD")


def test_large_amounts_keep_every_digit():
    big = "123456789012345678901234567890.12"
    assert str(Money.from_decimal_exact(big, "EUR").to_decimal()) == big


def test_zero():
    assert Money.zero("JPY") == Money(0, "JPY")
    assert Money.zero("JPY").is_zero()


@given(minor=minors, currency=currencies)
def test_decimal_round_trip_is_exact(minor, currency):
    money = Money(minor, currency)
    as_decimal = money.to_decimal()
    assert as_decimal.as_tuple().exponent == -exponent(currency)
    assert Money.from_decimal_exact(as_decimal, currency) == money
    assert Money.from_decimal(as_decimal, currency) == money
    assert Money.from_decimal(str(as_decimal), currency) == money


# --- arithmetic ---------------------------------------------------------------------------


def test_same_currency_arithmetic():
    a, b = Money(1230, "EUR"), Money(70, "EUR")
    assert a + b == Money(1300, "EUR")
    assert a - b == Money(1160, "EUR")
    assert b - a == Money(-1160, "EUR")
    assert -a == Money(-1230, "EUR")
    assert abs(Money(-5, "EUR")) == Money(5, "EUR")
    assert a * 3 == 3 * a == Money(3690, "EUR")
    assert sum([a, b, b]) == Money(1370, "EUR")
    assert sum([], Money.zero("EUR")) == Money(0, "EUR")


@pytest.mark.parametrize(
    ("minor", "factor", "expected"),
    [
        (1000, Decimal("0.19"), 190),
        (5, Decimal("0.5"), 3),
        (-5, Decimal("0.5"), -3),
        (5, Decimal("0.49"), 2),
        (333, Decimal("-1.5"), -500),
    ],
)
def test_multiplying_by_decimal_rounds_half_up(minor, factor, expected):
    assert Money(minor, "EUR") * factor == Money(expected, "EUR")


def test_multiplying_by_float_is_refused():
    with pytest.raises(InvalidAmount):
        Money(100, "EUR") * 1.5


def test_adding_a_plain_number_is_a_type_error():
    with pytest.raises(TypeError):
        Money(100, "EUR") + 1


def test_comparisons_and_predicates():
    small, big = Money(1, "EUR"), Money(2, "EUR")
    assert small < big and small <= big and big > small and big >= small
    assert small <= Money(1, "EUR") >= small
    assert sorted([big, small]) == [small, big]
    assert Money(0, "EUR").is_zero() and not Money(0, "EUR").is_positive()
    assert Money(3, "EUR").is_positive() and Money(-3, "EUR").is_negative()


@pytest.mark.parametrize(
    "operation",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
        lambda a, b: sum([a, b]),
    ],
)
def test_mixing_currencies_raises(operation):
    with pytest.raises(CurrencyMismatch) as excinfo:
        operation(Money(100, "EUR"), Money(1, "USD"))
    assert "EUR" in str(excinfo.value) and "USD" in str(excinfo.value)


def test_equal_minor_in_other_currency_is_not_equal():
    assert Money(100, "EUR") != Money(100, "USD")


# --- allocation ---------------------------------------------------------------------------


@given(minor=minors, currency=currencies, ratios=ratio_lists)
def test_allocation_is_exact_and_fair(minor, currency, ratios):
    total = Money(minor, currency)
    parts = total.allocate(ratios)

    assert len(parts) == len(ratios)
    assert all(p.currency == currency for p in parts)
    assert sum(p.minor for p in parts) == minor
    weight = sum(Fraction(r) for r in ratios)
    for part, ratio in zip(parts, ratios, strict=True):
        exact_share = Fraction(minor) * Fraction(ratio) / weight
        assert abs(part.minor - exact_share) < 1


@given(minor=minors, ratios=ratio_lists)
def test_negative_amounts_allocate_symmetrically(minor, ratios):
    assert Money(-minor, "EUR").allocate(ratios) == [
        -p for p in Money(minor, "EUR").allocate(ratios)
    ]


def test_allocation_ties_go_to_the_earliest_index():
    assert [p.minor for p in Money(100, "EUR").allocate([1, 1, 1])] == [34, 33, 33]
    assert [p.minor for p in Money(5, "EUR").allocate([1, 1, 1, 1])] == [2, 1, 1, 1]
    assert [p.minor for p in Money(-100, "EUR").allocate([1, 1, 1])] == [-34, -33, -33]


def test_allocation_gives_leftover_to_largest_remainder():
    # Exact shares 3.3, 6.6 and 0.1: the unit left over goes to the 0.6 remainder.
    assert [p.minor for p in Money(10, "EUR").allocate([33, 66, 1])] == [3, 7, 0]


def test_allocation_with_decimal_ratios():
    parts = Money(1000, "EUR").allocate([Decimal("0.19"), Decimal("0.81")])
    assert [p.minor for p in parts] == [190, 810]


@pytest.mark.parametrize("ratios", [[], [0, 0], [1, -1], [1.5, 1], [True, 1], [Decimal("NaN")]])
def test_allocation_refuses_bad_ratios(ratios):
    with pytest.raises(InvalidAmount):
        Money(100, "EUR").allocate(ratios)


# --- PSP formats --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("money", "braintree"),
    [
        (Money(1230, "EUR"), "12.30"),
        (Money(5, "EUR"), "0.05"),
        (Money(1000, "JPY"), "1000"),
        (Money(1234, "KWD"), "1.234"),
        (Money(-1230, "EUR"), "-12.30"),
    ],
)
def test_braintree_format(money, braintree):
    assert money.to_braintree() == braintree
    assert Money.from_braintree(braintree, money.currency) == money


@pytest.mark.parametrize("text", ["12.345", "1e3", "12,30", " ", "0x10", "12."])
def test_braintree_refuses_malformed_or_too_precise_strings(text):
    with pytest.raises(InvalidAmount):
        Money.from_braintree(text, "EUR")


@given(minor=minors, currency=currencies)
def test_psp_formats_round_trip(minor, currency):
    money = Money(minor, currency)
    assert Money.from_braintree(money.to_braintree(), currency) == money
    assert Money.from_stripe(money.to_stripe(), currency.lower()) == money


def test_stripe_uses_minor_units_of_cldr_currencies():
    assert Money(1230, "EUR").to_stripe() == 1230
    assert Money(500, "JPY").to_stripe() == 500
    assert Money(5120, "KWD").to_stripe() == 5120
    assert Money.from_stripe(500, "jpy") == Money(500, "JPY")


def test_stripe_treats_isk_as_two_decimal_unlike_cldr():
    # CLDR gives ISK no minor unit, Stripe's API still expects 5 ISK as 500.
    assert exponent("ISK") == 0 and stripe_exponent("ISK") == 2
    assert Money(5, "ISK").to_stripe() == 500
    assert Money.from_stripe(500, "isk") == Money(5, "ISK")
    with pytest.raises(InvalidAmount):
        Money.from_stripe(550, "isk")


def test_stripe_amount_must_be_int():
    with pytest.raises(InvalidAmount):
        Money.from_stripe("100", "eur")


# --- display ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("money", "locale", "text"),
    [
        (Money(123456, "EUR"), "de_DE", "1.234,56\xa0€"),
        (Money(123456, "EUR"), "de-DE", "1.234,56\xa0€"),
        (Money(123456, "EUR"), "en_US", "€1,234.56"),
        (Money(-123456, "EUR"), "en_US", "-€1,234.56"),
        (Money(1235, "JPY"), "en_US", "¥1,235"),
        (Money(1235, "JPY"), "de_DE", "1.235\xa0¥"),
        (Money(1234, "KWD"), "de_DE", "1,234\xa0KWD"),
        (Money(1234567, "KWD"), "en_US", "KWD1,234.567"),
    ],
)
def test_format_uses_cldr_for_the_locale(money, locale, text):
    assert money.format(locale) == text


def test_format_defaults_to_en_us():
    assert Money(5, "EUR").format() == "€0.05"


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(1230, "EUR"), "12.30 EUR"),
        (Money(-5, "EUR"), "-0.05 EUR"),
        (Money(1000, "JPY"), "1000 JPY"),
        (Money(1, "KWD"), "0.001 KWD"),
    ],
)
def test_str(money, text):
    assert str(money) == text
