"""The ingestion fast path shared by the API and ``usage_import``.

Per batch: one query resolves the accounts, one the meters, events are validated in plain
Python (no serializer per event), and one ``INSERT … SELECT FROM unnest(arrays) ON CONFLICT
DO NOTHING RETURNING`` stores them and tells which were new. The same statement marks billed
periods that a late event lands in (``UsageRecheck``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

import psycopg
from django.db import connection

from accounts.models import Account
from metering.choices import Aggregation, EventStatus, RejectCode
from metering.models import Meter

MAX_BATCH = 1000
MAX_EVENT_BYTES = 16 * 1024
MAX_EVENT_ID_LENGTH = 200
CLOCK_SKEW = timedelta(minutes=5)
_QUANTUM = Decimal("1E-12")
_QUANTITY_LIMIT = Decimal("1E18")  # numeric(30, 12) holds 18 integer digits


@dataclass(slots=True)
class EventResult:
    id: object
    status: str
    code: str | None = None
    detail: str | None = None

    def as_dict(self) -> dict:
        out = {"id": self.id, "status": self.status, "code": self.code}
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass(slots=True)
class ResolvedAccount:
    id: int
    created_at: datetime


@dataclass(slots=True)
class ResolvedMeter:
    id: int
    aggregation: str
    value_property: str
    unique_property: str


@dataclass(slots=True)
class ValidEvent:
    account_id: int
    event_id: str
    meter_id: int
    ts: datetime
    quantity: Decimal
    properties_json: str


class Rejected(Exception):
    def __init__(self, code: str, detail: str) -> None:
        self.code = code
        self.detail = detail


def account_key(ref: object) -> tuple[str, object] | None:
    """``123`` / ``"123"`` → our id; ``"ext:org_42"`` → the product's org id."""
    if isinstance(ref, bool):
        return None
    if isinstance(ref, int):
        return ("id", ref)
    if isinstance(ref, str):
        if ref.startswith("ext:") and len(ref) > 4:
            return ("ext", ref[4:])
        if ref.isdigit() and len(ref) < 19:
            return ("id", int(ref))
    return None


def accounts_resolve(refs: Iterable[object]) -> dict[tuple[str, object], ResolvedAccount]:
    ids: set[int] = set()
    exts: set[str] = set()
    for ref in refs:
        key = account_key(ref)
        if key is None:
            continue
        (ids if key[0] == "id" else exts).add(key[1])
    if not ids and not exts:
        return {}
    from django.db.models import Q

    rows = Account.objects.filter(Q(pk__in=ids) | Q(external_id__in=exts)).values_list(
        "pk", "external_id", "created_at"
    )
    found: dict[tuple[str, object], ResolvedAccount] = {}
    for pk, ext, created_at in rows:
        resolved = ResolvedAccount(pk, created_at)
        if pk in ids:
            found[("id", pk)] = resolved
        if ext is not None and ext in exts:
            found[("ext", ext)] = resolved
    return found


def meters_resolve(codes: Iterable[object]) -> dict[str, ResolvedMeter]:
    wanted = {c for c in codes if isinstance(c, str)}
    if not wanted:
        return {}
    return {
        code: ResolvedMeter(pk, agg, value_prop, unique_prop)
        for pk, code, agg, value_prop, unique_prop in Meter.objects.filter(
            code__in=wanted
        ).values_list("pk", "code", "aggregation", "value_property", "unique_property")
    }


def parse_timestamp(value: object) -> datetime:
    if not isinstance(value, str):
        raise Rejected(RejectCode.INVALID_EVENT, "timestamp must be an ISO 8601 string")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise Rejected(RejectCode.INVALID_EVENT, "timestamp is not ISO 8601") from None
    if ts.tzinfo is None:
        raise Rejected(RejectCode.INVALID_EVENT, "timestamp needs a UTC offset, e.g. Z")
    return ts


_WIDE = Context(prec=40)


