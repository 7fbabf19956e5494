"""Reads of usage: aggregation per (account, meter, period), in bulk, and the usage preview.

Aggregation is plain SQL over ``usage_event_aggregation`` (account, meter, ts) INCLUDE
(quantity) WHERE voided_at IS NULL: voided events are excluded by the same predicate as the
index's. Periods are half-open: ``period_start <= ts < period_end``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import connection

from common.money import Money
from metering.choices import Aggregation
from metering.models import Meter

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Aggregate:
    quantity: Decimal
    event_count: int


EMPTY = Aggregate(ZERO, 0)


def _value_expr(meter: Meter) -> tuple[str, list]:
    """SQL computing the meter's quantity over a group of events, and its parameters."""
    agg = meter.aggregation
    if agg == Aggregation.SUM:
        return "COALESCE(SUM(quantity), 0)", []
    if agg == Aggregation.COUNT:
        return "COUNT(*)::numeric", []
    if agg == Aggregation.MAX:
        return "COALESCE(MAX(quantity), 0)", []
    if agg == Aggregation.UNIQUE_COUNT:
        return "COUNT(DISTINCT properties ->> %s)::numeric", [meter.unique_property]
    if agg == Aggregation.LATEST:
        return "COALESCE((ARRAY_AGG(quantity ORDER BY ts DESC, id DESC))[1], 0)", []
    raise ValueError(f"unknown aggregation {agg!r}")


def _filter_sql(meter: Meter) -> tuple[str, list]:
    if not meter.filters:
        return "", []
    return " AND properties @> %s::jsonb", [json.dumps(meter.filters)]


def usage_aggregate(
    *, account_id: int, meter: Meter, period_start: datetime, period_end: datetime
) -> Aggregate:
    """The meter's quantity and the number of events counted, for one account and period."""
    expr, expr_params = _value_expr(meter)
    filt, filt_params = _filter_sql(meter)
    sql = (
        f"SELECT {expr}, COUNT(*) FROM metering_usageevent "  # noqa: S608 (fixed fragments)
        "WHERE account_id = %s AND meter_id = %s AND ts >= %s AND ts < %s "
        f"AND voided_at IS NULL{filt}"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [*expr_params, account_id, meter.pk, period_start, period_end, *filt_params]
        )
        quantity, count = cursor.fetchone()
    return Aggregate(Decimal(quantity), count)


def _simple(meter: Meter) -> bool:
    return not meter.filters and meter.aggregation in (
        Aggregation.SUM,
        Aggregation.COUNT,
        Aggregation.MAX,
    )


def usage_aggregates_bulk(
    *,
    period_start: datetime,
    period_end: datetime,
    meters: Iterable[Meter] | None = None,
    account_ids: Iterable[int] | None = None,
) -> dict[tuple[int, int], Aggregate]:
    """Every (account_id, meter_id) with usage in the period → its aggregate.

    Unfiltered SUM/COUNT/MAX meters share one pass over the period (GROUP BY account, meter);
    meters with filters, UNIQUE_COUNT or LATEST get a pass each.
    """
    meters = list(Meter.objects.all() if meters is None else meters)
    accounts_sql, accounts_params = "", []
    if account_ids is not None:
        accounts_sql, accounts_params = " AND account_id = ANY(%s)", [list(account_ids)]
    out: dict[tuple[int, int], Aggregate] = {}
    simple = {m.pk: m for m in meters if _simple(m)}
    with connection.cursor() as cursor:
        if simple:
            cursor.execute(
                "SELECT account_id, meter_id, COALESCE(SUM(quantity), 0), COUNT(*), MAX(quantity) "  # noqa: S608 (fixed fragments)
                "FROM metering_usageevent "
                "WHERE meter_id = ANY(%s) AND ts >= %s AND ts < %s AND voided_at IS NULL"
                f"{accounts_sql} GROUP BY account_id, meter_id",
                [list(simple), period_start, period_end, *accounts_params],
            )
            for account_id, meter_id, total, count, largest in cursor.fetchall():
                agg = simple[meter_id].aggregation
                quantity = (
                    total
                    if agg == Aggregation.SUM
                    else Decimal(count)
                    if agg == Aggregation.COUNT
                    else largest
                )
                out[(account_id, meter_id)] = Aggregate(quantity, count)
        for meter in meters:
            if meter.pk in simple:
                continue
            expr, expr_params = _value_expr(meter)
            filt, filt_params = _filter_sql(meter)
            cursor.execute(
                f"SELECT account_id, {expr}, COUNT(*) FROM metering_usageevent "  # noqa: S608
                "WHERE meter_id = %s AND ts >= %s AND ts < %s AND voided_at IS NULL"
                f"{filt}{accounts_sql} GROUP BY account_id",
                [*expr_params, meter.pk, period_start, period_end, *filt_params, *accounts_params],
            )
            for account_id, quantity, count in cursor.fetchall():
                out[(account_id, meter.pk)] = Aggregate(Decimal(quantity), count)
    return out


