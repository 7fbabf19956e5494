"""Every write of the metering app: meters, usage events, voids, and billing bookkeeping."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from metering.billing import (
    UsageLine,
    usage_lines_for,
    usage_lines_for_many,
    usage_mark_billed,
    usage_mark_billed_many,
)
from metering.choices import VALUE_AGGREGATIONS, Aggregation, VoidStatus
from metering.exceptions import BatchTooLarge, MeterInvalid
from metering.ingest import (
    MAX_BATCH,
    _raw_cursor,
    account_key,
    accounts_resolve,
    batch_ingest,
)
from metering.models import Meter

logger = logging.getLogger(__name__)

__all__ = [
    "meter_create",
    "usage_events_ingest",
    "usage_events_void",
    "usage_lines_for",
    "usage_lines_for_many",
    "usage_mark_billed",
    "usage_mark_billed_many",
    "UsageLine",
]


def meter_create(
    *,
    code: str,
    name: str,
    unit: str,
    aggregation: str,
    value_property: str = "",
    unique_property: str = "",
    filters: dict | None = None,
    price=None,
) -> Meter:
    if aggregation not in Aggregation.values:
        raise MeterInvalid(f"aggregation must be one of {', '.join(Aggregation.values)}")
    if aggregation in VALUE_AGGREGATIONS and not value_property:
        raise MeterInvalid(f"a {aggregation} meter needs the value_property that carries it")
    if aggregation == Aggregation.UNIQUE_COUNT and not unique_property:
        raise MeterInvalid("a UNIQUE_COUNT meter needs the unique_property to count")
    filters = filters or {}
    if not isinstance(filters, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int | float | bool) for k, v in filters.items()
    ):
        raise MeterInvalid('filters must map property names to values, e.g. {"region": "eu"}')
    fields = {
        "code": code,
        "name": name,
        "unit": unit,
        "aggregation": aggregation,
        "value_property": value_property if aggregation in VALUE_AGGREGATIONS else "",
        "unique_property": unique_property if aggregation == Aggregation.UNIQUE_COUNT else "",
        "filters": filters,
    }
    if price is not None:
        fields["price"] = price
    try:
        with transaction.atomic():
            return Meter.objects.create(**fields)
    except IntegrityError:
        raise MeterInvalid(f"a meter with the code {code!r} exists already", field="code") from None


def usage_events_ingest(*, events: Sequence[object], now: datetime | None = None) -> dict:
    """Store a batch exactly once per (account, id); answer per event in request order."""
    if len(events) > MAX_BATCH:
        raise BatchTooLarge(f"send at most {MAX_BATCH} events per request, not {len(events)}")
    now = now or timezone.now()
    results = batch_ingest(events, now=now)
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    for result in results:
        counts[result.status] += 1
    return {"results": [r.as_dict() for r in results], **counts}


# Voids mark the row and, in the same statement, the billed period it belonged to (if any).
VOID_SQL = """
WITH v AS (
    UPDATE metering_usageevent e
       SET voided_at = %(now)s, void_reason = %(reason)s, voided_by = %(actor)s
      FROM unnest(%(a)s::bigint[], %(e)s::text[]) AS u(a, e)
     WHERE e.account_id = u.a AND e.event_id = u.e AND e.voided_at IS NULL
    RETURNING e.account_id, e.event_id, e.meter_id, e.ts
), late AS (
    INSERT INTO metering_usagerecheck
        (account_id, meter_id, period_start, period_end, hits, marked_at)
    SELECT DISTINCT b.account_id, b.meter_id, b.period_start, b.period_end, 1, %(now)s
    FROM v
    JOIN metering_billedperiod b
      ON b.account_id = v.account_id AND b.meter_id = v.meter_id
     AND v.ts >= b.period_start AND v.ts < b.period_end
    ORDER BY 1, 2, 3
    ON CONFLICT (account_id, meter_id, period_start)
    DO UPDATE SET hits = metering_usagerecheck.hits + 1, marked_at = EXCLUDED.marked_at
)
SELECT account_id, event_id FROM v
"""


def usage_events_void(
    *, events: Sequence[dict], reason: str, actor: str, now: datetime | None = None
) -> dict:
    """Remove events from billing (never from the table). ``actor`` names who asked.

    A voided event of a period already invoiced is credited on the subscription's next invoice
    as a negative adjustment line naming that period (``usage_lines_for``).
    """
    if len(events) > MAX_BATCH:
        raise BatchTooLarge(f"void at most {MAX_BATCH} events per request")
    if not reason or not reason.strip():
        raise MeterInvalid("give the reason for the correction", field="reason")
    now = now or timezone.now()
    accounts = accounts_resolve(e.get("account") for e in events if isinstance(e, dict))
    keys: list[tuple[int, str] | None] = []
    for raw in events:
        key = None
        if isinstance(raw, dict) and raw.get("id") not in (None, ""):
            ref = account_key(raw.get("account"))
            account = accounts.get(ref) if ref is not None else None
            if account is not None:
                key = (account.id, str(raw["id"]))
        keys.append(key)
    wanted = sorted({k for k in keys if k is not None})
    voided: set[tuple[int, str]] = set()
    existing: set[tuple[int, str]] = set()
    if wanted:
        with transaction.atomic(), _raw_cursor() as cursor:
            cursor.execute(
                VOID_SQL,
                {
                    "now": now,
                    "reason": reason.strip(),
                    "actor": actor[:200],
                    "a": [k[0] for k in wanted],
                    "e": [k[1] for k in wanted],
                },
            )
            voided = set(cursor.fetchall())
            rest = [k for k in wanted if k not in voided]
            if rest:
                cursor.execute(
                    "SELECT e.account_id, e.event_id FROM metering_usageevent e "
                    "JOIN unnest(%s::bigint[], %s::text[]) AS u(a, e) "
                    "ON e.account_id = u.a AND e.event_id = u.e",
                    ([k[0] for k in rest], [k[1] for k in rest]),
                )
                existing = set(cursor.fetchall())
    results = []
    counts = {s: 0 for s in VoidStatus.values}
    reported: set[tuple[int, str]] = set()
    for raw, key in zip(events, keys, strict=True):
        if key is not None and key in voided and key not in reported:
            status = VoidStatus.VOIDED
            reported.add(key)
        elif key is not None and (key in existing or key in voided):
            status = VoidStatus.ALREADY_VOIDED
        else:
            status = VoidStatus.NOT_FOUND
        counts[status] += 1
        results.append({"id": raw.get("id") if isinstance(raw, dict) else None, "status": status})
    logger.info(
        "usage events voided",
        extra={"actor": actor, "reason": reason, "voided": counts[VoidStatus.VOIDED]},
    )
    return {"results": results, **counts}
