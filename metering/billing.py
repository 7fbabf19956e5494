"""Rating usage into invoice lines, and remembering what was billed.

Late events and voids of an invoiced period are billed on the subscription's next invoice as an
adjustment line naming the original period (a negative one is a credit). We chose adjustment
lines over separate credit notes: one document per run, and the customer sees the correction
beside the period it belongs to.

Which earlier periods to compare is kept cheap with ``UsageRecheck`` markers: ingestion and
voids mark a billed (account, meter, period) in the statement that changes it, and every
invoiced period is marked once more when it is billed (an event committed while the billing
transaction ran is not seen by that transaction nor does its statement see the new
``BilledPeriod``; the extra comparison at the next run catches it). A marker is removed only
when the period's aggregate equals what was billed *and* its ``hits`` did not change meanwhile.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection, models, transaction
from django.db.models import Sum
from django.utils import timezone

from metering.models import BilledPeriod, Meter, UsageRecheck
from metering.selectors import usage_aggregate


@dataclass(frozen=True)
class UsageLine:
    description: str
    price_id: int
    meter_code: str
    period_start: datetime
    period_end: datetime
    quantity: Decimal
    unit_amount: Decimal | None
    amount_minor: int
    event_count: int
    is_adjustment: bool
    aggregation: dict = field(default_factory=dict)


def _as_datetime(value) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time.min, tzinfo=UTC)
    raise TypeError(f"a period bound must be a datetime or date, not {type(value).__name__}")


def _period_label(start: datetime, end: datetime) -> str:
    last = end - timedelta(microseconds=1)
    return f"{start.date().isoformat()} – {last.date().isoformat()}"


def _unit_amount(price) -> Decimal | None:
    return price.unit_amount if getattr(price, "charge_model", None) == "PER_UNIT" else None


def _aggregation_record(*, meter, start, end, quantity, event_count, computed_at, **extra):
    return {
        "meter": meter.code,
        "meter_id": meter.pk,
        "aggregation": meter.aggregation,
        "filters": meter.filters,
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "quantity": format(quantity, "f"),
        "event_count": event_count,
        "computed_at": computed_at.isoformat(),
        **extra,
    }


def meter_prices_for_plan(plan_id: int) -> list[tuple[Meter, object]]:
    """The plan's usage prices and the meter feeding each, ordered by meter code.

    A meter feeds its own ``price`` when that price is in the plan, and otherwise the plan's
    in-arrears price with the meter's code: plans exist once per currency (TEAM-EUR,
    TEAM-JPY, ...) and one meter serves the same-coded price in each of them.
    """
    from catalog.choices import Timing
    from catalog.models import Price

    by_code = {
        p.code: p
        for p in Price.objects.filter(plan_id=plan_id, timing=Timing.IN_ARREARS)
        .select_related("plan")
        .prefetch_related("tiers")
    }
    meters = Meter.objects.filter(
        models.Q(code__in=list(by_code)) | models.Q(price__plan_id=plan_id)
    ).select_related("price", "price__plan")
    out = []
    for meter in meters.order_by("code"):
        if meter.price_id is not None and meter.price.plan_id == plan_id:
            out.append((meter, meter.price))
        elif meter.code in by_code:
            out.append((meter, by_code[meter.code]))
    return out


def usage_lines_for(*, subscription, period_start, period_end) -> list[UsageLine]:
    """Usage lines of the period, then adjustments for earlier billed periods that changed."""
    from catalog.rating import rate_minor

    start, end = _as_datetime(period_start), _as_datetime(period_end)
    computed_at = timezone.now()
    lines: list[UsageLine] = []
    for meter, price in meter_prices_for_plan(subscription.plan_id):
        agg = usage_aggregate(
            account_id=subscription.account_id, meter=meter, period_start=start, period_end=end
        )
        lines.append(
            UsageLine(
                description=meter.name,
                price_id=price.pk,
                meter_code=meter.code,
                period_start=start,
                period_end=end,
                quantity=agg.quantity,
                unit_amount=_unit_amount(price),
                amount_minor=rate_minor(price=price, quantity=agg.quantity),
                event_count=agg.event_count,
                is_adjustment=False,
                aggregation=_aggregation_record(
                    meter=meter,
                    start=start,
                    end=end,
                    quantity=agg.quantity,
                    event_count=agg.event_count,
                    computed_at=computed_at,
                ),
            )
        )
    lines.extend(_adjustments(subscription=subscription, before=start, computed_at=computed_at))
    return lines


def _billed_totals(subscription, *, before: datetime) -> dict[tuple[int, datetime], dict]:
    from metering.models import UsageBilled

    rows = (
        UsageBilled.objects.filter(subscription=subscription, period_start__lt=before)
        .values("meter_id", "period_start", "period_end", "price_id")
        .annotate(quantity=Sum("billed_quantity"), amount=Sum("billed_amount_minor"))
        .order_by("period_start", "meter_id")
    )
    totals: dict[tuple[int, datetime], dict] = {}
    for row in rows:
        key = (row["meter_id"], row["period_start"])
        if key in totals:  # the same period billed under two prices: add up
            totals[key]["quantity"] += row["quantity"]
            totals[key]["amount"] += row["amount"]
        else:
            totals[key] = row
    return totals


def _adjustments(*, subscription, before: datetime, computed_at: datetime) -> list[UsageLine]:
    from catalog.models import Price
    from catalog.rating import rate_delta_minor

    markers = list(
        UsageRecheck.objects.filter(account_id=subscription.account_id, period_start__lt=before)
        .select_related("meter")
        .order_by("period_start", "meter__code")
    )
    if not markers:
        return []
    billed = _billed_totals(subscription, before=before)
    prices = Price.objects.in_bulk({row["price_id"] for row in billed.values()})
    lines = []
    for marker in markers:
        row = billed.get((marker.meter_id, marker.period_start))
        if row is None:
            continue
        meter, start, end = marker.meter, row["period_start"], row["period_end"]
        agg = usage_aggregate(
            account_id=subscription.account_id, meter=meter, period_start=start, period_end=end
        )
        if agg.quantity == row["quantity"]:
            continue
        price = prices[row["price_id"]]
        lines.append(
            UsageLine(
                description=f"{meter.name} — adjustment for {_period_label(start, end)}",
                price_id=price.pk,
                meter_code=meter.code,
                period_start=start,
                period_end=end,
                quantity=agg.quantity - row["quantity"],
                unit_amount=_unit_amount(price),
                amount_minor=rate_delta_minor(
                    price=price, billed_quantity=row["quantity"], new_quantity=agg.quantity
                ),
                event_count=agg.event_count,
                is_adjustment=True,
                aggregation=_aggregation_record(
                    meter=meter,
                    start=start,
                    end=end,
                    quantity=agg.quantity,
                    event_count=agg.event_count,
                    computed_at=computed_at,
                    billed_quantity=format(row["quantity"], "f"),
                    billed_amount_minor=row["amount"],
                ),
            )
        )
    return lines


def usage_mark_billed(*, subscription, lines: list[UsageLine], invoice_id: int) -> None:
    """Record what an invoice billed; called by invoices inside the invoice's transaction."""
    from metering.models import UsageBilled

    if not lines:
        return
    now = timezone.now()
    meters = {m.code: m for m in Meter.objects.filter(code__in={ln.meter_code for ln in lines})}
    account_id = subscription.account_id
    with transaction.atomic():
        UsageBilled.objects.bulk_create(
            [
                UsageBilled(
                    subscription=subscription,
                    account_id=account_id,
                    meter=meters[ln.meter_code],
                    price_id=ln.price_id,
                    period_start=ln.period_start,
                    period_end=ln.period_end,
                    billed_quantity=ln.quantity,
                    billed_amount_minor=ln.amount_minor,
                    event_count=ln.event_count,
                    is_adjustment=ln.is_adjustment,
                    invoice_id=invoice_id,
                    billed_at=now,
                )
                for ln in lines
            ]
        )
        periods = sorted(
            {(meters[ln.meter_code].pk, ln.period_start, ln.period_end) for ln in lines},
            key=lambda p: (p[0], p[1]),
        )
        for meter_id, start, end in periods:
            BilledPeriod.objects.get_or_create(
                account_id=account_id,
                meter_id=meter_id,
                period_start=start,
                defaults={"period_end": end},
            )
        _markers_settle(subscription=subscription, lines=lines, meters=meters, now=now)


