import datetime as dt
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.choices import BillingPeriod
from catalog.periods import (
    as_of_cutoffs,
    billing_periods,
    period_bounds,
    period_containing,
    periods_between,
)

from .conftest import at

MONTHLY, YEARLY = BillingPeriod.MONTHLY, BillingPeriod.YEARLY


def sub(anchor, period=MONTHLY, ended_at=None):
    return SimpleNamespace(
        billing_anchor=anchor, ended_at=ended_at, plan=SimpleNamespace(billing_period=period)
    )


def test_month_end_anchor_clamps_without_drifting_in_a_leap_year():
    periods = periods_between(anchor=at(2024, 1, 31), billing_period=MONTHLY, until=at(2024, 6, 1))
    assert periods == [
        (at(2024, 1, 31), at(2024, 2, 29)),
        (at(2024, 2, 29), at(2024, 3, 31)),  # back to the 31st, not stuck on the 29th
        (at(2024, 3, 31), at(2024, 4, 30)),
        (at(2024, 4, 30), at(2024, 5, 31)),
        (at(2024, 5, 31), at(2024, 6, 30)),
    ]


def test_month_end_anchor_in_a_common_year():
    start, end = period_bounds(anchor=at(2025, 1, 31), billing_period=MONTHLY, at=at(2025, 2, 15))
    assert (start, end) == (at(2025, 1, 31), at(2025, 2, 28))
    assert period_bounds(anchor=at(2025, 1, 31), billing_period=MONTHLY, at=at(2025, 2, 28)) == (
        at(2025, 2, 28),
        at(2025, 3, 31),
    )


def test_yearly_from_a_leap_day():
    periods = periods_between(anchor=at(2024, 2, 29), billing_period=YEARLY, until=at(2028, 3, 1))
    assert [p[0] for p in periods] == [
        at(2024, 2, 29),
        at(2025, 2, 28),
        at(2026, 2, 28),
        at(2027, 2, 28),
        at(2028, 2, 29),
    ]


def test_period_boundaries_are_half_open_and_keep_the_time_of_day():
    anchor = at(2025, 12, 15, 10, 30)
    sub_ = sub(anchor)
    assert period_containing(sub_, at(2026, 1, 15, 10, 30)) == (
        at(2026, 1, 15, 10, 30),
        at(2026, 2, 15, 10, 30),
    )
    assert period_containing(sub_, at(2026, 1, 15, 10, 29, 59)) == (
        at(2025, 12, 15, 10, 30),
        at(2026, 1, 15, 10, 30),
    )


def test_other_time_zones_are_read_as_the_same_instant():
    berlin = dt.timezone(dt.timedelta(hours=1))
    start, end = period_bounds(
        anchor=dt.datetime(2025, 12, 1, 1, 0, tzinfo=berlin),  # 2025-12-01 00:00 UTC
        billing_period=MONTHLY,
        at=at(2026, 1, 1),
    )
    assert (start, end) == (at(2026, 1, 1), at(2026, 2, 1))
    assert start.tzinfo == dt.UTC


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        period_bounds(anchor=dt.datetime(2025, 1, 1), billing_period=MONTHLY, at=at(2025, 2, 1))


def test_billing_periods_start_before_until_and_stop_at_the_end():
    sub_ = sub(at(2025, 12, 1), ended_at=at(2026, 3, 10, 12))
    assert billing_periods(sub_, until=at(2026, 2, 1)) == [
        (at(2025, 12, 1), at(2026, 1, 1)),
        (at(2026, 1, 1), at(2026, 2, 1)),  # a period starting at until is not included
    ]
    assert billing_periods(sub_, until=at(2027, 1, 1)) == [
        (at(2025, 12, 1), at(2026, 1, 1)),
        (at(2026, 1, 1), at(2026, 2, 1)),
        (at(2026, 2, 1), at(2026, 3, 1)),
        (at(2026, 3, 1), at(2026, 3, 10, 12)),  # cut short at the end, same start
    ]
    assert billing_periods(sub_, until=at(2027, 1, 1), since=at(2026, 2, 1)) == [
        (at(2026, 2, 1), at(2026, 3, 1)),
        (at(2026, 3, 1), at(2026, 3, 10, 12)),
    ]


def test_a_subscription_ended_before_its_anchor_has_no_billing_period():
    sub_ = sub(at(2025, 12, 15), ended_at=at(2025, 12, 15))
    assert billing_periods(sub_, until=at(2027, 1, 1)) == []


def test_as_of_a_day_bills_fees_starting_that_day_and_usage_of_periods_over_by_then():
    advance, arrears = as_of_cutoffs(dt.date(2026, 12, 1))
    assert advance == at(2026, 12, 2) and arrears == at(2026, 12, 1)


@given(
    anchor=st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2040, 1, 1)),
    offset=st.timedeltas(min_value=dt.timedelta(days=-800), max_value=dt.timedelta(days=4000)),
    period=st.sampled_from([MONTHLY, YEARLY]),
)
def test_the_period_containing_an_instant_contains_it_and_has_a_calendar_length(
    anchor, offset, period
):
    anchor = anchor.replace(tzinfo=dt.UTC)
    instant = anchor + offset
    start, end = period_bounds(anchor=anchor, billing_period=period, at=instant)
    assert start <= instant < end
    days = (end - start).days
    assert 28 <= days <= 31 if period == MONTHLY else days in (365, 366)
    # Consecutive periods touch: the next one starts where this one ends.
    assert period_bounds(anchor=anchor, billing_period=period, at=end)[0] == end
