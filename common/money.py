"""Money as integer minor units plus an ISO 4217 currency code.

Currency exponents and formatting come from Babel's CLDR data, never from a table of our own.
The one exception is Stripe's wire format, whose notion of "minor unit" is Stripe's own API
convention and differs from CLDR for a few currencies (see ``stripe_exponent``).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from fractions import Fraction
from functools import lru_cache

from babel import Locale
from babel.numbers import format_currency, get_currency_precision, list_currencies

from common.exceptions import PaydeskError

__all__ = [
    "CurrencyMismatch",
    "InvalidAmount",
    "Money",
    "UnknownCurrency",
    "exponent",
    "is_known_currency",
    "stripe_exponent",
]


class CurrencyMismatch(PaydeskError):
    code = "currency_mismatch"
    title = "The amounts are in different currencies."


class UnknownCurrency(PaydeskError):
    code = "unknown_currency"
    title = "The currency is not a known ISO 4217 code."


class InvalidAmount(PaydeskError):
    code = "invalid_amount"
    title = "The amount is not valid."


_CURRENCY_SHAPE = re.compile(r"[A-Z]{3}")
_BRAINTREE_AMOUNT = re.compile(r"-?\d+(?:\.\d+)?")

# Stripe's own API convention (https://docs.stripe.com/currencies). Every currency not listed
# is two-decimal *for Stripe*, even where CLDR says 0 (ISK, for one, is sent as whole krona * 100).
_STRIPE_ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA"}
    | {"PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
_STRIPE_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


@lru_cache(maxsize=1)
def _known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def is_known_currency(currency: object) -> bool:
    return (
        isinstance(currency, str)
        and _CURRENCY_SHAPE.fullmatch(currency) is not None
        and currency in _known_currencies()
    )


def _check_currency(currency: object) -> str:
    if not is_known_currency(currency):
        raise UnknownCurrency(
            f"{currency!r} is not a known ISO 4217 currency code "
            "(three upper-case letters, e.g. 'EUR')",
            currency=currency if isinstance(currency, str) else repr(currency),
        )
    return currency  # type: ignore[return-value]


@lru_cache(maxsize=512)
def exponent(currency: str) -> int:
    """Number of decimal places of the currency's minor unit per CLDR (JPY 0, EUR 2, KWD 3)."""
    return get_currency_precision(_check_currency(currency))


@lru_cache(maxsize=512)
def stripe_exponent(currency: str) -> int:
    _check_currency(currency)
    if currency in _STRIPE_ZERO_DECIMAL:
        return 0
    if currency in _STRIPE_THREE_DECIMAL:
        return 3
    return 2


def _to_decimal_input(amount: object) -> Decimal:
    # bool is an int subclass and float has no exact decimal value: both are refused.
    if isinstance(amount, bool | float):
        raise InvalidAmount(f"amount must be a Decimal, str or int, not {type(amount).__name__}")
    if isinstance(amount, Decimal):
        value = amount
    elif isinstance(amount, int):
        value = Decimal(amount)
    elif isinstance(amount, str):
        try:
            value = Decimal(amount.strip())
        except InvalidOperation:
            raise InvalidAmount(f"{amount!r} is not a decimal number") from None
    else:
        raise InvalidAmount(f"amount must be a Decimal, str or int, not {type(amount).__name__}")
    if not value.is_finite():
        raise InvalidAmount(f"{amount!r} is not a finite amount")
    return value


def _shifted(value: Decimal, places: int) -> Decimal:
    """``value * 10**places`` without any loss of digits."""
    with localcontext() as ctx:
        ctx.prec = max(28, len(value.as_tuple().digits) + places + 2)
        return value.scaleb(places)


def _to_minor(value: Decimal, places: int, rounding: str) -> int:
    with localcontext() as ctx:
        ctx.prec = max(28, len(value.as_tuple().digits) + places + 2)
        return int(_shifted(value, places).to_integral_value(rounding=rounding))


