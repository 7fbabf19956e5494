"""Billing periods: half-open ``[start, end)`` UTC intervals repeating from the billing anchor.

Each period start is computed from the anchor (``anchor + k months``), never from the previous
period, so a month-end anchor does not drift: Jan 31 → Feb 28 (29 in a leap year) → Mar 31.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from dateutil.relativedelta import relativedelta

from catalog.choices import BillingPeriod

Period = tuple[datetime, datetime]


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    return value.astimezone(UTC)


def _step(billing_period: str, k: int) -> relativedelta:
    if billing_period == BillingPeriod.MONTHLY:
        return relativedelta(months=k)
    if billing_period == BillingPeriod.YEARLY:
        return relativedelta(years=k)
    raise ValueError(f"unknown billing period {billing_period!r}")


def _start(anchor: datetime, billing_period: str, k: int) -> datetime:
    return anchor + _step(billing_period, k)


def _index(anchor: datetime, billing_period: str, at: datetime) -> int:
    """The k with start(k) <= at < start(k + 1); may be negative for ``at`` before the anchor."""
    months = (at.year - anchor.year) * 12 + (at.month - anchor.month)
    k = months if billing_period == BillingPeriod.MONTHLY else months // 12
    while _start(anchor, billing_period, k) > at:
        k -= 1
    while _start(anchor, billing_period, k + 1) <= at:
        k += 1
    return k


def period_bounds(*, anchor: datetime, billing_period: str, at: datetime) -> Period:
    anchor = _utc(anchor, "anchor")
    k = _index(anchor, billing_period, _utc(at, "at"))
    return _start(anchor, billing_period, k), _start(anchor, billing_period, k + 1)


def periods_between(
    *,
    anchor: datetime,
    billing_period: str,
    until: datetime,
    ended_at: datetime | None = None,
    since: datetime | None = None,
) -> list[Period]:
    """Periods from the anchor that start before ``until`` (and before ``ended_at``).

    The last period is cut at ``ended_at``; periods that ended on or before ``since`` are left out.
    """
    anchor = _utc(anchor, "anchor")
    until = _utc(until, "until")
    limit = until if ended_at is None else min(until, _utc(ended_at, "ended_at"))
    k = 0
    if since is not None:
        since = _utc(since, "since")
        if since > anchor:
            k = _index(anchor, billing_period, since)
    periods = []
    start = _start(anchor, billing_period, k)
    while start < limit:
        end = _start(anchor, billing_period, k + 1)
        if ended_at is not None:
            end = min(end, _utc(ended_at, "ended_at"))
        if since is None or end > since:
            periods.append((start, end))
        k += 1
        start = _start(anchor, billing_period, k)
    return periods


def period_containing(subscription, at: datetime) -> Period:
    """The billing period of the subscription's plan that contains ``at``.

    It is computed from the anchor whatever the subscription's state, so during a trial (before
    the anchor) it names a period that is not billed.
    """
    return period_bounds(
        anchor=subscription.billing_anchor,
        billing_period=subscription.plan.billing_period,
        at=at,
    )


def billing_periods(
    subscription, *, until: datetime, since: datetime | None = None
) -> list[Period]:
    """Every period of the subscription that starts before ``until``, oldest first.

    Billing starts at the anchor (the trial end, if there was a trial: a trial is not billed).
    The last period ends at ``ended_at`` when the subscription ended or is scheduled to end; a
    period cut short by an immediate cancellation keeps its start, so a key of (subscription,
    period start) stays stable. In-advance fees are billed in full for such a period: the unused
    part comes back as the cancellation's proration credit. ``since`` leaves out periods that
    ended on or before it, to bound the look-back.
    """
    return periods_between(
        anchor=subscription.billing_anchor,
        billing_period=subscription.plan.billing_period,
        until=until,
        ended_at=subscription.ended_at,
        since=since,
    )


def day_start(value: date) -> datetime:
    """Midnight UTC at the start of ``value``."""
    return datetime.combine(value, time.min, tzinfo=UTC)


def as_of_cutoffs(as_of: date | datetime) -> tuple[datetime, datetime]:
    """(advance cutoff, arrears cutoff) for a billing run ``as_of`` a day or an instant.

    For a day D, a period starting any time on D is due in advance (start < D+1 00:00), and a
    period is due in arrears once it is over when D begins (end <= D 00:00), so a run early on
    Dec 1 bills November's usage and December's fees, and a run on Nov 30 bills neither.
    For an instant, both cutoffs are the instant itself (start <= t, end <= t).
    """
    if isinstance(as_of, datetime):
        instant = _utc(as_of, "as_of")
        return instant + timedelta(microseconds=1), instant
    return day_start(as_of + timedelta(days=1)), day_start(as_of)
