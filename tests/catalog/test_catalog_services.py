from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from catalog.choices import BillingPeriod, ChargeModel, Timing
from catalog.exceptions import InvalidPlan, InvalidPrice
from catalog.models import Plan, Price, PriceTier
from catalog.rating import Tier
from catalog.services import plan_create, plan_save, price_create, price_save, subscription_create
from common.money import UnknownCurrency

from .conftest import at

D = Decimal


@pytest.mark.parametrize("currency", ["XYZ", "eur", "EURO", ""])
def test_plan_with_an_unknown_currency_is_refused(product, currency):
    with pytest.raises(UnknownCurrency) as exc:
        plan_create(
            code="TEAM-X",
            name="Team",
            product=product,
            billing_period=BillingPeriod.MONTHLY,
            currency=currency,
        )
    assert exc.value.code == "unknown_currency"
    assert not Plan.objects.exists()


def test_currency_of_a_subscribed_plan_cannot_change(make_plan, make_account):
    plan = make_plan("TEAM-EUR")
    plan.currency = "USD"
    plan_save(plan=plan)  # nobody subscribed yet: allowed
    plan.currency = "EUR"
    plan_save(plan=plan)
    subscription_create(account=make_account("EUR"), plan=plan, start=at(2025, 12, 1))
    plan.currency = "USD"
    with pytest.raises(InvalidPlan, match="currency cannot change"):
        plan_save(plan=plan)
    assert Plan.objects.get(pk=plan.pk).currency == "EUR"


@pytest.fixture
def plan(product):
    return plan_create(
        code="TEAM-EUR",
        name="Team",
        product=product,
        billing_period=BillingPeriod.MONTHLY,
        currency="EUR",
    )


def make_price(plan, **overrides):
    fields = {
        "plan": plan,
        "code": "cluster_hours",
        "description": "Cluster hours",
        "charge_model": ChargeModel.GRADUATED,
        "timing": Timing.IN_ARREARS,
        "tiers": [Tier(D(100), D("0.12")), Tier(None, D("0.10"))],
    }
    fields.update(overrides)
    return price_create(**fields)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"tiers": [Tier(D(1000), D("0.10")), Tier(D(100), D("0.12")), Tier(None, D(0))]},
            "tiers",
            "must be above the previous tier",
        ),
        (
            {"tiers": [Tier(D(100), D("0.12")), Tier(D(100), D("0.1")), Tier(None, D(0))]},
            "tiers",
            "must be above the previous tier",
        ),
        ({"tiers": [Tier(D(100), D("0.12"))]}, "tiers", "last tier must be open-ended"),
        (
            {"tiers": [Tier(None, D("0.12")), Tier(D(100), D("0.1"))]},
            "tiers",
            "only the last tier may be open-ended",
        ),
        ({"tiers": []}, "tiers", "needs at least one tier"),
        ({"tiers": [Tier(None, D("-0.1"))]}, "tiers", "must not be negative"),
        ({"timing": Timing.IN_ADVANCE}, "timing", "billed in arrears"),
        (
            {"charge_model": ChargeModel.PACKAGE, "unit_amount": D(5), "tiers": []},
            "package_size",
            "units per block",
        ),
        (
            {
                "charge_model": ChargeModel.PACKAGE,
                "unit_amount": D(5),
                "package_size": D(0),
                "tiers": [],
            },
            "package_size",
            "above 0",
        ),
        (
            {"charge_model": ChargeModel.PER_UNIT, "unit_amount": D("-1"), "tiers": []},
            "unit_amount",
            "must not be negative",
        ),
        (
            {"charge_model": ChargeModel.PER_UNIT, "unit_amount": D(1)},
            "tiers",
            "only graduated and volume prices have tiers",
        ),
        ({"minimum_amount": D("-5")}, "minimum_amount", "must not be negative"),
        (
            {
                "charge_model": ChargeModel.PER_UNIT,
                "unit_amount": D("0.0000000000001"),
                "tiers": [],
            },
            "unit_amount",
            "more than 12 decimal places",
        ),
    ],
)
def test_invalid_prices_are_refused_with_the_field_and_nothing_written(
    plan, overrides, field, message
):
    with pytest.raises(InvalidPrice) as exc:
        make_price(plan, **overrides)
    assert exc.value.code == "invalid_price"
    assert any(message in m for m in exc.value.extra["errors"][field])
    assert not Price.objects.exists()
    assert not PriceTier.objects.exists()


def test_flat_fees_may_be_billed_in_advance_or_in_arrears(plan):
    for code, timing in (("base", Timing.IN_ADVANCE), ("overage_fee", Timing.IN_ARREARS)):
        make_price(
            plan,
            code=code,
            charge_model=ChargeModel.FLAT,
            timing=timing,
            unit_amount=D(49),
            tiers=[],
        )
    assert plan.prices.count() == 2


def test_saving_a_price_replaces_its_tiers_and_keeps_their_history(plan):
    price = make_price(plan)
    price_save(price=price, tiers=[Tier(D(50), D("0.2")), Tier(None, D("0.1"), D(3))])
    assert [(t.up_to, t.unit_amount, t.flat_amount) for t in price.tiers.all()] == [
        (D(50), D("0.2"), D(0)),
        (None, D("0.1"), D(3)),
    ]
    assert PriceTier.history.filter(history_type="-").count() == 2


def test_the_database_refuses_usage_billed_in_advance_even_past_the_service(plan):
    with pytest.raises(IntegrityError), transaction.atomic():
        Price.objects.create(
            plan=plan,
            code="sneaky",
            description="x",
            charge_model=ChargeModel.PER_UNIT,
            timing=Timing.IN_ADVANCE,
            unit_amount=D(1),
        )