def _ratio(value: object) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise InvalidAmount(f"allocation ratios must be int or Decimal, not {type(value).__name__}")
    if isinstance(value, Decimal) and not value.is_finite():
        raise InvalidAmount(f"allocation ratio {value!r} is not finite")
    ratio = Fraction(value)
    if ratio < 0:
        raise InvalidAmount(f"allocation ratio {value} is negative")
    return ratio


@dataclass(frozen=True, slots=True)
class Money:
    minor: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.minor) is not int:
            raise InvalidAmount(
                f"minor must be an int, not {type(self.minor).__name__}",
                minor=repr(self.minor),
            )
        _check_currency(self.currency)

    # --- construction -------------------------------------------------------------------

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def from_decimal(
        cls, amount: Decimal | str | int, currency: str, *, rounding: str = ROUND_HALF_UP
    ) -> Money:
        value = _to_decimal_input(amount)
        return cls(_to_minor(value, exponent(currency), rounding), currency)

    @classmethod
    def from_decimal_exact(cls, amount: Decimal | str | int, currency: str) -> Money:
        """Like ``from_decimal`` but refuses any amount that would need rounding.

        Trailing zeros are not a loss ("12.300" EUR is 1230 cents); "12.345" EUR is refused.
        """
        value = _to_decimal_input(amount)
        places = exponent(currency)
        shifted = _shifted(value, places)
        if shifted != shifted.to_integral_value():
            raise InvalidAmount(
                f"{amount} has more than {places} decimal places allowed for {currency}",
                currency=currency,
            )
        return cls(int(shifted), currency)

    @classmethod
    def from_stripe(cls, amount: int, currency: str) -> Money:
        """From Stripe's integer amount; Stripe sends currency codes in lower case."""
        if type(amount) is not int:
            raise InvalidAmount(f"Stripe amount must be an int, not {type(amount).__name__}")
        code = currency.upper() if isinstance(currency, str) else currency
        shift = exponent(code) - stripe_exponent(code)
        if shift >= 0:
            return cls(amount * 10**shift, code)
        minor, rest = divmod(amount, 10**-shift)
        if rest:
            raise InvalidAmount(
                f"Stripe amount {amount} has a fraction finer than the {code} minor unit",
                currency=code,
            )
        return cls(minor, code)

    @classmethod
    def from_braintree(cls, amount: str, currency: str) -> Money:
        if not isinstance(amount, str) or not _BRAINTREE_AMOUNT.fullmatch(amount.strip()):
            raise InvalidAmount(f"{amount!r} is not a Braintree decimal amount string")
        return cls.from_decimal_exact(amount.strip(), currency)

    # --- conversion ---------------------------------------------------------------------

    @property
    def exponent(self) -> int:
        return exponent(self.currency)

    def to_decimal(self) -> Decimal:
        """The exact amount with exactly ``exponent`` decimal places (1230 EUR -> 12.30)."""
        digits = tuple(int(d) for d in str(abs(self.minor)))
        return Decimal((1 if self.minor < 0 else 0, digits, -self.exponent))

    def to_stripe(self) -> int:
        """Integer amount in Stripe's unit for the currency (which is not always CLDR's)."""
        shift = stripe_exponent(self.currency) - self.exponent
        if shift >= 0:
            return self.minor * 10**shift
        # No currency Stripe supports has a finer CLDR unit than Stripe's; refuse rather than
        # silently round if CLDR ever changes.
        value, rest = divmod(self.minor, 10**-shift)
        if rest:
            raise InvalidAmount(f"{self} cannot be expressed in Stripe's unit for {self.currency}")
        return value

    def to_braintree(self) -> str:
        """Decimal string with the currency's places: "12.30", "1000" for JPY."""
        return str(self.to_decimal())

    def format(self, locale: str = "en_US") -> str:
        """Localised display string from CLDR, e.g. "1.234,56\\xa0€" for de_DE.

        Babel's separators are kept as they are, including the non-breaking space (U+00A0)
        between amount and symbol, so an amount never wraps away from its currency.
        """
        return format_currency(
            self.to_decimal(), self.currency, locale=_locale(locale), currency_digits=True
        )

    def __str__(self) -> str:
        return f"{self.to_decimal()} {self.currency}"

    # --- predicates ---------------------------------------------------------------------

    def is_zero(self) -> bool:
        return self.minor == 0

    def is_positive(self) -> bool:
        return self.minor > 0

    def is_negative(self) -> bool:
        return self.minor < 0

    # --- arithmetic ---------------------------------------------------------------------

    def _same_currency(self, other: Money, op: str) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatch(
                f"cannot {op} {self.currency} and {other.currency} amounts",
                currencies=[self.currency, other.currency],
            )

    def __add__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "add")
        return Money(self.minor + other.minor, self.currency)

    def __radd__(self, other: object) -> Money:
        # sum() starts from the int 0.
        if type(other) is int and other == 0:
            return self
        return NotImplemented

    def __sub__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "subtract")
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __pos__(self) -> Money:
        return self

    def __abs__(self) -> Money:
        return Money(abs(self.minor), self.currency)

    def __mul__(self, factor: object) -> Money:
        if isinstance(factor, bool | float):
            raise InvalidAmount(f"cannot multiply money by {type(factor).__name__}")
        if isinstance(factor, int):
            return Money(self.minor * factor, self.currency)
        if isinstance(factor, Decimal):
            if not factor.is_finite():
                raise InvalidAmount(f"cannot multiply money by {factor}")
            product = Fraction(self.minor) * Fraction(factor)
            return Money(_round_half_up(product), self.currency)
        return NotImplemented

    __rmul__ = __mul__

    def _compare(self, other: object, op: Callable[[int, int], bool]) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "compare")
        return op(self.minor, other.minor)

    def __lt__(self, other: object) -> bool:
        return self._compare(other, operator.lt)

    def __le__(self, other: object) -> bool:
        return self._compare(other, operator.le)

    def __gt__(self, other: object) -> bool:
        return self._compare(other, operator.gt)

    def __ge__(self, other: object) -> bool:
        return self._compare(other, operator.ge)

    # --- allocation ---------------------------------------------------------------------

    def allocate(self, ratios: Sequence[int | Decimal]) -> list[Money]:
        """Split into parts proportional to ``ratios`` that add up exactly to this amount.

        Largest remainder: every part gets the floor of its exact share, then the minor units
        left over go one each to the largest fractional remainders, earlier index first on a
        tie. A negative amount is split like its absolute value, then negated, so that
        ``(-m).allocate(r) == [-p for p in m.allocate(r)]``.
        """
        weights = [_ratio(r) for r in ratios]
        total_weight = sum(weights, Fraction(0))
        if not weights or total_weight == 0:
            raise InvalidAmount("allocation needs at least one positive ratio")
        magnitude = abs(self.minor)
        shares = [magnitude * w / total_weight for w in weights]
        parts = [s.numerator // s.denominator for s in shares]
        leftover = magnitude - sum(parts)
        by_remainder = sorted(range(len(shares)), key=lambda i: (-(shares[i] - parts[i]), i))
        for i in by_remainder[:leftover]:
            parts[i] += 1
        sign = -1 if self.minor < 0 else 1
        return [Money(sign * p, self.currency) for p in parts]


def _round_half_up(value: Fraction) -> int:
    magnitude = abs(value)
    whole, rest = divmod(magnitude.numerator, magnitude.denominator)
    if 2 * rest >= magnitude.denominator:
        whole += 1
    return whole if value >= 0 else -whole


@lru_cache(maxsize=64)
def _locale(name: str) -> Locale:
    # Parsing the locale identifier dominates formatting in long lists; parse each once.
    return Locale.parse(name.replace("-", "_"))
