"""The billing run: one invoice per subscription and boundary; reruns and crash-restarts create
no duplicates and miss nobody."""

import datetime as dt
from decimal import Decimal

import pytest

from invoices import billing
from invoices.models import BillingRun, Invoice
from invoices.services import billing_run
from tests.invoices.conftest import account_make

JAN = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
RUN_NOW = dt.datetime(2026, 2, 1, 6, 0, tzinfo=dt.UTC)


@pytest.fixture
def plan(db):
    from catalog.services import plan_create, price_create, product_create
    from metering.services import meter_create

    product = product_create(code="clusters", name="Managed clusters")
    plan = plan_create(
        code="TEAM-EUR", name="Team", product=product, billing_period="MONTHLY", currency="EUR"
    )
    price_create(
        plan=plan,
        code="base",
        description="Team plan",
        charge_model="FLAT",
        timing="IN_ADVANCE",
        unit_amount=Decimal("49.00"),
    )
    hours = price_create(
        plan=plan,
        code="cluster_hours",
        description="Cluster hours",
        charge_model="PER_UNIT",
        timing="IN_ARREARS",
        unit_amount=Decimal("0.10"),
    )
    meter_create(
        code="cluster_hours",
        name="Cluster hours",
        unit="hour",
        aggregation="SUM",
        value_property="hours",
        price=hours,
    )
    return plan


@pytest.fixture
def subscriptions(plan):
    from catalog.services import subscription_create
    from metering.services import usage_events_ingest

    subs = []
    events = []
    for n in range(5):
        account = account_make(created_at=dt.datetime(2025, 12, 1, tzinfo=dt.UTC))
        subs.append(subscription_create(account=account, plan=plan, start=JAN, now=JAN))
        events += [
            {
                "id": f"e{n}-{k}",
                "account": account.pk,
                "meter": "cluster_hours",
                "timestamp": f"2026-01-{10 + k}T12:00:00Z",
                "properties": {"hours": str(10 * (n + 1))},
            }
            for k in range(3)
        ]
    result = usage_events_ingest(events=events)
    assert result["accepted"] == 15
    return subs


def _snapshot():
    return sorted(Invoice.objects.values_list("billing_key", "number", "gross_minor", "status"))


def test_one_invoice_per_subscription_and_boundary(subscriptions):
    result = billing_run(as_of=dt.date(2026, 2, 1), now=RUN_NOW)
    assert (result.created, result.errors) == (10, [])
    sub = subscriptions[1]
    feb = Invoice.objects.get(billing_key=f"{sub.pk}:2026-02-01")
    lines = list(feb.lines.order_by("position").values_list("description", "quantity", "net_minor"))
    # Feb's fee in advance + January's 3 x 20 hours at 0.10 in arrears
    assert lines == [("Team plan", Decimal(1), 4900), ("Cluster hours", Decimal(60), 600)]
    assert feb.gross_minor == 6545 and feb.status == "OPEN" and feb.number
    # January's usage and February's fee: inclusive UTC dates, as the lines print them.
    assert (feb.service_period_start, feb.service_period_end) == (
        dt.date(2026, 1, 1),
        dt.date(2026, 2, 28),
    )
    jan = Invoice.objects.get(billing_key=f"{sub.pk}:2026-01-01")
    assert list(jan.lines.values_list("description", flat=True)) == ["Team plan"]
    run = BillingRun.objects.get(pk=result.run_id)
    assert run.finished_at is not None and run.created_count == 10


def test_running_twice_creates_nothing_new(subscriptions):
    billing_run(as_of=dt.date(2026, 2, 1), now=RUN_NOW)
    before = _snapshot()
    again = billing_run(as_of=dt.date(2026, 2, 1), now=RUN_NOW)
    assert (again.created, again.skipped) == (0, 10)
    assert _snapshot() == before


def test_a_crash_midway_then_a_rerun_bills_everyone_exactly_once(subscriptions, monkeypatch):
    from metering.models import UsageBilled

    class Crash(BaseException):
        """Like a killed worker: not an Exception, so nothing in the run catches it."""

    real = billing.bill_boundary
    calls = {"n": 0}

    def crashing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise Crash
        return real(*args, **kwargs)

    monkeypatch.setattr(billing, "bill_boundary", crashing)
    with pytest.raises(Crash):
        billing_run(as_of=dt.date(2026, 2, 1), now=RUN_NOW)
    assert Invoice.objects.count() == 3  # a consistent prefix, nothing half-written
    assert BillingRun.objects.get().finished_at is None
    monkeypatch.setattr(billing, "bill_boundary", real)

    result = billing_run(as_of=dt.date(2026, 2, 1), now=RUN_NOW)
    assert (result.created, result.skipped) == (7, 3)
    keys = list(Invoice.objects.values_list("billing_key", flat=True))
    assert len(keys) == len(set(keys)) == 10
    assert sorted(Invoice.objects.values_list("sequence", flat=True)) == list(range(1, 11))
    assert UsageBilled.objects.count() == 5  # January's usage billed once per subscription


def test_an_error_on_one_subscription_does_not_stop_the_run(subscriptions, monkeypatch):
    from invoices.exceptions import TaxRateMissing

    broken = subscriptions[2].account
    real = billing.bill_boundary

    def failing(boundary, **kwargs):
        if boundary.subscription.account_id == broken.pk:
            raise TaxRateMissing("no rate")
        return real(boundary, **kwargs)

    monkeypatch.setattr(billing, "bill_boundary", failing)
    result = billing_run(as_of=dt.date(2026, 2, 1), now=RUN_NOW)
    assert result.created == 8
    assert {e["code"] for e in result.errors} == {"tax_rate_missing"}
    run = BillingRun.objects.get(pk=result.run_id)
    assert run.error_count == 2 and run.errors[0]["subscription"] == subscriptions[2].pk


def test_the_boundary_is_not_due_before_it_has_passed(subscriptions):
    result = billing_run(as_of=dt.date(2026, 1, 31), now=RUN_NOW)
    assert result.created == 5  # only January's fee; January's usage is not complete yet
    assert not Invoice.objects.filter(billing_key__endswith="2026-02-01").exists()


def test_management_command(subscriptions, capsys):
    from django.core.management import call_command

    call_command("billing_run", "--as-of", "2026-02-01", "--no-pdf")
    assert "10 created" in capsys.readouterr().out


def test_deferred_pdfs_are_rendered_once_by_the_render_task(subscriptions):
    from invoices.services import credit_note_issue, invoices_render_pending

    result = billing_run(as_of=dt.date(2026, 1, 1), now=RUN_NOW)
    assert Invoice.objects.filter(pdf_sha256="").count() == result.created == 5
    credit_note_issue(
        invoice=Invoice.objects.first(), reason="Outage", amount_minor=100, pdf_mode="deferred"
    )
    assert invoices_render_pending(limit=100) == 6
    assert not Invoice.objects.filter(pdf_sha256="").exists()
    shas = sorted(Invoice.objects.values_list("pdf_sha256", flat=True))
    assert invoices_render_pending(limit=100) == 0
    assert sorted(Invoice.objects.values_list("pdf_sha256", flat=True)) == shas
