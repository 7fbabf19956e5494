import datetime as dt
from io import StringIO

import pytest

from accounts import demo
from accounts.choices import AccountStatus, TaxStatus
from accounts.exceptions import (
    AccountClosed,
    AccountExists,
    AccountNotFound,
    InvalidAccountField,
    InvalidVatId,
    PspCustomerTaken,
    TaxStatusMismatch,
    UnknownCountry,
)
from accounts.models import Account, Contact, PspCustomer
from accounts.services import (
    account_close,
    account_create,
    account_resolve,
    account_restore,
    account_suspend,
    account_update,
)
from common.exceptions import InvalidTransition
from common.money import UnknownCurrency
from staff.exceptions import ReasonRequired
from tests.accounts.conftest import ACME

pytestmark = pytest.mark.django_db


def test_create_normalises_and_defaults(acme):
    assert acme.vat_id == "DE136695976"
    assert acme.tax_status == TaxStatus.DOMESTIC
    assert acme.status == AccountStatus.ACTIVE
    assert acme.psp_customers.get().psp_customer_id == "cus_acme"
    french = account_create(
        legal_name="Atelier SAS",
        billing_email="f@atelier.example",
        country="fr",
        currency="eur",
        vat_id="FR 83 448712356",
        contacts=[{"name": "Claire", "email": "claire@atelier.example", "role": "billing"}],
    )
    assert (french.country, french.currency, french.vat_id) == ("FR", "EUR", "FR83448712356")
    assert french.tax_status == TaxStatus.EU_REVERSE_CHARGE
    assert french.contacts.get().email == "claire@atelier.example"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"vat_id": "DE136695977"}, InvalidVatId),
        ({"currency": "EUX"}, UnknownCurrency),
        ({"country": "XY"}, UnknownCountry),
        ({"billing_email": "not-an-email"}, InvalidAccountField),
        ({"legal_name": "  "}, InvalidAccountField),
        ({"tax_status": TaxStatus.EU_REVERSE_CHARGE}, TaxStatusMismatch),
        ({"psp_customers": {"acmepay": "x"}}, InvalidAccountField),
        ({"contacts": [{"name": "Bo", "email": "nope"}]}, InvalidAccountField),
        ({"colour": "blue"}, InvalidAccountField),
    ],
)
def test_bad_input_is_refused_and_nothing_written(change, error):
    with pytest.raises(error):
        account_create(**{**ACME, **change})
    assert not Account.objects.exists()
    assert not Contact.objects.exists() and not PspCustomer.objects.exists()


def test_missing_fields_are_listed():
    with pytest.raises(InvalidAccountField) as info:
        account_create(legal_name="Only a name")
    assert {e["field"] for e in info.value.extra["errors"]} == {
        "billing_email",
        "country",
        "currency",
    }


def test_duplicate_external_id_and_psp_id(acme):
    with pytest.raises(AccountExists) as info:
        account_create(**{**ACME, "legal_name": "Other"})
    assert info.value.extra["account_id"] == acme.pk
    with pytest.raises(PspCustomerTaken):
        account_create(**{**ACME, "external_id": "org_other"}, psp_customers={"stripe": "cus_acme"})
    assert Account.objects.count() == 1


def test_update_follows_country_and_vat(acme):
    moved = account_update(account=acme, country="AT", vat_id="ATU57194306")
    assert moved.tax_status == TaxStatus.EU_REVERSE_CHARGE
    # The old VAT id does not fit a new country.
    with pytest.raises(InvalidVatId):
        account_update(account=moved, country="FR")
    moved.refresh_from_db()
    assert moved.country == "AT"
    exempt = account_update(account=moved, tax_status=TaxStatus.EXEMPT)
    assert exempt.tax_status == TaxStatus.EXEMPT
    updated = account_update(account=exempt, psp_customers={"stripe": None, "braintree": "bt_1"})
    assert dict(updated.psp_customers.values_list("provider", "psp_customer_id")) == {
        "braintree": "bt_1"
    }


def test_status_changes_need_a_reason_and_follow_the_table(acme, support):
    with pytest.raises(ReasonRequired):
        account_suspend(account=acme, reason=" ")
    now = dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.UTC)
    suspended = account_suspend(account=acme, reason="Chargeback fraud", actor=support, now=now)
    assert (suspended.status, suspended.status_reason) == (
        AccountStatus.SUSPENDED,
        "Chargeback fraud",
    )
    latest = suspended.history.first()
    assert latest.history_change_reason == "Chargeback fraud"
    assert latest.history_user == support
    restored = account_restore(account=suspended, reason="Cleared")
    closed = account_close(account=restored, reason="Customer left")
    with pytest.raises(InvalidTransition):
        account_restore(account=closed, reason="Came back")
    with pytest.raises(AccountClosed):
        account_update(account=closed, legal_name="New name")
    assert Account.objects.get(pk=acme.pk).status == AccountStatus.CLOSED


def test_resolve(acme):
    assert account_resolve(acme.pk) == acme
    assert account_resolve(str(acme.pk)) == acme
    assert account_resolve("ext:org_acme") == acme
    for ref in ("ext:missing", "999999", "org_acme"):
        with pytest.raises(AccountNotFound):
            account_resolve(ref)


def test_demo_customers_are_idempotent_and_cover_the_currencies():
    demo.seed(out=StringIO())
    demo.seed(out=StringIO())
    accounts = Account.objects.all()
    assert accounts.count() == len(demo.CUSTOMERS)
    assert {a.currency for a in accounts} >= {"EUR", "USD", "GBP", "CHF", "JPY", "KWD"}
    statuses = {a.country: a.tax_status for a in accounts}
    assert statuses["DE"] == TaxStatus.DOMESTIC
    assert statuses["NL"] == TaxStatus.EU_REVERSE_CHARGE
    assert statuses["KW"] == TaxStatus.OUTSIDE_EU
