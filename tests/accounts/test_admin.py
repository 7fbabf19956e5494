import pytest

from accounts.choices import AccountStatus
from accounts.models import Account

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.accounts.urls")]

FORM = {
    "legal_name": "Neu GmbH",
    "billing_email": "r@neu.example",
    "country": "DE",
    "language": "de",
    "currency": "EUR",
    "vat_id": "de 136 695 976",
    "tax_status": "",
    "external_id": "",
    "contacts-TOTAL_FORMS": "0",
    "contacts-INITIAL_FORMS": "0",
    "psp_customers-TOTAL_FORMS": "0",
    "psp_customers-INITIAL_FORMS": "0",
}


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def test_admin_add_goes_through_the_service(admin_client):
    response = admin_client.post("/admin/accounts/account/add/", FORM)
    assert response.status_code == 302, response.content.decode()[:2000]
    account = Account.objects.get()
    assert account.vat_id == "DE136695976"
    assert account.tax_status == "DOMESTIC"
    assert account.history.first().history_user.username == "root"


def test_admin_shows_field_errors_and_writes_nothing(admin_client):
    response = admin_client.post("/admin/accounts/account/add/", {**FORM, "vat_id": "DE1"})
    assert response.status_code == 200
    assert "not valid" in response.content.decode()
    response = admin_client.post("/admin/accounts/account/add/", {**FORM, "currency": "EUX"})
    assert "ISO 4217" in response.content.decode()
    assert not Account.objects.exists()


def test_admin_search_and_suspend_with_reason(admin_client, acme):
    for term in ("Acme", "cus_acme", "org_acme", "DE136695976", "rechnung@acme.example"):
        listing = admin_client.get("/admin/accounts/account/", {"q": term})
        assert acme.legal_name in listing.content.decode(), term
    ask = admin_client.post(
        "/admin/accounts/account/", {"action": "suspend", "_selected_action": [acme.pk]}
    )
    assert ask.status_code == 200 and "say why" in ask.content.decode()
    admin_client.post(
        "/admin/accounts/account/",
        {"action": "suspend", "_selected_action": [acme.pk], "apply": "1", "reason": "Fraud"},
    )
    acme.refresh_from_db()
    assert (acme.status, acme.status_reason) == (AccountStatus.SUSPENDED, "Fraud")
