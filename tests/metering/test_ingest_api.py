import json
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.test import override_settings

from metering.models import UsageEvent
from tests.metering.conftest import event

URL = "/api/v1/usage-events"


def post(client, events):
    return client.post(URL, {"events": events}, format="json")


@pytest.mark.django_db
def test_same_batch_three_times_counts_each_event_once(usage_client, make_account, make_meter):
    account = make_account(external_id="org_1")
    make_meter()
    batch = [event(n, account="ext:org_1") for n in range(50)]
    first = post(usage_client, batch).json()
    assert (first["accepted"], first["duplicate"], first["rejected"]) == (50, 0, 0)
    for _ in range(2):
        again = post(usage_client, batch).json()
        assert (again["accepted"], again["duplicate"], again["rejected"]) == (0, 50, 0)
        assert {r["status"] for r in again["results"]} == {"duplicate"}
    assert UsageEvent.objects.filter(account=account).count() == 50
    total = sum(UsageEvent.objects.values_list("quantity", flat=True))
    assert total == Decimal("75")


@pytest.mark.django_db
def test_event_repeated_inside_a_batch_is_stored_once(usage_client, make_account, make_meter):
    account = make_account()
    make_meter()
    batch = [event(1, account=account.pk, hours=2), event(1, account=str(account.pk), hours=9)]
    body = post(usage_client, batch).json()
    assert [r["status"] for r in body["results"]] == ["accepted", "duplicate"]
    assert UsageEvent.objects.get().quantity == 2


@pytest.mark.django_db(transaction=True)
def test_four_identical_batches_racing_count_each_event_once(
    api_key_factory, make_account, make_meter
):
    from rest_framework.test import APIClient

    make_account(external_id="org_race")
    make_meter()
    _, raw = api_key_factory("usage:write")
    batch = [event(n, account="ext:org_race", hours=1) for n in range(1000)]
    barrier = threading.Barrier(4)
    answers, errors = [], []

    def send():
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
            barrier.wait(timeout=30)
            answers.append(post(client, batch).json())
        except Exception as exc:  # reported below, a thread cannot fail the test itself
            errors.append(exc)
        finally:
            connection.close()  # each thread had its own connection

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and len(answers) == 4
    assert sum(a["accepted"] for a in answers) == 1000
    assert sum(a["duplicate"] for a in answers) == 3000
    # per event: exactly one of the four answers accepted it
    for i in range(1000):
        assert sum(a["results"][i]["status"] == "accepted" for a in answers) == 1
    assert UsageEvent.objects.count() == 1000
    assert sum(UsageEvent.objects.values_list("quantity", flat=True)) == 1000


@pytest.mark.django_db
def test_batch_of_1000_with_three_bad_events(usage_client, make_account, make_meter):
    account = make_account()
    make_meter()
    batch = [event(n, account=account.pk, hours=1) for n in range(1000)]
    batch[10]["account"] = "ext:nobody"
    batch[500]["meter"] = "no_such_meter"
    batch[999]["properties"] = {"hours": -1}
    body = post(usage_client, batch).json()
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (997, 0, 3)
    assert len(body["results"]) == 1000
    assert [r["id"] for r in body["results"]] == [f"evt-{n}" for n in range(1000)]
    rejected = {r["id"]: r["code"] for r in body["results"] if r["status"] == "rejected"}
    assert rejected == {
        "evt-10": "unknown_account",
        "evt-500": "unknown_meter",
        "evt-999": "invalid_quantity",
    }
    stored = set(UsageEvent.objects.values_list("event_id", flat=True))
    assert len(stored) == 997 and not stored & set(rejected)