def parse_quantity(value: object) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise Rejected(RejectCode.INVALID_QUANTITY, "quantity must be a number")
    if isinstance(value, int):
        quantity = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise Rejected(RejectCode.INVALID_QUANTITY, "quantity must be finite")
        # repr is the shortest string that round-trips: 0.1 stays 0.1, not 0.1000000000000000055
        quantity = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            quantity = Decimal(value.strip())
        except InvalidOperation:
            raise Rejected(RejectCode.INVALID_QUANTITY, "quantity is not a number") from None
    elif isinstance(value, Decimal):
        quantity = value
    else:
        raise Rejected(RejectCode.INVALID_QUANTITY, "quantity must be a number")
    if not quantity.is_finite():
        raise Rejected(RejectCode.INVALID_QUANTITY, "quantity must be finite")
    if quantity < 0:
        raise Rejected(RejectCode.INVALID_QUANTITY, "quantity must not be negative")
    if quantity >= _QUANTITY_LIMIT:
        raise Rejected(RejectCode.INVALID_QUANTITY, "quantity is too large")
    if quantity.as_tuple().exponent < -12:
        # Up to 18 integer digits plus 12 decimals exceed the default 28-digit context.
        quantity = quantity.quantize(_QUANTUM, rounding=ROUND_HALF_UP, context=_WIDE)
        if quantity >= _QUANTITY_LIMIT:
            raise Rejected(RejectCode.INVALID_QUANTITY, "quantity is too large")
    return quantity


def validate_event(
    raw: object,
    *,
    accounts: dict[tuple[str, object], ResolvedAccount],
    meters: dict[str, ResolvedMeter],
    now: datetime,
    properties_json: str | None = None,
) -> ValidEvent:
    """Check one event; raise ``Rejected`` with the reason code of the first problem found."""
    if not isinstance(raw, dict):
        raise Rejected(RejectCode.INVALID_EVENT, "each event must be a JSON object")
    event_id = raw.get("id")
    if isinstance(event_id, int) and not isinstance(event_id, bool):
        event_id = str(event_id)
    if not isinstance(event_id, str) or not event_id.strip():
        raise Rejected(RejectCode.INVALID_EVENT, "id is missing")
    if len(event_id) > MAX_EVENT_ID_LENGTH:
        raise Rejected(RejectCode.INVALID_EVENT, f"id is longer than {MAX_EVENT_ID_LENGTH}")
    account_ref = raw.get("account")
    meter_code = raw.get("meter")
    if account_ref is None or account_ref == "":
        raise Rejected(RejectCode.INVALID_EVENT, "account is missing")
    if not isinstance(meter_code, str) or not meter_code:
        raise Rejected(RejectCode.INVALID_EVENT, "meter is missing")
    properties = raw.get("properties", {})
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise Rejected(RejectCode.INVALID_EVENT, "properties must be a JSON object")
    if properties_json is None:
        properties_json = json.dumps(properties, separators=(",", ":"), ensure_ascii=False)
    if len(properties_json) > MAX_EVENT_BYTES:
        raise Rejected(RejectCode.EVENT_TOO_LARGE, f"properties exceed {MAX_EVENT_BYTES} bytes")
    ts = parse_timestamp(raw.get("timestamp"))
    key = account_key(account_ref)
    account = accounts.get(key) if key is not None else None
    if account is None:
        raise Rejected(RejectCode.UNKNOWN_ACCOUNT, f"no account {account_ref!r}")
    meter = meters.get(meter_code)
    if meter is None:
        raise Rejected(RejectCode.UNKNOWN_METER, f"no meter {meter_code!r}")
    if meter.aggregation == Aggregation.COUNT:
        quantity = Decimal(1)
    elif meter.aggregation == Aggregation.UNIQUE_COUNT:
        if properties.get(meter.unique_property) in (None, ""):
            raise Rejected(RejectCode.MISSING_QUANTITY, f"property {meter.unique_property!r}")
        quantity = Decimal(1)
    else:
        if meter.value_property not in properties:
            raise Rejected(RejectCode.MISSING_QUANTITY, f"property {meter.value_property!r}")
        quantity = parse_quantity(properties[meter.value_property])
    if ts > now + CLOCK_SKEW:
        raise Rejected(RejectCode.TIMESTAMP_IN_FUTURE, "more than 5 minutes ahead of our clock")
    if ts < account.created_at:
        raise Rejected(RejectCode.TIMESTAMP_BEFORE_ACCOUNT, "before the account was created")
    return ValidEvent(account.id, event_id, meter.id, ts, quantity, properties_json)


