from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.choices import BillingPeriod, ChargeModel, SubscriptionStatus, Timing
from catalog.models import Plan, Price, Subscription
from catalog.services import plan_create, subscription_create

from .conftest import at

D = Decimal


@pytest.fixture
def plan(product):
    return plan_create(
        code="TEAM-EUR",
        name="Team",
        product=product,
        billing_period=BillingPeriod.MONTHLY,
        currency="EUR",
    )


def price_post(plan, tiers, **fields):
    data = {
        "plan": plan.pk,
        "code": "cluster_hours",
        "description": "Cluster hours",
        "charge_model": ChargeModel.GRADUATED,
        "timing": Timing.IN_ARREARS,
        "unit_amount": "0",
        "package_size": "",
        "minimum_amount": "",
        "unit_label": "hour",
        "tiers-TOTAL_FORMS": str(len(tiers)),
        "tiers-INITIAL_FORMS": "0",
        "tiers-MIN_NUM_FORMS": "0",
        "tiers-MAX_NUM_FORMS": "1000",
    }
    for n, (up_to, unit, flat) in enumerate(tiers):
        data[f"tiers-{n}-up_to"] = up_to
        data[f"tiers-{n}-unit_amount"] = unit
        data[f"tiers-{n}-flat_amount"] = flat
    data.update(fields)
    return data


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        ([("100", "0.12", "0"), ("", "0.10", "0"), ("", "0.2", "0")], "only the last tier"),
        ([("100", "0.12", "0"), ("100", "0.10", "0"), ("", "0.2", "0")], "duplicate"),
        ([("100", "0.12", "0")], "the last tier must be open-ended"),
    ],
)
def test_price_with_bad_tiers_is_shown_as_an_error_and_not_saved(
    admin_client, plan, tiers, message
):
    response = admin_client.post(reverse("admin:catalog_price_add"), price_post(plan, tiers))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Price.objects.exists()


def test_usage_price_billed_in_advance_is_a_field_error(admin_client, plan):
    response = admin_client.post(
        reverse("admin:catalog_price_add"),
        price_post(plan, [("", "0.10", "0")], timing=Timing.IN_ADVANCE),
    )
    assert response.status_code == 200
    assert "usage is billed in arrears" in response.content.decode()
    assert not Price.objects.exists()


def test_price_is_saved_with_its_tiers_through_the_admin(admin_client, admin_user, plan):
    response = admin_client.post(
        reverse("admin:catalog_price_add"),
        price_post(plan, [("", "0.10", "0"), ("100", "0.12", "5")]),  # any order
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    price = Price.objects.get()
    assert [(t.up_to, t.unit_amount, t.flat_amount) for t in price.tiers.all()] == [
        (D(100), D("0.12"), D(5)),
        (None, D("0.10"), D(0)),
    ]
    assert price.history.get().history_user == admin_user


def test_plan_with_an_unknown_currency_is_a_field_error(admin_client, product):
    response = admin_client.post(
        reverse("admin:catalog_plan_add"),
        {
            "code": "TEAM-XYZ",
            "name": "Team",
            "product": product.pk,
            "billing_period": BillingPeriod.MONTHLY,
            "currency": "XYZ",
            "active": "on",
            "trial_days": "0",
            "prices-TOTAL_FORMS": "0",
            "prices-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "not a known ISO 4217 currency code" in response.content.decode()
    assert not Plan.objects.filter(code="TEAM-XYZ").exists()


def test_subscription_screens(admin_client, make_account, plan):
    account = make_account(legal_name="Brandt Logistik GmbH")
    other = make_account(currency="USD")
    subscription = subscription_create(account=account, plan=plan, start=at(2025, 12, 1))
    changelist = reverse("admin:catalog_subscription_changelist")
    assert "Brandt Logistik" in admin_client.get(changelist, {"q": "brandt"}).content.decode()
    assert admin_client.get(changelist, {"status__exact": "ACTIVE"}).status_code == 200
    change = reverse("admin:catalog_subscription_change", args=[subscription.pk])
    assert admin_client.get(change).status_code == 200

    add = reverse("admin:catalog_subscription_add")
    refused = admin_client.post(
        add,
        {
            "account": other.pk,
            "plan": plan.pk,
            "started_at_0": "2026-01-01",
            "started_at_1": "00:00:00",
            "quantity": "1",
        },
    )
    assert "the account is billed in USD" in refused.content.decode()
    created = admin_client.post(
        add,
        {
            "account": account.pk,
            "plan": plan.pk,
            "started_at_0": "2026-01-01",
            "started_at_1": "00:00:00",
            "trial_days": "7",
            "quantity": "2",
        },
    )
    assert created.status_code == 302
    new = Subscription.objects.exclude(pk=subscription.pk).get()
    # Staff enter Berlin time: 2026-01-01 00:00 CET is 2025-12-31 23:00 UTC.
    assert (new.started_at, new.trial_end, new.quantity) == (
        at(2025, 12, 31, 23),
        at(2026, 1, 7, 23),
        2,
    )
    assert new.history.get().history_type == "+"


def test_cancel_at_period_end_action(admin_client, make_account, plan):
    subscription = subscription_create(account=make_account(), plan=plan, start=at(2025, 12, 1))
    response = admin_client.post(
        reverse("admin:catalog_subscription_changelist"),
        {"action": "cancel_at_period_end_action", "_selected_action": [subscription.pk]},
    )
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.CANCELED
    assert subscription.cancel_at_period_end


def test_plan_page_lists_its_prices_and_price_page_its_tiers(admin_client, make_plan):
    plan = make_plan("TEAM-EUR")
    page = admin_client.get(reverse("admin:catalog_plan_change", args=[plan.pk])).content.decode()
    assert "cluster_hours" in page and "Cluster hours" in page
    price = plan.prices.get(code="cluster_hours")
    page = admin_client.get(reverse("admin:catalog_price_change", args=[price.pk]))
    assert page.status_code == 200
    assert 'name="tiers-0-up_to"' in page.content.decode()
