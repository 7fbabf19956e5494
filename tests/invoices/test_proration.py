"""Plan changes and immediate cancellations bill their proration at once."""

import datetime as dt
from decimal import Decimal

import pytest

from catalog.choices import BillingPeriod, ChargeModel, SubscriptionStatus, Timing
from catalog.exceptions import PlanCurrencyMismatch
from catalog.services import plan_create, price_create, product_create, subscription_create
from invoices.billing import billing_run
from invoices.models import CreditNote, Invoice
from invoices.proration import (
    subscription_cancel_now_and_credit,
    subscription_change_plan_and_invoice,
)
from invoices.services import credit_balance, invoice_mark_paid
from ledger.selectors import trial_balance

pytestmark = pytest.mark.django_db

UTC = dt.UTC
MARCH = (dt.datetime(2026, 3, 1, tzinfo=UTC), dt.datetime(2026, 4, 1, tzinfo=UTC))


@pytest.fixture
def plans(db):
    product = product_create(code="clusters", name="Managed clusters")

    def plan(code: str, fee: str, currency: str = "EUR"):
        created = plan_create(
            code=code,
            name=code.title(),
            product=product,
            billing_period=BillingPeriod.MONTHLY,
            currency=currency,
        )
        price_create(
            plan=created,
            code="base",
            description=f"{code.title()} fee",
            charge_model=ChargeModel.FLAT,
            timing=Timing.IN_ADVANCE,
            unit_amount=Decimal(fee),
        )
        return created

    return {
        "basic": plan("basic", "30.00"),
        "pro": plan("pro", "90.00"),
        "pro_usd": plan("pro-usd", "90.00", currency="USD"),
    }


@pytest.fixture
def march_invoice(account, plans):
    """A subscription from 1 March, its March invoice billed by the billing run."""

    def make(plan_name: str):
        subscription = subscription_create(
            account=account, plan=plans[plan_name], start=MARCH[0], now=MARCH[0], trial_days=0
        )
        billing_run(as_of=dt.date(2026, 3, 1), now=MARCH[0] + dt.timedelta(hours=6))
        invoice = Invoice.objects.get(subscription=subscription)
        return subscription, invoice

    return make


def _balanced() -> bool:
    return all(t.debit_minor == t.credit_minor for t in trial_balance().totals.values())


def test_an_upgrade_bills_the_new_remainder_and_credits_the_unused_part(
    march_invoice, plans, accountant
):
    subscription, march = march_invoice("basic")
    assert march.net_minor == 30_00
    at = dt.datetime(2026, 3, 16, tzinfo=UTC)  # 16 of March's 31 days are left

    result = subscription_change_plan_and_invoice(
        subscription=subscription, new_plan=plans["pro"], actor=accountant, now=at
    )

    subscription.refresh_from_db()
    assert subscription.plan == plans["pro"]
    invoice = result.invoice
    assert result.credit_notes == []
    assert invoice.status == "OPEN" and invoice.number and invoice.kind == "ADJUSTMENT"
    lines = list(invoice.lines.order_by("position"))
    # 30.00 x 16/31 = 15.48 back, 90.00 x 16/31 = 46.45 charged, each on its own line.
    assert [ln.net_minor for ln in lines] == [-15_48, 46_45]
    assert "Basic" in lines[0].description and "Pro" in lines[1].description
    for line in lines:
        assert (line.period_start, line.period_end) == (at, MARCH[1])
        assert "2026-03-16" in line.description and "2026-04-01" in line.description
    assert invoice.net_minor == 30_97
    assert invoice.tax_minor == 5_88  # 19 % of the net, rounded once
    assert invoice.subscription_id == subscription.pk
    assert _balanced()


