import datetime as dt
from decimal import Decimal

from catalog.rating import rate_minor
from catalog.selectors import subscriptions_active, subscriptions_due
from catalog.services import subscription_cancel, subscription_create

from .conftest import at


def test_due_periods_have_started_by_the_day_and_stop_at_the_end(make_account, make_plan):
    plan = make_plan("TEAM-EUR")
    running = subscription_create(account=make_account(), plan=plan, start=at(2025, 12, 1))
    trial = subscription_create(
        account=make_account(), plan=plan, start=at(2025, 12, 1), trial_days=14
    )
    ended = subscription_create(account=make_account(), plan=plan, start=at(2025, 12, 1))
    subscription_cancel(subscription=ended, at_period_end=False, now=at(2025, 12, 20))
    future = subscription_create(account=make_account(), plan=plan, start=at(2026, 2, 2))

    due = [(s.pk, start, end) for s, start, end in subscriptions_due(as_of=dt.date(2026, 2, 1))]

    assert due == [
        (running.pk, at(2025, 12, 1), at(2026, 1, 1)),
        (running.pk, at(2026, 1, 1), at(2026, 2, 1)),
        (running.pk, at(2026, 2, 1), at(2026, 3, 1)),  # starts on the day: fee due in advance
        (trial.pk, at(2025, 12, 15), at(2026, 1, 15)),
        (trial.pk, at(2026, 1, 15), at(2026, 2, 15)),
        (ended.pk, at(2025, 12, 1), at(2025, 12, 20)),  # cut short: usage up to the end
    ]
    assert future.pk not in {pk for pk, _, _ in due}
    since = [
        (s.pk, a) for s, a, _ in subscriptions_due(as_of=at(2026, 2, 1), since=at(2026, 1, 31))
    ]
    assert since == [
        (running.pk, at(2026, 1, 1)),
        (running.pk, at(2026, 2, 1)),
        (trial.pk, at(2026, 1, 15)),
    ]


def test_due_subscriptions_come_with_everything_rating_needs(
    make_account, make_plan, django_assert_max_num_queries
):
    plans = [make_plan("TEAM-EUR"), make_plan("BUSINESS-EUR", fee="299")]
    for n in range(6):
        subscription_create(account=make_account(), plan=plans[n % 2], start=at(2025, 12, 1))
    with django_assert_max_num_queries(5):
        totals = [
            rate_minor(price=price, quantity=Decimal(150))
            for subscription, _, _ in subscriptions_due(as_of=dt.date(2026, 1, 1))
            for price in subscription.plan.prices.all()
            if subscription.account.legal_name
        ]
    # 17.00 for 150 hours; flat fees are per seat: 150 × 49.00 and 150 × 299.00
    assert sorted(set(totals)) == [1700, 735000, 4485000]


def test_active_means_started_and_not_ended(make_account, make_plan):
    plan = make_plan("TEAM-EUR")
    running = subscription_create(account=make_account(), plan=plan, start=at(2025, 12, 1))
    ended = subscription_create(account=make_account(), plan=plan, start=at(2025, 12, 1))
    subscription_cancel(subscription=ended, at_period_end=False, now=at(2026, 1, 10))
    assert set(subscriptions_active(as_of=dt.date(2026, 1, 5))) == {running, ended}
    assert list(subscriptions_active(as_of=dt.date(2026, 1, 10))) == [running]
    assert list(subscriptions_active(as_of=dt.date(2025, 11, 30))) == []
