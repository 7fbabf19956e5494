import json
import threading

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from common.models import IdempotencyRecord
from tests.common import api_views

pytestmark = [pytest.mark.urls("tests.common.api_views")]
URL = "/api/v1/things/1"


def _problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = json.loads(response.content)
    assert body["status"] == status
    assert body["code"] == code
    assert body["title"] and body["detail"] and body["type"].endswith(code)
    return body


@pytest.mark.django_db
def test_problem_responses(api_client, api_key_factory):
    _, raw = api_key_factory("accounts:read", "accounts:write")
    # 401: no credentials, unknown key
    body = _problem(api_client.get(URL), 401, "not_authenticated")
    api_client.credentials(HTTP_AUTHORIZATION="Bearer pd_nope_nope")
    _problem(api_client.get(URL), 401, "authentication_failed")
    # 403: a key without the scope
    _, read_only = api_key_factory("accounts:read")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {read_only}")
    body = _problem(
        api_client.post(URL, {"name": "a", "quantity": 1}, format="json"), 403, "permission_denied"
    )
    assert "accounts:write" in body["detail"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    # 404
    _problem(api_client.get("/api/v1/things/2"), 404, "not_found")
    # 400: malformed JSON
    _problem(
        api_client.post(URL, "{not json", content_type="application/json"), 400, "malformed_request"
    )
    # 422: validation, with each field error listed
    body = _problem(
        api_client.post(URL, {"name": "", "quantity": 0}, format="json"), 422, "validation_error"
    )
    assert {e["field"] for e in body["errors"]} == {"name", "quantity"}
    # 409: a domain conflict
    _problem(api_client.post(URL, {"name": "taken", "quantity": 1}, format="json"), 409, "conflict")
    assert not Group.objects.filter(name__startswith="thing-").exists()


@pytest.mark.django_db
def test_revoked_key_is_refused(api_client, api_key_factory):
    from staff.services import apikey_revoke

    key, raw = api_key_factory("accounts:read")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api_client.get(URL).status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None
    apikey_revoke(api_key=key)
    _problem(api_client.get(URL), 401, "authentication_failed")


@pytest.mark.django_db
def test_idempotency_replay_and_mismatch(api_client, api_key_factory):
    _, raw = api_key_factory("accounts:write")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    body = {"name": "one", "quantity": 2}
    first = api_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = api_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 201
    assert json.loads(second.content) == json.loads(first.content)
    assert second["Idempotent-Replayed"] == "true"
    assert Group.objects.filter(name="thing-one").count() == 1
    mismatch = api_client.post(
        URL, {"name": "two", "quantity": 2}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    _problem(mismatch, 422, "idempotency_key_mismatch")
    assert not Group.objects.filter(name="thing-two").exists()


@pytest.mark.django_db
def test_idempotency_keys_are_per_client(api_client, api_key_factory):
    _, raw_a = api_key_factory("accounts:write", name="a")
    _, raw_b = api_key_factory("accounts:write", name="b")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_a}")
    assert (
        api_client.post(
            URL, {"name": "a", "quantity": 1}, format="json", HTTP_IDEMPOTENCY_KEY="same"
        ).status_code
        == 201
    )
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_b}")
    assert (
        api_client.post(
            URL, {"name": "b", "quantity": 1}, format="json", HTTP_IDEMPOTENCY_KEY="same"
        ).status_code
        == 201
    )
    assert IdempotencyRecord.objects.filter(key="same").count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_identical_requests_execute_once(api_key_factory, monkeypatch):
    from rest_framework.test import APIClient

    from common.api import idempotency

    _, raw = api_key_factory("accounts:write")
    body = {"name": "race", "quantity": 1}
    second_is_waiting = threading.Event()
    real_sleep = idempotency.time.sleep

    def sleep_and_signal(seconds):
        second_is_waiting.set()
        real_sleep(seconds)

    monkeypatch.setattr(idempotency.time, "sleep", sleep_and_signal)
    api_views.release.clear()
    results = []

    def send():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        try:
            r = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="race-key")
            results.append((r.status_code, json.loads(r.content)))
        finally:
            connection.close()

    first = threading.Thread(target=send)
    second = threading.Thread(target=send)
    first.start()
    # The first request holds the key (inside the view) before the second one starts.
    for _ in range(200):
        if IdempotencyRecord.objects.filter(key="race-key").exists():
            break
        threading.Event().wait(0.02)
    second.start()
    assert second_is_waiting.wait(10), "second request never found the key in use"
    api_views.release.set()
    first.join(15)
    second.join(15)
    assert Group.objects.filter(name="thing-race").count() == 1
    assert [status for status, _ in results] == [201, 201]
    assert results[0][1] == results[1][1]
