from datetime import UTC, datetime

import pytest

from metering.models import UsageEvent
from tests.metering.conftest import event


@pytest.mark.django_db
def test_void_marks_never_deletes_and_answers_per_event(usage_client, make_account, make_meter):
    account = make_account(external_id="org_v")
    make_meter()
    usage_client.post(
        "/api/v1/usage-events",
        {"events": [event(1, account="ext:org_v"), event(2, account="ext:org_v")]},
        format="json",
    )
    body = usage_client.post(
        "/api/v1/usage-events/void",
        {
            "events": [
                {"account": "ext:org_v", "id": "evt-1"},
                {"account": account.pk, "id": "nope"},
                {"account": "ext:ghost", "id": "evt-2"},
            ],
            "reason": "sent twice by a retry bug",
        },
        format="json",
    ).json()
    assert [r["status"] for r in body["results"]] == ["voided", "not_found", "not_found"]
    again = usage_client.post(
        "/api/v1/usage-events/void",
        {"events": [{"account": "ext:org_v", "id": "evt-1"}], "reason": "again"},
        format="json",
    )
    assert again.json()["results"][0]["status"] == "already_voided"
    voided = UsageEvent.objects.get(event_id="evt-1")
    assert voided.voided_at is not None
    assert voided.void_reason == "sent twice by a retry bug"
    assert voided.voided_by.startswith("api key product backend")
    assert UsageEvent.objects.count() == 2
    missing_reason = usage_client.post(
        "/api/v1/usage-events/void",
        {"events": [{"account": "ext:org_v", "id": "evt-2"}]},
        format="json",
    )
    assert missing_reason.status_code == 422
    assert UsageEvent.objects.get(event_id="evt-2").voided_at is None


@pytest.mark.django_db
def test_usage_preview_api(usage_client, make_account, make_meter):
    account = make_account(external_id="org_p")
    make_meter()
    usage_client.post(
        "/api/v1/usage-events",
        {
            "events": [
                event(1, account="ext:org_p", ts="2026-10-03T01:00:00Z", hours="2.5"),
                event(2, account="ext:org_p", ts="2026-10-03T05:00:00Z", hours="1"),
                event(3, account="ext:org_p", ts="2026-11-03T05:00:00Z", hours="1"),
            ]
        },
        format="json",
    )
    body = usage_client.get("/api/v1/accounts/ext:org_p/usage?period=2026-10").json()
    assert body["account"] == account.pk
    (meter,) = body["meters"]
    assert (meter["meter"], meter["quantity"], meter["event_count"]) == ("cluster_hours", "3.5", 2)
    assert meter["estimated"] is None  # no plan price
    assert len(meter["daily"]) == 31 and meter["daily"][2] == {
        "date": "2026-10-03",
        "quantity": "3.5",
    }
    assert usage_client.get("/api/v1/accounts/ext:nobody/usage").status_code == 404
    assert usage_client.get(f"/api/v1/accounts/{account.pk}/usage?period=oct").status_code == 422


@pytest.mark.django_db
def test_meters_api(usage_client):
    created = usage_client.post(
        "/api/v1/meters",
        {
            "code": "egress_gb",
            "name": "Egress",
            "unit": "GB",
            "aggregation": "SUM",
            "value_property": "gb",
            "filters": {"region": "eu-west"},
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["filters"] == {"region": "eu-west"}
    bad = usage_client.post(
        "/api/v1/meters",
        {"code": "seats", "name": "Seats", "unit": "u", "aggregation": "UNIQUE_COUNT"},
        format="json",
    )
    assert bad.status_code == 422 and bad.json()["code"] == "meter_invalid"
    dup = usage_client.post(
        "/api/v1/meters",
        {"code": "egress_gb", "name": "E", "unit": "GB", "aggregation": "COUNT"},
        format="json",
    )
    assert dup.status_code == 422
    listed = usage_client.get("/api/v1/meters").json()
    assert [m["code"] for m in listed["results"]] == ["egress_gb"]


@pytest.mark.django_db
@pytest.mark.urls("tests.metering.urls")
def test_staff_usage_screen_and_admin(client, make_staff, make_account, make_meter):
    from staff import roles

    account = make_account(external_id="org_s")
    make_meter()
    from metering.services import usage_events_ingest

    usage_events_ingest(
        events=[event(1, account="ext:org_s", ts="2026-10-03T01:00:00Z")],
        now=datetime(2026, 11, 1, tzinfo=UTC),
    )
    roles.roles_apply()  # metering's permissions exist only after its migration
    make_staff("gus", roles.GROWTH)
    client.login(username="gus", password="gus-pw")
    assert client.get(f"/metering/accounts/{account.pk}/usage").status_code == 403
    make_staff("sue", roles.SUPPORT)
    client.login(username="sue", password="sue-pw")
    page = client.get("/metering/accounts/ext:org_s/usage?period=2026-10")
    assert page.status_code == 200
    assert b"<svg" in page.content and b"1.5 hours" in page.content
    changelist = client.get("/admin/metering/usageevent/", {"q": "ext:org_s evt-1"})
    assert changelist.status_code == 200 and b"evt-1" in changelist.content