@pytest.mark.django_db
def test_each_reason_code(usage_client, make_account, make_meter):
    from datetime import UTC, datetime, timedelta

    account = make_account(created_at=datetime(2026, 9, 1, tzinfo=UTC))
    make_meter()
    make_meter("api_calls", "COUNT")
    make_meter("seats", "UNIQUE_COUNT", unique_property="user")
    future = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    near_future = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    a = account.pk
    cases = [
        (
            {"account": a, "meter": "cluster_hours", "timestamp": "2026-10-01T00:00:00Z"},
            "invalid_event",
        ),  # no id
        (event(2, account=a, ts="yesterday"), "invalid_event"),
        (event(3, account=a, ts="2026-10-01T00:00:00"), "invalid_event"),  # no offset
        (event(4, account="ext:ghost"), "unknown_account"),
        (event(5, account=a, meter="ghost"), "unknown_meter"),
        (event(6, account=a, cpu=1), "missing_quantity"),
        (event(7, account=a, meter="seats", other="x"), "missing_quantity"),
        (event(8, account=a, hours="lots"), "invalid_quantity"),
        (event(9, account=a, hours=-0.5), "invalid_quantity"),
        (event(10, account=a, hours=True), "invalid_quantity"),
        (event(11, account=a, ts=future), "timestamp_in_future"),
        (event(12, account=a, ts="2026-08-31T23:59:59Z"), "timestamp_before_account"),
        (event(13, account=a, hours=1, blob="x" * 20_000), "event_too_large"),
        (event(14, account=a, ts=near_future), None),  # inside the clock-skew allowance
        (event(15, account=a, meter="api_calls", path="/v1"), None),  # COUNT: no value needed
        (event(16, account=a, hours=0), None),
    ]
    body = post(usage_client, [c[0] for c in cases]).json()
    got = [r["code"] if r["status"] == "rejected" else None for r in body["results"]]
    assert got == [c[1] for c in cases]
    assert body["accepted"] == 3
    assert all(r.get("detail") for r in body["results"] if r["status"] == "rejected")


@pytest.mark.django_db
def test_quantities_are_exact_decimals(usage_client, make_account, make_meter):
    account = make_account()
    make_meter()
    post(
        usage_client,
        [
            event(1, account=account.pk, hours=0.1),
            event(2, account=account.pk, hours="2.000000000001"),
        ],
    )
    assert sorted(UsageEvent.objects.values_list("quantity", flat=True)) == [
        Decimal("0.1"),
        Decimal("2.000000000001"),
    ]


@pytest.mark.django_db
@override_settings(METERING_MAX_BODY_BYTES=10_000)
def test_body_over_the_limit_is_413_and_stores_nothing(usage_client, make_account, make_meter):
    account = make_account()
    make_meter()
    batch = [event(n, account=account.pk) for n in range(200)]
    response = usage_client.post(
        URL, json.dumps({"events": batch}), content_type="application/json"
    )
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "body_too_large"
    assert not UsageEvent.objects.exists()


@pytest.mark.django_db
def test_batch_over_1000_is_refused_whole(usage_client, make_account, make_meter):
    account = make_account()
    make_meter()
    response = post(usage_client, [event(n, account=account.pk) for n in range(1001)])
    assert response.status_code == 422
    assert response.json()["code"] == "batch_too_large"
    assert not UsageEvent.objects.exists()


@pytest.mark.django_db
def test_scope_and_shape_are_checked(api_client, api_key_factory, make_account):
    _, raw = api_key_factory("usage:read")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert post(api_client, []).status_code == 403
    _, raw = api_key_factory("usage:write")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = api_client.post(URL, "{nope", content_type="application/json")
    assert response.status_code == 400
    assert api_client.post(URL, {"event": []}, format="json").status_code == 422


def test_quantities_at_the_storage_limit():
    from metering.ingest import Rejected, parse_quantity

    # 18 integer digits and more than 12 decimals: rounded to 12 places, not a crash.
    assert parse_quantity("123456789012345678.1234567890125") == Decimal(
        "123456789012345678.123456789013"
    )
    # Rounding up past the limit is refused like any too-large quantity.
    with pytest.raises(Rejected) as exc:
        parse_quantity("999999999999999999.9999999999999")
    assert exc.value.code == "invalid_quantity"