def test_cancel_now_credits_the_unused_time_on_the_invoice_that_billed_it(
    march_invoice, accountant
):
    subscription, march = march_invoice("pro")
    invoice_mark_paid(
        invoice=march, amount_minor=march.gross_minor, paid_at=MARCH[0], reference="t"
    )
    at = dt.datetime(2026, 3, 24, tzinfo=UTC)  # 8 of 31 days left

    result = subscription_cancel_now_and_credit(
        subscription=subscription, actor=accountant, reason="customer left", now=at
    )

    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ENDED
    assert result.invoice is None
    (note,) = result.credit_notes
    assert note.invoice_id == march.pk
    assert note.net_minor == 23_23  # 90.00 x 8/31, split off exactly
    assert "customer left" in note.reason
    assert "2026-03-24" in note.lines.get().description
    # March was paid: the credit is the customer's, for the next invoice.
    assert credit_balance(account_id=subscription.account_id, currency="EUR") == note.gross_minor
    assert _balanced()


def test_a_downgrade_credits_the_old_invoice_and_bills_the_new_plan_from_that_credit(
    march_invoice, plans, accountant
):
    subscription, march = march_invoice("pro")
    invoice_mark_paid(
        invoice=march, amount_minor=march.gross_minor, paid_at=MARCH[0], reference="t"
    )
    at = dt.datetime(2026, 3, 16, tzinfo=UTC)

    result = subscription_change_plan_and_invoice(
        subscription=subscription, new_plan=plans["basic"], actor=accountant, now=at
    )

    (note,) = result.credit_notes
    assert note.invoice_id == march.pk and note.net_minor == 46_45
    invoice = result.invoice
    assert [ln.net_minor for ln in invoice.lines.all()] == [15_48]
    assert invoice.credit_applied_minor == invoice.gross_minor
    assert invoice.status == "PAID"
    assert credit_balance(account_id=subscription.account_id, currency="EUR") == (
        note.gross_minor - invoice.gross_minor
    )
    assert _balanced()


def test_a_refused_change_writes_nothing(march_invoice, plans, accountant):
    subscription, _ = march_invoice("basic")
    with pytest.raises(PlanCurrencyMismatch):
        subscription_change_plan_and_invoice(
            subscription=subscription,
            new_plan=plans["pro_usd"],
            actor=accountant,
            now=dt.datetime(2026, 3, 16, tzinfo=UTC),
        )
    subscription.refresh_from_db()
    assert subscription.plan == plans["basic"]
    assert Invoice.objects.count() == 1 and not CreditNote.objects.exists()


@pytest.fixture
def mid_march(time_machine):
    # The admin actions act at the real "now"; put it inside the billed March period.
    time_machine.move_to(dt.datetime(2026, 3, 20, 12, tzinfo=UTC), tick=False)


def test_admin_change_plan_offers_same_currency_plans_and_bills(
    march_invoice, plans, admin_client, mid_march
):
    subscription, _ = march_invoice("basic")
    url = "/admin/catalog/subscription/"
    chosen = {"action": "change_plan_action", "_selected_action": [subscription.pk]}

    page = admin_client.post(url, chosen).content.decode()
    assert "Pro (EUR)" in page
    assert "USD" not in page.split('name="plan"')[1].split("</select>")[0]

    response = admin_client.post(url, {**chosen, "apply": "1", "plan": plans["pro"].pk})
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert subscription.plan == plans["pro"]
    assert Invoice.objects.filter(subscription=subscription, kind="ADJUSTMENT").count() == 1


def test_admin_cancel_now_asks_then_credits(march_invoice, admin_client, mid_march):
    subscription, march = march_invoice("pro")
    url = "/admin/catalog/subscription/"
    chosen = {"action": "cancel_now_action", "_selected_action": [subscription.pk]}

    assert "These subscriptions end now" in admin_client.post(url, chosen).content.decode()
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE

    admin_client.post(url, {**chosen, "apply": "1", "reason": "moved away"})
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ENDED
    assert CreditNote.objects.filter(invoice=march).exists()


def test_the_actions_need_the_right_to_change_subscriptions(accountant, client):
    client.force_login(accountant)
    page = client.get("/admin/catalog/subscription/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "cancel_at_period_end_action" in html  # catalog's own action, open to viewers
    assert "change_plan_action" not in html and "cancel_now_action" not in html
