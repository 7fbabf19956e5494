"""The accountant's screen for a bank transfer received against an invoice."""

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from invoices.choices import InvoiceStatus
from invoices.models import Invoice
from ledger import chart
from ledger.models import JournalLine
from payments.models import Payment

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.payments.urls")]

URL = "/payments/bank-transfer"


@pytest.fixture
def invoice(account) -> Invoice:
    from invoices.services import invoice_add_line, invoice_create_draft, invoice_finalize

    draft = invoice_create_draft(account=account, currency="EUR")
    invoice_add_line(
        invoice=draft, description="Cloud plan", quantity=Decimal(1), unit_amount=Decimal("100.00")
    )
    return invoice_finalize(invoice=draft, pdf_mode="deferred")


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_accountant_records_a_transfer_and_the_invoice_is_paid(accountant, invoice):
    client = _login(accountant)
    assert f'href="{URL}"' in client.get("/staff/home/accounting/").content.decode()

    page = client.get(URL, {"invoice": invoice.number.lower()}).content.decode()
    assert 'value="119.00"' in page  # prefilled with the amount due
    assert f'value="{timezone.localdate():%Y-%m-%d}"' in page

    done = client.post(
        URL,
        {
            "invoice": invoice.number,
            "amount": "119.00",
            "reference": "SEPA 2026-03-10 ACME RE",
            "received_on": (timezone.localdate() - dt.timedelta(days=1)).isoformat(),
        },
        follow=True,
    )
    assert "the invoice is paid" in done.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.amount_paid_minor == 119_00
    payment = Payment.objects.get(invoice=invoice)
    assert payment.provider == "bank" and payment.reference == "SEPA 2026-03-10 ACME RE"
    lines = JournalLine.objects.filter(
        entry__document_type="payment", entry__document_id=payment.pk
    )
    assert {(ln.account.code, ln.debit_minor, ln.credit_minor) for ln in lines} == {
        (chart.code("bank"), 119_00, 0),
        (chart.code("receivables"), 0, 119_00),
    }


def test_more_than_is_due_is_a_field_error_and_records_nothing(accountant, invoice):
    page = (
        _login(accountant)
        .post(
            URL,
            {
                "invoice": invoice.number,
                "amount": "200.00",
                "reference": "X",
                "received_on": timezone.localdate().isoformat(),
            },
        )
        .content.decode()
    )
    assert "Only €119.00 is still due on this invoice." in page
    assert not Payment.objects.exists()


def test_an_unknown_number_is_said_plainly(accountant, invoice):
    page = _login(accountant).get(URL, {"invoice": "RE-1999-000001"}).content.decode()
    assert "There is no invoice with this number." in page


def test_support_may_not_record_transfers(support, invoice):
    client = _login(support)
    assert client.get(URL).status_code == 403
    response = client.post(
        URL,
        {
            "invoice": invoice.number,
            "amount": "119.00",
            "reference": "X",
            "received_on": timezone.localdate().isoformat(),
        },
    )
    assert response.status_code == 403
    assert not Payment.objects.exists()
