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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection, models, transaction
from django.db.models import Sum
from django.utils import timezone

from metering.models import BilledPeriod, Meter, UsageRecheck
from metering.selectors import EMPTY


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


def _current_line(*, meter, price, start, end, agg, computed_at) -> UsageLine:
    from catalog.rating import rate_minor

    return UsageLine(
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


def _adjustment_line(*, meter, price, row, agg, computed_at) -> UsageLine | None:
    """The difference between a billed period's current aggregate and what was billed."""
    from catalog.rating import rate_delta_minor

    if agg.quantity == row["quantity"]:
        return None
    start, end = row["period_start"], row["period_end"]
    return UsageLine(
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


def usage_lines_for(*, subscription, period_start, period_end) -> list[UsageLine]:
    """Usage lines of the period, then adjustments for earlier billed periods that changed."""
    return usage_lines_for_many(items=[(subscription, period_start, period_end)])[0]


def usage_mark_billed(*, subscription, lines: list[UsageLine], invoice_id: int) -> None:
    """Record what an invoice billed; called by invoices inside the invoice's transaction."""
    usage_mark_billed_many(items=[(subscription, lines, invoice_id)])


def _aggregates_by_period(wanted) -> dict[tuple[datetime, datetime], dict]:
    """{(start, end): {meter id: meter}, account ids} → {(start, end): {(account, meter): agg}},
    one bulk aggregation per distinct period."""
    from metering.selectors import usage_aggregates_bulk

    return {
        period: usage_aggregates_bulk(
            period_start=period[0],
            period_end=period[1],
            meters=list(meters.values()),
            account_ids=sorted(accounts),
        )
        for period, (meters, accounts) in wanted.items()
    }


def _want(wanted, period, meter, account_id) -> None:
    meters, accounts = wanted.setdefault(period, ({}, set()))
    meters[meter.pk] = meter
    accounts.add(account_id)


def usage_lines_for_many(
    *, items: Sequence[tuple[object, object, object]]
) -> list[list[UsageLine]]:
    """``usage_lines_for`` of many ``(subscription, period start, period end)`` in a few queries:
    one GROUP BY per distinct period for the current usage, and one per distinct earlier period
    for the adjustments. Returns the lines of each item, in the order of ``items``.

    Each subscription may appear once: a later period of the same subscription must see what
    the earlier one billed (``usage_mark_billed_many``) before its adjustments are computed.
    """
    norm = [(sub, _as_datetime(start), _as_datetime(end)) for sub, start, end in items]
    seen = [sub.pk for sub, _, _ in norm]
    if len(seen) != len(set(seen)):
        raise ValueError("usage_lines_for_many takes each subscription once")
    if not norm:
        return []
    computed_at = timezone.now()
    plan_meters = {
        plan_id: meter_prices_for_plan(plan_id) for plan_id in {s.plan_id for s, _, _ in norm}
    }
    wanted: dict = {}
    for sub, start, end in norm:
        for meter, _price in plan_meters[sub.plan_id]:
            _want(wanted, (start, end), meter, sub.account_id)
    aggregates = _aggregates_by_period(wanted)
    adjustments = _adjustments_many(norm, computed_at=computed_at)
    out = []
    for index, (sub, start, end) in enumerate(norm):
        found = aggregates.get((start, end), {})
        lines = [
            _current_line(
                meter=meter,
                price=price,
                start=start,
                end=end,
                agg=found.get((sub.account_id, meter.pk), EMPTY),
                computed_at=computed_at,
            )
            for meter, price in plan_meters[sub.plan_id]
        ]
        out.append(lines + adjustments[index])
    return out


def _billed_totals_many(subscription_ids, *, before: datetime) -> dict[int, dict]:
    """subscription id → ``_billed_totals`` of it (periods starting before ``before``)."""
    from metering.models import UsageBilled

    rows = (
        UsageBilled.objects.filter(subscription_id__in=subscription_ids, period_start__lt=before)
        .values("subscription_id", "meter_id", "period_start", "period_end", "price_id")
        .annotate(quantity=Sum("billed_quantity"), amount=Sum("billed_amount_minor"))
        .order_by("subscription_id", "period_start", "meter_id", "price_id")
    )
    out: dict[int, dict] = defaultdict(dict)
    for row in rows:
        totals = out[row.pop("subscription_id")]
        key = (row["meter_id"], row["period_start"])
        if key in totals:  # the same period billed under two prices: add up
            totals[key]["quantity"] += row["quantity"]
            totals[key]["amount"] += row["amount"]
        else:
            totals[key] = row
    return out


def _adjustments_many(norm, *, computed_at: datetime) -> list[list[UsageLine]]:
    from catalog.models import Price

    empty: list[list[UsageLine]] = [[] for _ in norm]
    latest = max(start for _, start, _ in norm)
    markers = list(
        UsageRecheck.objects.filter(
            account_id__in={sub.account_id for sub, _, _ in norm}, period_start__lt=latest
        )
        .select_related("meter")
        .order_by("period_start", "meter__code")
    )
    if not markers:
        return empty
    by_account = defaultdict(list)
    for marker in markers:
        by_account[marker.account_id].append(marker)
    concerned = [i for i, (sub, _, _) in enumerate(norm) if sub.account_id in by_account]
    billed = _billed_totals_many([norm[i][0].pk for i in concerned], before=latest)
    # (item, marker, billed row) for every marker of a period the subscription was billed for
    pairs = []
    wanted: dict = {}
    for i in concerned:
        sub, start, _ = norm[i]
        for marker in by_account[sub.account_id]:
            if marker.period_start >= start:
                continue
            row = billed.get(sub.pk, {}).get((marker.meter_id, marker.period_start))
            if row is None:
                continue
            pairs.append((i, marker, row))
            _want(wanted, (row["period_start"], row["period_end"]), marker.meter, sub.account_id)
    if not pairs:
        return empty
    prices = (
        Price.objects.select_related("plan")
        .prefetch_related("tiers")
        .in_bulk({row["price_id"] for _, _, row in pairs})
    )
    aggregates = _aggregates_by_period(wanted)
    for i, marker, row in pairs:
        account_id = norm[i][0].account_id
        found = aggregates[(row["period_start"], row["period_end"])]
        line = _adjustment_line(
            meter=marker.meter,
            price=prices[row["price_id"]],
            row=row,
            agg=found.get((account_id, marker.meter_id), EMPTY),
            computed_at=computed_at,
        )
        if line is not None:
            empty[i].append(line)
    return empty


def usage_mark_billed_many(*, items: Sequence[tuple[object, list[UsageLine], int]]) -> None:
    """``usage_mark_billed`` of many ``(subscription, lines, invoice id)`` in a few statements;
    called by invoices inside the transaction that writes the invoices."""
    from metering.models import UsageBilled

    items = [(sub, lines, invoice_id) for sub, lines, invoice_id in items if lines]
    if not items:
        return
    now = timezone.now()
    codes = {ln.meter_code for _, lines, _ in items for ln in lines}
    meters = {m.code: m for m in Meter.objects.filter(code__in=codes)}
    with transaction.atomic():
        UsageBilled.objects.bulk_create(
            [
                UsageBilled(
                    subscription_id=sub.pk,
                    account_id=sub.account_id,
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
                for sub, lines, invoice_id in items
                for ln in lines
            ]
        )
        periods = sorted(
            {
                (sub.account_id, meters[ln.meter_code].pk, ln.period_start, ln.period_end)
                for sub, lines, _ in items
                for ln in lines
            }
        )
        _upsert_periods(BilledPeriod._meta.db_table, periods, marked_at=None)
        _markers_settle_many(items=items, meters=meters, now=now)


def _upsert_periods(table: str, periods, *, marked_at) -> None:
    """Insert (account, meter, start, end) rows that do not exist yet; existing ones stay as
    they are (``get_or_create``). Sorted input keeps concurrent runs from deadlocking."""
    if not periods:
        return
    columns = "account_id, meter_id, period_start, period_end"
    extra_cols, extra_vals, params = "", "", []
    if marked_at is not None:
        extra_cols, extra_vals, params = ", hits, marked_at", ", 0, %s", [marked_at]
    a, m, s, e = (list(col) for col in zip(*periods, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}{extra_cols}) "  # noqa: S608 (model table names)
            f"SELECT u.a, u.m, u.s, u.e{extra_vals} "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[], %s::timestamptz[]) "
            "AS u(a, m, s, e) ORDER BY 1, 2, 3 "
            "ON CONFLICT (account_id, meter_id, period_start) DO NOTHING",
            [*params, a, m, s, e],
        )


def _markers_settle_many(*, items, meters, now) -> None:
    """Drop markers whose period now matches what was billed and mark the new periods once, for
    many subscriptions: one read of markers and billed totals, one aggregation per distinct
    period, one DELETE, one INSERT."""
    from metering.models import UsageBilled

    befores, meter_ids = [], []
    for _, lines, _ in items:
        current = [ln for ln in lines if not ln.is_adjustment]
        befores.append(
            min((ln.period_start for ln in current), default=max(ln.period_start for ln in lines))
        )
        meter_ids.append({meters[ln.meter_code].pk for ln in lines})
    latest = max(befores)
    # Markers (and their hits) are read before the aggregates they are compared with: an event
    # committed in between raises hits, and the DELETE below then leaves the marker in place.
    markers = defaultdict(list)
    for row in UsageRecheck.objects.filter(
        account_id__in={sub.account_id for sub, _, _ in items}, period_start__lt=latest
    ).values_list("pk", "hits", "account_id", "meter_id", "period_start", "period_end"):
        markers[row[2]].append(row)
    candidates = []
    wanted: dict = {}
    if markers:
        billed = defaultdict(Decimal)
        for sub_id, meter_id, start, total in (
            UsageBilled.objects.filter(
                subscription_id__in=[sub.pk for sub, _, _ in items if sub.account_id in markers],
                period_start__lt=latest,
            )
            .values_list("subscription_id", "meter_id", "period_start")
            .annotate(total=Sum("billed_quantity"))
        ):
            billed[(sub_id, meter_id, start)] = total
        meter_by_id = {m.pk: m for m in meters.values()}
        for (sub, _, _), before, wanted_meters in zip(items, befores, meter_ids, strict=True):
            for pk, hits, account_id, meter_id, start, end in markers.get(sub.account_id, ()):
                key = (sub.pk, meter_id, start)
                if start >= before or meter_id not in wanted_meters or key not in billed:
                    continue
                candidates.append((pk, hits, account_id, meter_id, start, end, billed[key]))
                _want(wanted, (start, end), meter_by_id[meter_id], account_id)
    aggregates = _aggregates_by_period(wanted)
    settled = sorted(
        {
            (pk, hits)
            for pk, hits, account_id, meter_id, start, end, total in candidates
            if aggregates[(start, end)].get((account_id, meter_id), EMPTY).quantity == total
        }
    )
    if settled:
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM metering_usagerecheck r USING unnest(%s::bigint[], %s::int[]) "
                "AS s(id, hits) WHERE r.id = s.id AND r.hits = s.hits",
                [[pk for pk, _ in settled], [hits for _, hits in settled]],
            )
    current = sorted(
        {
            (sub.account_id, meters[ln.meter_code].pk, ln.period_start, ln.period_end)
            for sub, lines, _ in items
            for ln in lines
            if not ln.is_adjustment
        }
    )
    _upsert_periods(UsageRecheck._meta.db_table, current, marked_at=now)
