"""Structured JSON logs with a request id, scrubbed of card numbers and secrets.

Wire-up (``build_logging_config`` does it for settings): the root handler writes one JSON object
per line to stderr through ``JsonFormatter``; ``RequestIdFilter`` stamps the current request id
on every record and ``ScrubFilter`` masks card numbers (Luhn-valid 13-19 digit runs), CVVs,
passwords, API keys and bearer tokens in the message, its arguments and ``extra=`` fields.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from decimal import Decimal
from typing import Any

__all__ = [
    "DEFAULT_SENSITIVE_KEYS",
    "JsonFormatter",
    "RequestIdFilter",
    "RequestIdMiddleware",
    "ScrubFilter",
    "Scrubber",
    "build_logging_config",
    "get_request_id",
    "scrub",
    "use_request_id",
]

REDACTED = "[redacted]"
REQUEST_ID_HEADER = "X-Request-ID"

# --- request id -------------------------------------------------------------------------

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "paydesk_request_id", default=None
)
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def get_request_id() -> str | None:
    return _request_id.get()


@contextmanager
def use_request_id(request_id: str | None = None) -> Iterator[str]:
    """Bind a request id for the block, e.g. in a Celery task handed the id of its request."""
    value = request_id if _is_sane_request_id(request_id) else uuid.uuid4().hex
    token = _request_id.set(value)
    try:
        yield value
    finally:
        _request_id.reset(token)


def _is_sane_request_id(value: object) -> bool:
    # The id is echoed into headers and logs: anything odd could smuggle in text, so replace it.
    return isinstance(value, str) and _SANE_REQUEST_ID.fullmatch(value) is not None


class RequestIdMiddleware:
    """Takes a sane ``X-Request-ID`` from the caller or makes one, and echoes it back."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        incoming = request.META.get("HTTP_X_REQUEST_ID")
        request_id = incoming if _is_sane_request_id(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = get_request_id()
        return True


# --- scrubbing --------------------------------------------------------------------------

DEFAULT_SENSITIVE_KEYS = frozenset(
    {
        "cvv",
        "cvv2",
        "cvc",
        "cvc2",
        "card_cvc",
        "card_cvv",
        "security_code",
        "card_number",
        "pan",
        "password",
        "passwd",
        "secret",
        "client_secret",
        "webhook_secret",
        "api_key",
        "apikey",
        "private_key",
        "authorization",
        "cookie",
        "token",
        "access_token",
        "refresh_token",
    }
)

# A run of 13+ digits, single spaces or dashes allowed between digits; exact card windows are
# picked out of it afterwards so that "ref 12 4242 4242 4242 4242" still hides the card.
_CARD_CANDIDATE = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,}(?!\d)")
_DIGIT_GROUP = re.compile(r"\d+")
_SECRET_TOKEN = re.compile(
    r"\b((?:sk|rk|pk)_(?:live|test)_|whsec_)[A-Za-z0-9]+"
    r"|\b(Bearer)\s+[A-Za-z0-9._~+/=-]+",
)
# "Basic" alone is not a marker ("Basic plan" is a product here); Basic credentials are caught
# by the authorization key instead.
_SECRET_MARKERS = ("_live_", "_test_", "whsec_", "Bearer")
_MAX_CARD_DIGITS = 19
_MIN_CARD_DIGITS = 13


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _mask_card_run(match: re.Match[str]) -> str:
    text = match.group(0)
    groups = [(g.start(), g.end(), g.group(0)) for g in _DIGIT_GROUP.finditer(text)]
    out: list[str] = []
    cursor = 0
    i = 0
    while i < len(groups):
        found = None
        digits = ""
        # Prefer the longest Luhn-valid window of whole groups starting here.
        for j in range(i, len(groups)):
            digits += groups[j][2]
            if len(digits) > _MAX_CARD_DIGITS:
                break
            if len(digits) >= _MIN_CARD_DIGITS and _luhn_valid(digits):
                found = (j, digits)
        if found is None:
            i += 1
            continue
        j, digits = found
        out.append(text[cursor : groups[i][0]])
        out.append(f"[card ****{digits[-4:]}]")
        cursor = groups[j][1]
        i = j + 1
    out.append(text[cursor:])
    return "".join(out)


def _mask_secret_token(match: re.Match[str]) -> str:
    prefix = match.group(1) or f"{match.group(2)} "
    return f"{prefix}{REDACTED}"


def _normalise_key(key: object) -> str:
    return str(key).strip().lower().replace("-", "_")


