import io
from decimal import Decimal

from catalog import demo
from catalog.choices import ChargeModel, SubscriptionStatus
from catalog.models import Plan, Price, Subscription
from catalog.rating import rate_minor


def test_demo_catalog_and_subscriptions_are_seeded_once(make_account):
    accounts = [make_account(c) for c in ["EUR", "EUR", "USD", "GBP", "CHF", "JPY", "KWD", "SEK"]]
    out = io.StringIO()
    demo.seed(out=out)
    assert Plan.objects.count() == len(demo.PLANS) * len(demo.CURRENCIES)
    models = set(Price.objects.values_list("charge_model", flat=True))
    assert models == set(ChargeModel.values)
    for account in accounts[:-1]:
        subscriptions = account.subscriptions.select_related("plan")
        assert subscriptions.exists()
        assert {s.plan.currency for s in subscriptions} == {account.currency}
    assert not accounts[-1].subscriptions.exists()  # no SEK plans
    assert Subscription.objects.filter(status=SubscriptionStatus.CANCELED).count() == 1
    assert Subscription.objects.filter(status=SubscriptionStatus.TRIALING).count() == 1

    counts = (Plan.objects.count(), Price.objects.count(), Subscription.objects.count())
    again = io.StringIO()
    demo.seed(out=again)
    assert (Plan.objects.count(), Price.objects.count(), Subscription.objects.count()) == counts
    assert "0 plans and 0 subscriptions" in again.getvalue()


def test_demo_amounts_fit_each_currency(db):
    demo.seed(out=io.StringIO())
    base_jpy = Price.objects.get(plan__code="TEAM-JPY", code="base")
    assert base_jpy.unit_amount == Decimal(7840)  # 49 EUR × 160, whole yen
    assert rate_minor(price=base_jpy, quantity=Decimal(1)) == 7840
    hours_kwd = Price.objects.get(plan__code="TEAM-KWD", code="cluster_hours")
    # 100 × 0.0396 + 50 × 0.033 = 5.61 KWD = 5610 fils
    assert rate_minor(price=hours_kwd, quantity=Decimal(150)) == 5610