def usage_daily(
    *, account_id: int, meter: Meter, period_start: datetime, period_end: datetime
) -> list[tuple[date, Decimal]]:
    """The meter's quantity per UTC day of the period (days without usage are zero)."""
    expr, expr_params = _value_expr(meter)
    filt, filt_params = _filter_sql(meter)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT date_trunc('day', ts AT TIME ZONE 'UTC')::date AS day, {expr} "  # noqa: S608
            "FROM metering_usageevent "
            "WHERE account_id = %s AND meter_id = %s AND ts >= %s AND ts < %s "
            f"AND voided_at IS NULL{filt} GROUP BY day ORDER BY day",
            [*expr_params, account_id, meter.pk, period_start, period_end, *filt_params],
        )
        by_day = {day: Decimal(q) for day, q in cursor.fetchall()}
    first = period_start.astimezone(UTC).date()
    last = (period_end - timedelta(microseconds=1)).astimezone(UTC).date()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return [(d, by_day.get(d, ZERO)) for d in days]


@dataclass(frozen=True)
class MeterUsage:
    meter: Meter
    quantity: Decimal
    event_count: int
    estimated: Money | None
    daily: list[tuple[date, Decimal]] = field(default_factory=list)

    @property
    def daily_max(self) -> Decimal:
        return max((q for _, q in self.daily), default=ZERO)


def _meters_with_usage(*, account_id: int, period_start, period_end) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT meter_id FROM metering_usageevent "
            "WHERE account_id = %s AND ts >= %s AND ts < %s AND voided_at IS NULL",
            [account_id, period_start, period_end],
        )
        return {row[0] for row in cursor.fetchall()}


def _prices_for_account(account) -> dict[int, object]:
    """meter id → the price its usage is billed with under the account's live subscription."""
    from catalog.models import Subscription
    from metering.billing import meter_prices_for_plan

    plan_ids = (
        Subscription.objects.filter(account=account, ended_at__isnull=True)
        .order_by("-started_at")
        .values_list("plan_id", flat=True)
    )
    prices: dict[int, object] = {}
    for plan_id in plan_ids:
        for meter, price in meter_prices_for_plan(plan_id):
            prices.setdefault(meter.pk, price)
    return prices


def usage_preview(*, account, period_start: datetime, period_end: datetime) -> list[MeterUsage]:
    """Per meter: running quantity, estimated charge, and the daily series of the period.

    Lists the meters with usage in the period and those priced in the account's plans.
    """
    from catalog.rating import rate_minor

    prices = _prices_for_account(account)
    meter_ids = _meters_with_usage(
        account_id=account.pk, period_start=period_start, period_end=period_end
    ) | set(prices)
    out = []
    for meter in Meter.objects.filter(pk__in=meter_ids).order_by("code"):
        agg = usage_aggregate(
            account_id=account.pk, meter=meter, period_start=period_start, period_end=period_end
        )
        price = prices.get(meter.pk)
        estimated = None
        if price is not None:
            estimated = Money(rate_minor(price=price, quantity=agg.quantity), price.plan.currency)
        out.append(
            MeterUsage(
                meter=meter,
                quantity=agg.quantity,
                event_count=agg.event_count,
                estimated=estimated,
                daily=usage_daily(
                    account_id=account.pk,
                    meter=meter,
                    period_start=period_start,
                    period_end=period_end,
                ),
            )
        )
    return out


def month_bounds(value: str | None = None, *, now: datetime | None = None):
    """``"2026-10"`` → (2026-10-01T00:00Z, 2026-11-01T00:00Z); None → the current month."""
    if value:
        year, month = (int(x) for x in value.split("-", 1))
        start = datetime(year, month, 1, tzinfo=UTC)
    else:
        now = now or datetime.now(UTC)
        start = datetime(now.year, now.month, 1, tzinfo=UTC)
    end = datetime(start.year + (start.month == 12), start.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def account_by_ref(ref: str | int):
    """Our id or ``ext:<external id>`` → Account; 404 ``account_not_found`` otherwise."""
    try:
        from accounts.services import account_resolve
    except ImportError:
        account_resolve = None
    if account_resolve is not None:
        return account_resolve(ref)
    from accounts.models import Account
    from metering.exceptions import AccountRefNotFound
    from metering.ingest import account_key

    key = account_key(ref)
    account = None
    if key is not None:
        lookup = {"pk": key[1]} if key[0] == "id" else {"external_id": key[1]}
        account = Account.objects.filter(**lookup).first()
    if account is None:
        raise AccountRefNotFound(f"No account {ref!r}.")
    return account
