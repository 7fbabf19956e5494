import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.choices import BillingPeriod, SubscriptionStatus
from catalog.exceptions import (
    InvalidQuantity,
    PlanBillingPeriodMismatch,
    PlanCurrencyMismatch,
    SubscriptionStateError,
)
from catalog.models import Subscription
from catalog.periods import billing_periods
from catalog.proration import split_fee, split_seconds
from catalog.services import (
    subscription_cancel,
    subscription_change_plan,
    subscription_create,
    subscriptions_advance,
)

from .conftest import at

DEC_1, JAN_1 = at(2025, 12, 1), at(2026, 1, 1)
DEC_16 = at(2025, 12, 16)  # 16 of December's 31 days remain


@pytest.fixture
def team(make_plan):
    return make_plan("TEAM-EUR", fee="49")


@pytest.fixture
def business(make_plan):
    return make_plan("BUSINESS-EUR", fee="299")


@pytest.fixture
def subscription(make_account, team):
    return subscription_create(account=make_account("EUR"), plan=team, start=DEC_1, now=DEC_1)


def history_count(subscription):
    return subscription.history.count()


def test_create_bills_from_the_start(subscription):
    assert subscription.status == SubscriptionStatus.ACTIVE
    assert subscription.billing_anchor == DEC_1
    assert billing_periods(subscription, until=at(2026, 2, 1)) == [
        (DEC_1, JAN_1),
        (JAN_1, at(2026, 2, 1)),
    ]


def test_a_trial_is_not_billed(make_account, team):
    sub = subscription_create(
        account=make_account(), plan=team, start=DEC_1, trial_days=14, now=DEC_1
    )
    assert sub.status == SubscriptionStatus.TRIALING
    assert sub.trial_end == at(2025, 12, 15)
    assert billing_periods(sub, until=at(2026, 1, 16))[0] == (at(2025, 12, 15), at(2026, 1, 15))
    assert subscriptions_advance(now=at(2025, 12, 15)) == {"activated": 1, "ended": 0}
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.ACTIVE


def test_plan_in_another_currency_than_the_account_is_refused(make_account, make_plan):
    usd = make_plan("TEAM-USD", currency="USD")
    with pytest.raises(PlanCurrencyMismatch) as exc:
        subscription_create(account=make_account("EUR"), plan=usd, start=DEC_1, now=DEC_1)
    assert exc.value.code == "plan_currency_mismatch"
    assert not Subscription.objects.exists()


@pytest.mark.parametrize("seats", [0, -1])
def test_zero_or_negative_seats_are_refused(make_account, team, seats):
    with pytest.raises(InvalidQuantity):
        subscription_create(account=make_account(), plan=team, start=DEC_1, quantity=seats)
    assert not Subscription.objects.exists()


def test_change_plan_mid_period_credits_the_unused_part_and_charges_the_new_plan(
    subscription, team, business, admin_user
):
    items = subscription_change_plan(
        subscription=subscription, new_plan=business, now=DEC_16, actor=admin_user
    )
    # 4900 × 16/31 = 2529.03 and 29900 × 16/31 = 15432.26 cents: only the fees, not usage.
    assert [(i.amount_minor, i.period_start, i.period_end) for i in items] == [
        (-2529, DEC_16, JAN_1),
        (15432, DEC_16, JAN_1),
    ]
    assert items[0].price_id == team.prices.get(code="base").pk
    assert items[1].price_id == business.prices.get(code="base").pk
    assert items[0].fraction == Decimal("0.516129032258")
    assert items[0].description.startswith("Unused time on")
    assert items[1].description.startswith("Remaining time on")
    subscription.refresh_from_db()
    assert subscription.plan == business
    assert subscription.billing_anchor == DEC_1  # the calendar of periods does not move
    latest = subscription.history.first()
    assert latest.history_change_reason == "plan changed from TEAM-EUR to BUSINESS-EUR"
    assert latest.history_user == admin_user


def test_seats_multiply_the_prorated_fee(make_account, team, business):
    sub = subscription_create(account=make_account(), plan=team, start=DEC_1, quantity=3, now=DEC_1)
    items = subscription_change_plan(subscription=sub, new_plan=business, now=DEC_16)
    assert items[0].amount_minor == -7587  # 14700 × 16/31 = 7587.10
    assert items[0].quantity == 3


def test_change_during_the_trial_prorates_nothing(make_account, team, business):
    sub = subscription_create(
        account=make_account(), plan=team, start=DEC_1, trial_days=30, now=DEC_1
    )
    assert subscription_change_plan(subscription=sub, new_plan=business, now=DEC_16) == []
    assert sub.plan == business


