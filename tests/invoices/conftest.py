import datetime as dt
import itertools
from decimal import Decimal

import pytest

from accounts.models import Account

NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)
_seq = itertools.count(1)


@pytest.fixture(autouse=True)
def _media_and_caches(settings, tmp_path):
    from invoices import posting

    settings.MEDIA_ROOT = str(tmp_path / "media")
    posting._codes.clear()
    yield
    posting._codes.clear()


def account_make(**fields) -> Account:
    n = next(_seq)
    defaults = {
        "legal_name": f"Kunde {n} GmbH",
        "billing_email": f"billing{n}@kunde.example",
        "street": "Hauptstraße 1",
        "postcode": "80331",
        "city": "München",
        "country": "DE",
        "language": "de",
        "currency": "EUR",
        "tax_status": "DOMESTIC",
        "external_id": f"org_{n}",
        "created_at": NOW,
    }
    defaults.update(fields)
    return Account.objects.create(**defaults)


@pytest.fixture
def make_account(db):
    return account_make


@pytest.fixture
def account(make_account):
    return make_account()


def draft_with(account, *lines, currency=None, **kwargs):
    """A draft with (description, quantity, unit amount[, tax rate]) lines."""
    from invoices.services import invoice_add_line, invoice_create_draft

    invoice = invoice_create_draft(account=account, currency=currency, now=NOW, **kwargs)
    for line in lines:
        description, quantity, unit = line[:3]
        invoice_add_line(
            invoice=invoice,
            description=description,
            quantity=Decimal(quantity),
            unit_amount=Decimal(unit),
            tax_rate=Decimal(line[3]) if len(line) > 3 else None,
        )
    return invoice


@pytest.fixture
def make_draft(db):
    return draft_with