# One statement: insert what is new, learn which rows were, and mark billed periods that a
# late event falls into. ``hits`` is bumped so a billing run that is comparing that period right
# now keeps the marker (it deletes only the ``hits`` value it read).
# Marks the billed periods that just-inserted events (CTE ``ins``: account_id, meter_id, ts)
# fall into, so the next billing run re-checks them. The API and the bulk loader share it.
MARK_LATE_CTE = """late AS (
    INSERT INTO metering_usagerecheck
        (account_id, meter_id, period_start, period_end, hits, marked_at)
    SELECT DISTINCT b.account_id, b.meter_id, b.period_start, b.period_end, 1, %(now)s
    FROM ins
    JOIN metering_billedperiod b
      ON b.account_id = ins.account_id AND b.meter_id = ins.meter_id
     AND ins.ts >= b.period_start AND ins.ts < b.period_end
    ORDER BY 1, 2, 3
    ON CONFLICT (account_id, meter_id, period_start)
    DO UPDATE SET hits = metering_usagerecheck.hits + 1, marked_at = EXCLUDED.marked_at
)"""

INSERT_SQL = (
    """
WITH ins AS (
    INSERT INTO metering_usageevent
        (account_id, event_id, meter_id, ts, quantity, properties, received_at,
         void_reason, voided_by)
    SELECT u.a, u.e, u.m, u.t, u.q, u.p::jsonb, %(now)s, '', ''
    FROM unnest(%(a)s::bigint[], %(e)s::text[], %(m)s::bigint[], %(t)s::timestamptz[],
                %(q)s::numeric[], %(p)s::text[]) AS u(a, e, m, t, q, p)
    ON CONFLICT (account_id, event_id) DO NOTHING
    RETURNING account_id, event_id, meter_id, ts
), """  # noqa: S608 - constant SQL pieces, no input
    + MARK_LATE_CTE
    + """
SELECT account_id, event_id FROM ins
"""
)


def _raw_cursor():
    """A server-side-binding psycopg cursor on Django's connection (same transaction state).

    Django's default client-side binding would render 6,000 array elements into SQL text; with
    server binding the arrays travel as parameters.
    """
    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def events_insert(events: Sequence[ValidEvent], *, now: datetime) -> set[tuple[int, str]]:
    """Insert; return the (account_id, event_id) pairs that were new."""
    if not events:
        return set()
    # Sorted by the unique key so that two batches sharing events lock them in the same order
    # and cannot deadlock each other.
    ordered = sorted(events, key=lambda e: (e.account_id, e.event_id))
    params = {
        "now": now,
        "a": [e.account_id for e in ordered],
        "e": [e.event_id for e in ordered],
        "m": [e.meter_id for e in ordered],
        "t": [e.ts for e in ordered],
        "q": [e.quantity for e in ordered],
        "p": [e.properties_json for e in ordered],
    }
    with _raw_cursor() as cursor:
        cursor.execute(INSERT_SQL, params)
        return set(cursor.fetchall())


def batch_ingest(raw_events: Sequence[object], *, now: datetime) -> list[EventResult]:
    """Validate and store a batch; one result per event, in request order."""
    accounts = accounts_resolve(e.get("account") for e in raw_events if isinstance(e, dict))
    meters = meters_resolve(e.get("meter") for e in raw_events if isinstance(e, dict))
    results: list[EventResult] = []
    valid: list[ValidEvent] = []
    pending: list[tuple[int, tuple[int, str]]] = []  # result index -> key
    seen: set[tuple[int, str]] = set()
    for raw in raw_events:
        event_id = raw.get("id") if isinstance(raw, dict) else None
        try:
            event = validate_event(raw, accounts=accounts, meters=meters, now=now)
        except Rejected as exc:
            results.append(EventResult(event_id, EventStatus.REJECTED, exc.code, exc.detail))
            continue
        key = (event.account_id, event.event_id)
        if key in seen:
            # Repeated inside the batch: the first occurrence is the one stored.
            results.append(EventResult(event_id, EventStatus.DUPLICATE))
            continue
        seen.add(key)
        valid.append(event)
        pending.append((len(results), key))
        results.append(EventResult(event_id, EventStatus.ACCEPTED))
    inserted = events_insert(valid, now=now)
    for index, key in pending:
        if key not in inserted:
            results[index].status = EventStatus.DUPLICATE
    return results
