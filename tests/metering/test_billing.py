"""Rating usage into lines, recording what was billed, and adjustments for late events/voids."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from catalog.rating import Tier, rate_minor
from catalog.services import plan_create, price_create, product_create, subscription_create
from metering.models import UsageRecheck
from metering.services import (
    usage_events_ingest,
    usage_events_void,
    usage_lines_for,
    usage_mark_billed,
)

OCT = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
NOV = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
D = Decimal


@pytest.fixture
def setup_plan(make_account, make_meter):
    product = product_create(code="clusters", name="Clusters")
    plan = plan_create(
        code="TEAM-EUR", name="Team", product=product, billing_period="MONTHLY", currency="EUR"
    )
    price_create(
        plan=plan,
        code="base",
        description="Team fee",
        charge_model="FLAT",
        timing="IN_ADVANCE",
        unit_amount=D("49"),
    )
    hours = price_create(
        plan=plan,
        code="cluster_hours",
        description="Cluster hours",
        charge_model="GRADUATED",
        timing="IN_ARREARS",
        tiers=[Tier(D("100"), D("0.12")), Tier(None, D("0.08"))],
    )
    storage = price_create(
        plan=plan,
        code="storage_gb_hours",
        description="Storage",
        charge_model="PER_UNIT",
        timing="IN_ARREARS",
        unit_amount=D("0.0002"),
    )
    account = make_account(external_id="org_bill")
    # hours is linked explicitly; storage is found by its code in the plan
    meter = make_meter("cluster_hours", name="Cluster hours", price=hours)
    make_meter("storage_gb_hours", name="Storage", value_property="gb_hours")
    make_meter("api_calls", "COUNT")  # not priced in the plan: no line
    subscription = subscription_create(
        account=account,
        plan=plan,
        start=datetime(2026, 9, 1, tzinfo=UTC),
        now=datetime(2026, 9, 1, tzinfo=UTC),
    )
    return subscription, meter, hours, storage


def send(*events):
    return usage_events_ingest(
        events=[
            {"id": i, "account": "ext:org_bill", "meter": m, "timestamp": ts, "properties": p}
            for i, m, ts, p in events
        ],
        now=datetime(2026, 12, 10, tzinfo=UTC),
    )


@pytest.mark.django_db
def test_usage_lines_rate_fractional_quantities(setup_plan):
    subscription, meter, hours, storage = setup_plan
    send(
        ("a", "cluster_hours", "2026-10-02T10:00:00Z", {"hours": "60.25"}),
        ("b", "cluster_hours", "2026-10-20T10:00:00Z", {"hours": "45.5"}),
        ("c", "storage_gb_hours", "2026-10-03T00:00:00Z", {"gb_hours": "1234.567"}),
        ("d", "cluster_hours", "2026-11-01T00:00:00Z", {"hours": "7"}),  # next period
    )
    lines = {
        ln.meter_code: ln
        for ln in usage_lines_for(subscription=subscription, period_start=OCT[0], period_end=OCT[1])
    }
    assert set(lines) == {"cluster_hours", "storage_gb_hours"}
    h = lines["cluster_hours"]
    assert h.quantity == D("105.75") and h.event_count == 2 and not h.is_adjustment
    # 100 × 0.12 + 5.75 × 0.08 = 12.46 EUR
    assert h.amount_minor == 1246 == rate_minor(price=hours, quantity=D("105.75"))
    s = lines["storage_gb_hours"]
    # 1234.567 × 0.0002 = 0.2469134 → 0.25 EUR, rounded once at the line
    assert s.amount_minor == 25 and s.unit_amount == D("0.0002")
    assert h.aggregation["quantity"] == "105.750000000000"
    assert h.aggregation["event_count"] == 2
    assert h.aggregation["period"] == {"start": OCT[0].isoformat(), "end": OCT[1].isoformat()}


@pytest.mark.django_db
def test_late_event_and_void_become_adjustments_on_the_next_invoice(setup_plan):
    subscription, meter, hours, storage = setup_plan
    send(
        ("a", "cluster_hours", "2026-10-02T10:00:00Z", {"hours": "80"}),
        ("b", "cluster_hours", "2026-10-05T10:00:00Z", {"hours": "10"}),
    )
    october = usage_lines_for(subscription=subscription, period_start=OCT[0], period_end=OCT[1])
    usage_mark_billed(subscription=subscription, lines=october, invoice_id=101)
    billed = {ln.meter_code: ln for ln in october}["cluster_hours"]
    assert billed.quantity == 90 and billed.amount_minor == 1080

    # A late October event arrives after the invoice, and November has usage of its own.
    send(
        ("late", "cluster_hours", "2026-10-31T23:00:00Z", {"hours": "20"}),
        ("n1", "cluster_hours", "2026-11-03T10:00:00Z", {"hours": "5"}),
    )
    november = usage_lines_for(subscription=subscription, period_start=NOV[0], period_end=NOV[1])
    adjustments = [ln for ln in november if ln.is_adjustment]
    assert len(adjustments) == 1
    adj = adjustments[0]
    assert adj.description == "Cluster hours — adjustment for 2026-10-01 – 2026-10-31"
    assert (adj.period_start, adj.period_end) == OCT
    assert adj.quantity == 20
    # 110 hours cost 12.00 + 0.80; 90 hours were billed at 10.80 → 2.00 more
    assert adj.amount_minor == 200
    regular = {ln.meter_code: ln for ln in november if not ln.is_adjustment}
    assert regular["cluster_hours"].quantity == 5
    usage_mark_billed(subscription=subscription, lines=november, invoice_id=102)

    # Nothing changed since: the December run has no adjustment and no stale marker.
    dec = usage_lines_for(
        subscription=subscription, period_start=NOV[1], period_end=datetime(2027, 1, 1, tzinfo=UTC)
    )
    assert not [ln for ln in dec if ln.is_adjustment]
    usage_mark_billed(subscription=subscription, lines=dec, invoice_id=103)
    assert not UsageRecheck.objects.filter(period_start__lt=NOV[1]).exists()

    # Voiding an October event (an invoiced period) credits it on the next invoice.
    result = usage_events_void(
        events=[{"account": "ext:org_bill", "id": "a"}], reason="duplicate metering", actor="t"
    )
    assert result["voided"] == 1
    jan = usage_lines_for(
        subscription=subscription,
        period_start=datetime(2027, 1, 1, tzinfo=UTC),
        period_end=datetime(2027, 2, 1, tzinfo=UTC),
    )
    credit = [ln for ln in jan if ln.is_adjustment]
    assert len(credit) == 1
    assert credit[0].quantity == -80
    # billed so far: 110 hours (12.80); 30 hours now cost 3.60 → credit 9.20
    assert credit[0].amount_minor == -920
    assert "2026-10-01 – 2026-10-31" in credit[0].description


@pytest.mark.django_db
def test_events_outside_billed_periods_leave_no_marker(setup_plan):
    subscription, *_ = setup_plan
    october = usage_lines_for(subscription=subscription, period_start=OCT[0], period_end=OCT[1])
    usage_mark_billed(subscription=subscription, lines=october, invoice_id=1)
    markers_after_billing = UsageRecheck.objects.count()
    send(("n", "cluster_hours", "2026-11-02T00:00:00Z", {"hours": "1"}))
    assert UsageRecheck.objects.count() == markers_after_billing
    send(("o", "cluster_hours", "2026-10-02T00:00:00Z", {"hours": "1"}))
    assert UsageRecheck.objects.get(meter__code="cluster_hours", period_start=OCT[0]).hits >= 1
