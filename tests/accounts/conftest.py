import pytest

from accounts.services import account_create

ACME = {
    "legal_name": "Acme Rechenzentrum GmbH",
    "billing_email": "rechnung@acme.example",
    "street": "Hauptstraße 1",
    "postcode": "10115",
    "city": "Berlin",
    "country": "DE",
    "currency": "EUR",
    "language": "de",
    "vat_id": "DE136695976",
    "external_id": "org_acme",
}


@pytest.fixture
def acme(db):
    return account_create(**ACME, psp_customers={"stripe": "cus_acme"})


@pytest.fixture
def roles_applied(db):
    # staff's post_migrate hook runs before the later apps' permissions exist in a fresh
    # test database, so the role groups lack them; apply them again.
    from staff.roles import roles_apply

    roles_apply(with_default_limits=False)