class Scrubber:
    """Masks card numbers and secrets in strings, and values of sensitive keys in mappings."""

    def __init__(self, sensitive_keys: Iterable[str] = DEFAULT_SENSITIVE_KEYS) -> None:
        self.sensitive_keys = frozenset(_normalise_key(k) for k in sensitive_keys)
        names = "|".join(sorted((re.escape(k) for k in self.sensitive_keys), key=len, reverse=True))
        # key=value and "key": "value" inside free text (query strings, logged JSON bodies).
        self._key_value = re.compile(
            rf"""(?i)(?<![A-Za-z0-9_])((?:{names})["']?\s*[:=]\s*["']?)"""
            rf"""(?:(?:Bearer|Basic)\s+)?[^\s"'&,;}}\]]+"""
        )

    def is_sensitive_key(self, key: object) -> bool:
        return _normalise_key(key) in self.sensitive_keys

    def text(self, value: str) -> str:
        value = _CARD_CANDIDATE.sub(_mask_card_run, value)
        # Cheap substring checks first: almost every log line has none of these.
        if ("=" in value or ":" in value) and any(k in value.lower() for k in self.sensitive_keys):
            value = self._key_value.sub(lambda m: m.group(1) + REDACTED, value)
        if any(marker in value for marker in _SECRET_MARKERS):
            value = _SECRET_TOKEN.sub(_mask_secret_token, value)
        return value

    def __call__(self, value: Any) -> Any:
        """A scrubbed copy of ``value``; dicts, lists, tuples and sets are walked recursively."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bool) or value is None or isinstance(value, float | Decimal):
            return value
        if isinstance(value, int):
            # Only an int of card length can be a card; leave every other number as a number.
            if _MIN_CARD_DIGITS <= len(str(abs(value))) <= _MAX_CARD_DIGITS:
                masked = self.text(str(value))
                return value if masked == str(value) else masked
            return value
        if isinstance(value, Mapping):
            return {k: REDACTED if self.is_sensitive_key(k) else self(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return type(value)(self(v) for v in value)
        if isinstance(value, bytes | bytearray):
            return self.text(value.decode("utf-8", "replace"))
        # Arbitrary objects would be str()-ed by the formatter anyway: scrub that string.
        return self.text(str(value))


_default_scrubber = Scrubber()


def scrub(value: Any) -> Any:
    return _default_scrubber(value)


_RECORD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


class ScrubFilter(logging.Filter):
    """Rewrites each record in place so that every handler after it sees only scrubbed data."""

    def __init__(self, name: str = "", sensitive_keys: Iterable[str] | None = None) -> None:
        super().__init__(name)
        self.scrubber = (
            Scrubber(sensitive_keys) if sensitive_keys is not None else _default_scrubber
        )

    def filter(self, record: logging.LogRecord) -> bool:
        scrubber = self.scrubber
        # Arguments first, while a dict argument still has its keys; then the merged message,
        # where card numbers and tokens may have come from any argument's str().
        if record.args:
            record.args = scrubber(record.args)
            if isinstance(record.args, list):
                record.args = tuple(record.args)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not hide the content
            message = f"{record.msg} {record.args!r}"
        record.msg = scrubber.text(message)
        record.args = None
        for key in record.__dict__.keys() - _RECORD_ATTRS:
            value = record.__dict__[key]
            record.__dict__[key] = REDACTED if scrubber.is_sensitive_key(key) else scrubber(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = scrubber.text(record.exc_text)
        if record.stack_info:
            record.stack_info = scrubber.text(record.stack_info)
        return True


# --- JSON output ------------------------------------------------------------------------

_CORE_FIELDS = ("timestamp", "level", "logger", "message", "request_id")


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if is_dataclass(value) and not isinstance(value, type):
        # Money and friends read better as "12.30 EUR" than as their fields.
        return str(value) if type(value).__str__ is not object.__str__ else asdict(value)
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: core fields first, then every ``extra=`` field."""

    def format(self, record: logging.LogRecord) -> str:
        created = dt.datetime.fromtimestamp(record.created, tz=dt.UTC)
        request_id = getattr(record, "request_id", None) or get_request_id()
        payload: dict[str, Any] = {
            "timestamp": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id,
        }
        for key in sorted(record.__dict__.keys() - _RECORD_ATTRS - {"request_id"}):
            # An extra field named like a core field must not overwrite it.
            payload[f"extra_{key}" if key in _CORE_FIELDS else key] = record.__dict__[key]
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exc_info"] = record.exc_text
        if record.stack_info:
            payload["stack_info"] = record.stack_info
        return json.dumps(payload, default=_json_default, ensure_ascii=False)


def build_logging_config(level: str = "INFO", json: bool = True) -> dict[str, Any]:
    """A ``LOGGING`` dict for settings: everything goes to stderr, scrubbed, with request id."""
    handler = {
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
        "filters": ["request_id", "scrub"],
        "formatter": "json" if json else "plain",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "common.logging.RequestIdFilter"},
            "scrub": {"()": "common.logging.ScrubFilter"},
        },
        "formatters": {
            "json": {"()": "common.logging.JsonFormatter"},
            "plain": {
                "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
            },
        },
        "handlers": {"stderr": handler},
        "root": {"level": level, "handlers": ["stderr"]},
        # Django's defaults give these loggers handlers of their own; route them through ours
        # only, so that nothing is written unscrubbed or twice.
        "loggers": {
            name: {"level": level, "handlers": ["stderr"], "propagate": False}
            for name in ("django", "django.server", "celery")
        },
    }