def test_change_to_a_plan_in_another_currency_is_refused_and_nothing_written(
    subscription, make_plan
):
    usd = make_plan("BUSINESS-USD", currency="USD")
    before = history_count(subscription)
    with pytest.raises(PlanCurrencyMismatch):
        subscription_change_plan(subscription=subscription, new_plan=usd, now=DEC_16)
    fresh = Subscription.objects.get(pk=subscription.pk)
    assert fresh.plan.code == "TEAM-EUR"
    assert fresh.updated_at == subscription.updated_at
    assert history_count(fresh) == before


def test_change_to_a_yearly_plan_is_refused(subscription, make_plan):
    yearly = make_plan("ENTERPRISE-Y-EUR", period=BillingPeriod.YEARLY)
    with pytest.raises(PlanBillingPeriodMismatch):
        subscription_change_plan(subscription=subscription, new_plan=yearly, now=DEC_16)
    assert Subscription.objects.get(pk=subscription.pk).plan.code == "TEAM-EUR"


def test_cancel_at_period_end_keeps_billing_until_then(subscription):
    assert subscription_cancel(subscription=subscription, at_period_end=True, now=DEC_16) == []
    assert subscription.status == SubscriptionStatus.CANCELED
    assert subscription.ended_at == JAN_1
    assert billing_periods(subscription, until=at(2026, 6, 1)) == [(DEC_1, JAN_1)]
    with pytest.raises(SubscriptionStateError):
        subscription_cancel(subscription=subscription, at_period_end=True, now=DEC_16)
    with pytest.raises(SubscriptionStateError):
        subscription_change_plan(subscription=subscription, new_plan=subscription.plan, now=DEC_16)
    assert subscriptions_advance(now=JAN_1) == {"activated": 0, "ended": 1}
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ENDED


def test_cancel_immediately_credits_the_unused_fee(subscription):
    items = subscription_cancel(
        subscription=subscription, at_period_end=False, now=DEC_16, reason="going elsewhere"
    )
    assert [(i.amount_minor, i.period_start, i.period_end) for i in items] == [
        (-2529, DEC_16, JAN_1)
    ]
    assert subscription.status == SubscriptionStatus.ENDED
    assert subscription.ended_at == DEC_16
    assert subscription.cancel_reason == "going elsewhere"
    # The cut-short period keeps its start; usage is billed up to the end.
    assert billing_periods(subscription, until=at(2026, 6, 1)) == [(DEC_1, DEC_16)]
    with pytest.raises(SubscriptionStateError):
        subscription_cancel(subscription=subscription, at_period_end=False, now=DEC_16)


# -------------------------------------------------------------------- proration sums


period_starts = st.datetimes(
    min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2030, 12, 31)
).map(lambda d: d.replace(tzinfo=dt.UTC, microsecond=0))


@given(
    start=period_starts,
    days=st.sampled_from([28, 29, 30, 31, 365, 366]),
    position=st.floats(min_value=0, max_value=1),
    full=st.integers(min_value=0, max_value=10**9),
    currency=st.sampled_from(["EUR", "JPY", "KWD"]),
)
def test_unused_credit_plus_used_part_is_the_full_fee(start, days, position, full, currency):
    end = start + dt.timedelta(days=days)
    change = start + (end - start) * position
    remaining, used = split_seconds(period=(start, end), at=change)
    assert remaining + used == days * 86400
    unused, used_part = split_fee(
        full_minor=full, currency=currency, remaining=remaining, used=used
    )
    assert unused + used_part == full
    # Each part is its exact share, rounded once (to less than one minor unit).
    exact = full * remaining / (remaining + used)
    assert abs(unused - exact) < 1


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seconds=st.integers(min_value=0, max_value=31 * 86400 - 1))
def test_changing_plan_at_any_second_credits_exactly_what_was_not_used(
    make_account, team, business, seconds
):
    sub = subscription_create(account=make_account(), plan=team, start=DEC_1, now=DEC_1)
    change = DEC_1 + dt.timedelta(seconds=seconds)
    items = subscription_change_plan(subscription=sub, new_plan=business, now=change)
    credit = sum(i.amount_minor for i in items if i.amount_minor < 0)
    charge = sum(i.amount_minor for i in items if i.amount_minor > 0)
    remaining = 31 * 86400 - seconds
    used_old = 4900 + credit  # what the customer keeps paying for the old plan
    assert abs(used_old - 4900 * seconds / (31 * 86400)) < 1
    assert abs(charge - 29900 * remaining / (31 * 86400)) < 1
    # The period costs the old fee for the used seconds plus the new fee for the rest.
    exact_period = (4900 * seconds + 29900 * remaining) / (31 * 86400)
    assert abs(used_old + charge - exact_period) < 2
