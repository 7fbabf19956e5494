"""End to end through the billing run: a late event after finalization is billed on the next
invoice as an adjustment naming its period; voiding an event of an invoiced period credits it."""

import datetime as dt
from decimal import Decimal

import pytest

from invoices.models import Invoice
from invoices.services import billing_run
from ledger.selectors import trial_balance
from metering.services import usage_events_ingest, usage_events_void
from tests.invoices.conftest import account_make

UTC = dt.UTC
JAN = dt.datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def subscription(db):
    from catalog.services import plan_create, price_create, product_create, subscription_create
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
    account = account_make(external_id="org_e2e", created_at=dt.datetime(2025, 12, 1, tzinfo=UTC))
    return subscription_create(account=account, plan=plan, start=JAN, now=JAN)


def _send(events, now):
    result = usage_events_ingest(
        events=[
            {
                "id": i,
                "account": "ext:org_e2e",
                "meter": "cluster_hours",
                "timestamp": ts,
                "properties": {"hours": h},
            }
            for i, ts, h in events
        ],
        now=now,
    )
    assert result["rejected"] == 0, result
    return result


def _run(day: dt.date):
    result = billing_run(as_of=day, now=dt.datetime.combine(day, dt.time(6), tzinfo=UTC))
    assert result.errors == []
    return result


def _lines(subscription, period_start: str):
    invoice = Invoice.objects.get(billing_key=f"{subscription.pk}:{period_start}")
    assert invoice.status == "OPEN" and invoice.number
    return invoice, list(
        invoice.lines.order_by("position").values(
            "description",
            "quantity",
            "net_minor",
            "is_adjustment",
            "adjustment_period_start",
            "adjustment_period_end",
        )
    )


def test_late_event_and_void_flow_through_the_billing_run(subscription):
    _send(
        [
            ("j1", "2026-01-10T12:00:00Z", "10"),
            ("j2", "2026-01-20T12:00:00Z", "10"),
            ("j3", "2026-01-25T12:00:00Z", "10"),
        ],
        now=dt.datetime(2026, 1, 26, tzinfo=UTC),
    )
    _run(dt.date(2026, 2, 1))
    feb, lines = _lines(subscription, "2026-02-01")
    usage = [ln for ln in lines if ln["description"] == "Cluster hours"]
    assert [(ln["quantity"], ln["net_minor"]) for ln in usage] == [(Decimal(30), 300)]

    # A January event arrives after January's usage was invoiced and the invoice finalized.
    _send([("late", "2026-01-31T23:00:00Z", "20")], now=dt.datetime(2026, 2, 10, tzinfo=UTC))
    feb.refresh_from_db()
    assert feb.lines.filter(description="Cluster hours").get().quantity == 30  # unchanged

    _run(dt.date(2026, 3, 1))
    _, lines = _lines(subscription, "2026-03-01")
    adjustments = [ln for ln in lines if ln["is_adjustment"]]
    assert len(adjustments) == 1
    adj = adjustments[0]
    assert "2026-01-01" in adj["description"] and "2026-01-31" in adj["description"]
    assert (adj["quantity"], adj["net_minor"]) == (Decimal(20), 200)
    assert adj["adjustment_period_start"] == JAN
    assert adj["adjustment_period_end"] == dt.datetime(2026, 2, 1, tzinfo=UTC)

    # Voiding a January event (an invoiced period) credits it on the next invoice.
    result = usage_events_void(
        events=[{"account": "ext:org_e2e", "id": "j1"}], reason="metered twice", actor="test"
    )
    assert result["voided"] == 1
    _run(dt.date(2026, 4, 1))
    april, lines = _lines(subscription, "2026-04-01")
    credits = [ln for ln in lines if ln["is_adjustment"]]
    assert [(ln["quantity"], ln["net_minor"]) for ln in credits] == [(Decimal(-10), -100)]
    assert "2026-01-01" in credits[0]["description"]
    # 49.00 fee - 1.00 credit = 48.00 net, 19 % VAT on the sum
    assert april.net_minor == 4800 and april.tax_minor == 912

    # A rerun bills nothing twice, and the books balance.
    assert _run(dt.date(2026, 4, 1)).created == 0
    assert Invoice.objects.filter(subscription=subscription).count() == 4
    assert trial_balance().is_balanced
