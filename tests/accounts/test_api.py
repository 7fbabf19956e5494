import json

import pytest

from accounts.models import Account
from tests.accounts.conftest import ACME

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.accounts.urls")]
URL = "/api/v1/accounts"


@pytest.fixture
def writer(api_client, api_key_factory):
    _, raw = api_key_factory("accounts:read", "accounts:write")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return api_client


def _problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = json.loads(response.content)
    assert body["code"] == code
    return body


def test_create_read_and_patch(writer):
    payload = {
        **ACME,
        "psp_customers": {"stripe": "cus_123"},
        "contacts": [{"name": "Kim", "email": "kim@acme.example", "role": "billing"}],
    }
    created = writer.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="signup-1")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["tax_status"] == "DOMESTIC" and body["vat_id"] == "DE136695976"
    assert body["psp_customers"] == {"stripe": "cus_123"}
    assert body["contacts"][0]["email"] == "kim@acme.example"
    assert created["Location"] == f"{URL}/{body['id']}"
    # A retried sign-up with the same key replays, it does not answer 409.
    replay = writer.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="signup-1")
    assert replay.status_code == 201 and replay.json()["id"] == body["id"]

    assert writer.get(f"{URL}/{body['id']}").json()["legal_name"] == ACME["legal_name"]
    by_ext = writer.get(f"{URL}/ext:org_acme")
    assert by_ext.status_code == 200 and by_ext.json()["id"] == body["id"]

    patched = writer.patch(
        f"{URL}/ext:org_acme",
        {"country": "NL", "vat_id": "NL853746126B01", "language": "en"},
        format="json",
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["tax_status"] == "EU_REVERSE_CHARGE"
    assert Account.objects.get().language == "en"


def test_duplicate_external_id_is_a_409_problem(writer):
    assert writer.post(URL, ACME, format="json").status_code == 201
    body = _problem(
        writer.post(URL, {**ACME, "legal_name": "Again"}, format="json"), 409, "account_exists"
    )
    assert body["account_id"] == Account.objects.get().pk
    assert Account.objects.count() == 1


def test_bad_vat_id_is_a_422_with_the_field(writer):
    body = _problem(
        writer.post(URL, {**ACME, "vat_id": "DE136695977"}, format="json"), 422, "invalid_vat_id"
    )
    assert body["errors"][0]["field"] == "vat_id"
    assert "check digit" in body["detail"]
    assert not Account.objects.exists()


def test_unknown_currency_and_shape_errors(writer):
    body = _problem(
        writer.post(URL, {**ACME, "currency": "EURO"}, format="json"), 422, "unknown_currency"
    )
    assert body["errors"][0]["field"] == "currency"
    body = _problem(
        writer.post(URL, {"legal_name": "x", "colour": "red"}, format="json"),
        422,
        "validation_error",
    )
    assert {"billing_email", "country", "currency"} <= {e["field"] for e in body["errors"]}
    assert not Account.objects.exists()


def test_not_found(writer):
    _problem(writer.get(f"{URL}/ext:nobody"), 404, "account_not_found")
    _problem(
        writer.patch(f"{URL}/424242", {"city": "Bonn"}, format="json"), 404, "account_not_found"
    )


def test_scopes_are_enforced(api_client, api_key_factory, acme):
    _, read_only = api_key_factory("accounts:read")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {read_only}")
    assert api_client.get(f"{URL}/{acme.pk}").status_code == 200
    _problem(
        api_client.post(URL, {**ACME, "external_id": "x"}, format="json"), 403, "permission_denied"
    )
    _problem(
        api_client.patch(f"{URL}/{acme.pk}", {"city": "Bonn"}, format="json"),
        403,
        "permission_denied",
    )
    _, other = api_key_factory("invoices:read")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {other}")
    _problem(api_client.get(f"{URL}/{acme.pk}"), 403, "permission_denied")
    acme.refresh_from_db()
    assert acme.city == "Berlin"


def test_staff_session_uses_role_permissions(client, roles_applied, support, accountant, acme):
    client.force_login(accountant)
    assert client.get(f"{URL}/{acme.pk}").status_code == 200
    assert (
        client.patch(
            f"{URL}/{acme.pk}", {"city": "Bonn"}, content_type="application/json"
        ).status_code
        == 403
    )
    client.force_login(support)  # support may change accounts
    response = client.patch(f"{URL}/{acme.pk}", {"city": "Bonn"}, content_type="application/json")
    assert response.status_code == 200
    history = Account.objects.get(pk=acme.pk).history.first()
    assert history.history_user == support