def _markers_settle(*, subscription, lines, meters, now) -> None:
    """Drop markers whose period now matches what was billed; mark the new periods once."""
    from metering.models import UsageBilled

    account_id = subscription.account_id
    current = [ln for ln in lines if not ln.is_adjustment]
    before = min((ln.period_start for ln in current), default=max(ln.period_start for ln in lines))
    markers = list(
        UsageRecheck.objects.filter(
            account_id=account_id,
            period_start__lt=before,
            meter_id__in=[m.pk for m in meters.values()],
        ).values_list("pk", "hits", "meter_id", "period_start", "period_end")
    )
    billed = defaultdict(Decimal)
    for meter_id, start, total in (
        UsageBilled.objects.filter(subscription=subscription, period_start__lt=before)
        .values_list("meter_id", "period_start")
        .annotate(total=Sum("billed_quantity"))
    ):
        billed[(meter_id, start)] = total
    meter_by_id = {m.pk: m for m in meters.values()}
    settled = []
    for pk, hits, meter_id, start, end in markers:
        if (meter_id, start) not in billed:
            continue
        agg = usage_aggregate(
            account_id=account_id, meter=meter_by_id[meter_id], period_start=start, period_end=end
        )
        if agg.quantity == billed[(meter_id, start)]:
            settled.append((pk, hits))
    if settled:
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM metering_usagerecheck r USING unnest(%s::bigint[], %s::int[]) "
                "AS s(id, hits) WHERE r.id = s.id AND r.hits = s.hits",
                [[pk for pk, _ in settled], [hits for _, hits in settled]],
            )
    for ln in current:
        UsageRecheck.objects.get_or_create(
            account_id=account_id,
            meter=meters[ln.meter_code],
            period_start=ln.period_start,
            defaults={"period_end": ln.period_end, "hits": 0, "marked_at": now},
        )
