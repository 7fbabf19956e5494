from datetime import UTC, datetime
from decimal import Decimal

import pytest

from metering.selectors import usage_aggregate, usage_aggregates_bulk, usage_daily
from metering.services import usage_events_ingest, usage_events_void

OCT = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def usage(make_account, make_meter):
    account = make_account()
    other = make_account()
    meters = {
        "sum": make_meter("gpu_hours", "SUM", filters={"region": "eu-west"}),
        "count": make_meter("requests", "COUNT", filters={"region": "eu-west"}),
        "max": make_meter(
            "peak_nodes", "MAX", value_property="hours", filters={"region": "eu-west"}
        ),
        "unique": make_meter(
            "active_users", "UNIQUE_COUNT", unique_property="user", filters={"region": "eu-west"}
        ),
        "latest": make_meter(
            "seats_now", "LATEST", value_property="hours", filters={"region": "eu-west"}
        ),
    }
    rows = [  # (id, ts, hours, user, region)
        ("1", "2026-10-01T00:00:00Z", "2.5", "ann", "eu-west"),  # first instant: inside
        ("2", "2026-10-10T12:00:00Z", "7", "bob", "eu-west"),
        ("3", "2026-10-20T08:00:00Z", "4", "ann", "eu-west"),
        ("4", "2026-10-25T08:00:00Z", "100", "cy", "us-east"),  # filtered out
        ("5", "2026-10-31T23:59:59Z", "9", "dee", "eu-west"),  # voided below
        ("6", "2026-11-01T00:00:00Z", "50", "eve", "eu-west"),  # next period
        ("7", "2026-09-30T23:59:59Z", "50", "fay", "eu-west"),  # previous period
    ]
    events = []
    for code in (m.code for m in meters.values()):
        for n, ts, hours, user, region in rows:
            for acc in (account, other):
                events.append(
                    {
                        "id": f"{code}-{n}",
                        "account": acc.pk,
                        "meter": code,
                        "timestamp": ts,
                        "properties": {"hours": hours, "user": user, "region": region},
                    }
                )
    result = usage_events_ingest(events=events, now=NOW)
    assert result["accepted"] == len(events)
    usage_events_void(
        events=[{"account": account.pk, "id": f"{m.code}-5"} for m in meters.values()],
        reason="test",
        actor="test",
    )
    return account, other, meters


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "quantity", "events"),
    [
        ("sum", Decimal("13.5"), 3),
        ("count", Decimal("3"), 3),
        ("max", Decimal("7"), 3),
        ("unique", Decimal("2"), 3),  # ann, bob
        ("latest", Decimal("4"), 3),  # event 3 is the last one counted
    ],
)
def test_each_aggregation_with_filters_and_voids(usage, kind, quantity, events):
    account, other, meters = usage
    agg = usage_aggregate(
        account_id=account.pk, meter=meters[kind], period_start=OCT[0], period_end=OCT[1]
    )
    assert (agg.quantity, agg.event_count) == (quantity, events)
    bulk = usage_aggregates_bulk(period_start=OCT[0], period_end=OCT[1], meters=meters.values())
    assert bulk[(account.pk, meters[kind].pk)] == agg
    # the other account's event 5 is not voided
    assert bulk[(other.pk, meters[kind].pk)].event_count == 4


@pytest.mark.django_db
def test_bulk_matches_single_for_unfiltered_meters(make_account, make_meter):
    account = make_account()
    meters = [make_meter("h", "SUM"), make_meter("c", "COUNT"), make_meter("m", "MAX")]
    events = [
        {
            "id": f"{m.code}{i}",
            "account": account.pk,
            "meter": m.code,
            "timestamp": f"2026-10-{i + 1:02d}T00:00:00Z",
            "properties": {"hours": str(i * 1.5)},
        }
        for m in meters
        for i in range(10)
    ]
    usage_events_ingest(events=events, now=NOW)
    bulk = usage_aggregates_bulk(period_start=OCT[0], period_end=OCT[1], meters=meters)
    assert [bulk[(account.pk, m.pk)].quantity for m in meters] == [
        Decimal("67.5"),
        Decimal("10"),
        Decimal("13.5"),
    ]
    for m in meters:
        assert bulk[(account.pk, m.pk)] == usage_aggregate(
            account_id=account.pk, meter=m, period_start=OCT[0], period_end=OCT[1]
        )


@pytest.mark.django_db
def test_daily_series_covers_every_day(usage):
    account, _, meters = usage
    daily = usage_daily(
        account_id=account.pk, meter=meters["sum"], period_start=OCT[0], period_end=OCT[1]
    )
    assert len(daily) == 31
    assert dict(daily)[datetime(2026, 10, 10).date()] == Decimal("7")
    assert sum(q for _, q in daily) == Decimal("13.5")
