"""Demo meters and September–November 2026 of hourly usage for the demo accounts.

Idempotent: meters by code, events by their ids (re-sent events are duplicates). Stored through
the ingestion fast path, like the product's own events.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from accounts.models import Account
from metering.ingest import batch_ingest
from metering.models import Meter

MAX_ACCOUNTS = 20
START = datetime(2026, 9, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)

METERS = [
    # code, name, unit, aggregation, value property
    ("cluster_hours", "Cluster hours", "hours", "SUM", "hours"),
    ("storage_gb_hours", "Storage", "GB-hours", "SUM", "gb_hours"),
    ("egress_gb", "Egress", "GB", "SUM", "gb"),
    ("api_calls", "API calls", "calls", "COUNT", ""),
]


def _price_for(code: str):
    """The EUR Team plan's price of that code, when the catalog demo created one."""
    try:
        from catalog.models import Price
    except ImportError:
        return None
    return (
        Price.objects.filter(code=code, plan__code="TEAM-EUR").first()
        or Price.objects.filter(code=code, timing="IN_ARREARS").order_by("pk").first()
    )


def _meters() -> dict[str, Meter]:
    meters = {}
    for code, name, unit, aggregation, prop in METERS:
        meter, _ = Meter.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "unit": unit,
                "aggregation": aggregation,
                "value_property": prop,
            },
        )
        if meter.price_id is None:
            price = _price_for(code)
            if price is not None:
                meter.price = price
                meter.save(update_fields=["price", "updated_at"])
        meters[code] = meter
    return meters


def _events_for(account: Account, *, until: datetime):
    rnd = random.Random(account.pk)  # noqa: S311 — demo data, deterministic per account
    nodes = rnd.choice([2, 3, 4, 6, 8])
    storage_gb = rnd.choice([200, 500, 1200, 4000])
    region = rnd.choice(["eu-west", "eu-central", "us-east"])
    ref = f"ext:{account.external_id}" if account.external_id else account.pk
    created = account.created_at
    first_full_hour = created.replace(minute=0, second=0, microsecond=0)
    if first_full_hour < created:
        first_full_hour += timedelta(hours=1)
    hour = max(START, first_full_hour)
    while hour < until:
        # Busier on weekdays and in office hours; growing slowly month by month.
        busy = 1.0 + 0.6 * math.sin((hour.hour - 6) / 24 * 2 * math.pi)
        busy *= 0.7 if hour.weekday() >= 5 else 1.0
        growth = 1 + (hour - START).days / 180
        stamp = hour.isoformat()
        key = hour.strftime("%Y%m%d%H")
        yield {
            "id": f"demo-ch-{key}",
            "account": ref,
            "meter": "cluster_hours",
            "timestamp": stamp,
            "properties": {"hours": f"{nodes * busy * growth:.2f}", "region": region},
        }
        if hour.hour == 23:
            yield {
                "id": f"demo-st-{key}",
                "account": ref,
                "meter": "storage_gb_hours",
                "timestamp": stamp,
                "properties": {"gb_hours": f"{storage_gb * 24 * growth:.1f}", "region": region},
            }
            yield {
                "id": f"demo-eg-{key}",
                "account": ref,
                "meter": "egress_gb",
                "timestamp": stamp,
                "properties": {"gb": f"{rnd.uniform(1, 40) * growth:.3f}", "region": region},
            }
        if hour.hour % 3 == 0:
            yield {
                "id": f"demo-api-{key}",
                "account": ref,
                "meter": "api_calls",
                "timestamp": stamp,
                "properties": {"path": rnd.choice(["/v1/clusters", "/v1/buckets", "/v1/keys"])},
            }
        hour += timedelta(hours=1)


def seed(*, out) -> None:
    _meters()
    now = timezone.now()
    until = min(END, now)
    accounts = Account.objects.filter(status="ACTIVE").order_by("pk")[:MAX_ACCOUNTS]
    totals = {"accepted": 0, "duplicate": 0, "rejected": 0}
    batch: list[dict] = []

    def flush():
        for result in batch_ingest(batch, now=now):
            totals[result.status] += 1
        batch.clear()

    for account in accounts:
        for event in _events_for(account, until=until):
            batch.append(event)
            if len(batch) == 1000:
                flush()
    if batch:
        flush()
    out.write(
        f"metering: {len(METERS)} meters; usage events {totals['accepted']} new, "
        f"{totals['duplicate']} already there, {totals['rejected']} refused"
    )
