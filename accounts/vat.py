"""VAT ids: format and check digits via python-stdnum; countries from Babel's CLDR data."""

from __future__ import annotations

import re
from functools import lru_cache

import stdnum
from babel import Locale
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)

from accounts.exceptions import InvalidVatId, UnknownCountry, field_error

# EU member states (ISO 3166-1). Greece's VAT prefix is "EL", not "GR".
EU_COUNTRIES = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
)
_VAT_PREFIX = {"GR": "EL"}
_CLEAN = re.compile(r"[\s.\-/:,]")
# CLDR territories that are not countries one can be billed in.
_NOT_COUNTRIES = frozenset("AC CP CQ DG EA EU EZ IC QO TA UN XA XB ZZ".split())


@lru_cache(maxsize=1)
def _countries() -> frozenset[str]:
    return frozenset(
        t
        for t in Locale("en").territories
        if len(t) == 2 and t.isalpha() and t.isupper() and t not in _NOT_COUNTRIES
    )


def country_name(country: str, locale: str = "en") -> str:
    return Locale.parse(locale).territories.get(country, country)


def normalise_country(country: object) -> str:
    """'de' -> 'DE'; refuses anything that is not an ISO 3166-1 alpha-2 country."""
    code = country.strip().upper() if isinstance(country, str) else ""
    if code not in _countries():
        raise field_error(
            UnknownCountry,
            "country",
            f"{country!r} is not an ISO 3166-1 country code (two letters, e.g. 'DE').",
        )
    return code


def is_eu(country: str) -> bool:
    return country in EU_COUNTRIES


def vat_prefix(country: str) -> str:
    return _VAT_PREFIX.get(country, country)


def _reason(exc: ValidationError) -> str:
    if isinstance(exc, InvalidChecksum):
        return "its check digit is wrong (a typo?)"
    if isinstance(exc, InvalidLength):
        return "it has the wrong number of characters"
    if isinstance(exc, InvalidFormat):
        return "it does not have the format of a VAT id"
    if isinstance(exc, InvalidComponent):
        return "a part of it is not valid"
    return "it is not valid"


def normalise_vat_id(vat_id: str, country: str) -> str:
    """The VAT id in its compact form with country prefix, e.g. 'DE136695976'.

    Accepts spaces, dots, dashes and a missing prefix ('136 695 976' for DE). Refuses a wrong
    check digit, a wrong format, and an EU VAT id whose prefix is not the account's country
    (Greece uses 'EL'; 'GR' is accepted and rewritten). Outside the EU a VAT id is checked
    with python-stdnum's module for that country when there is one (e.g. CH, GB, NO).
    """
    country = normalise_country(country)
    raw = (vat_id or "").strip()
    if not raw:
        raise field_error(InvalidVatId, "vat_id", "The VAT id is empty.")
    if is_eu(country):
        compact = _CLEAN.sub("", raw).upper()
        if compact[:1].isdigit():
            compact = vat_prefix(country) + compact
        if compact.startswith("GR"):
            compact = "EL" + compact[2:]
        prefix = compact[:2]
        if prefix != vat_prefix(country):
            raise field_error(
                InvalidVatId,
                "vat_id",
                f"The VAT id {raw!r} is from {prefix}, but the account's country is {country}: "
                f"a VAT id for {country} starts with {vat_prefix(country)}.",
            )
        try:
            return eu_vat.validate(eu_vat.compact(compact))
        except ValidationError as exc:
            raise field_error(
                InvalidVatId, "vat_id", f"The VAT id {raw!r} is not valid: {_reason(exc)}."
            ) from None
    module = stdnum.get_cc_module(country.lower(), "vat")
    if module is None:
        raise field_error(
            InvalidVatId,
            "vat_id",
            f"VAT ids from {country} cannot be checked here; leave the VAT id empty.",
        )
    try:
        compact = module.validate(raw)
    except ValidationError as exc:
        raise field_error(
            InvalidVatId, "vat_id", f"The VAT id {raw!r} is not valid: {_reason(exc)}."
        ) from None
    return compact if compact[:2].upper() == country[:2] else country + compact
