"""Paying a real invoice, and refunding it with a credit note."""

from decimal import Decimal

import pytest

from payments.choices import PaymentStatus, RefundReason, RefundStatus
from payments.exceptions import InvoiceNotPayable
from payments.refunds import refund_request
from payments.services import payment_charge_invoice

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def open_invoice(account):
    import importlib

    from django.apps import apps

    # Transactional tests flush the tables the invoices data migration seeded.
    importlib.import_module("invoices.migrations.0002_seed_tax_rates_and_series").seed(apps, None)
    from ledger.chart import ensure_chart

    ensure_chart()
    from invoices.services import invoice_add_line, invoice_create_draft, invoice_finalize

    draft = invoice_create_draft(account=account, currency="EUR")
    invoice_add_line(
        invoice=draft, description="Cloud plan", quantity=Decimal(1), unit_amount=Decimal("100.00")
    )
    return (
        invoice_finalize(invoice=draft, pdf_mode="skip")
        if _has_skip()
        else invoice_finalize(invoice=draft)
    )


def _has_skip() -> bool:
    from invoices import services

    return hasattr(services, "PDF_SKIP") and services.PDF_SKIP == "skip"


def test_charging_an_invoice_pays_it_once(open_invoice, stripe_psp):
    from invoices.selectors import invoice_amount_due

    due = invoice_amount_due(open_invoice)
    assert due > 0
    payment = payment_charge_invoice(
        invoice=open_invoice, provider="stripe", payment_method_id="pm_card_visa"
    )
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.amount_minor == due
    open_invoice.refresh_from_db()
    assert invoice_amount_due(open_invoice) == 0
    assert open_invoice.amount_paid_minor == due
    with pytest.raises(InvoiceNotPayable):
        payment_charge_invoice(
            invoice=open_invoice, provider="stripe", payment_method_id="pm_card_visa"
        )
    assert len(stripe_psp.payment_intents) == 1


def test_refund_with_credit_note(open_invoice, stripe_psp, support_lead):
    from ledger.selectors import trial_balance

    payment = payment_charge_invoice(
        invoice=open_invoice, provider="stripe", payment_method_id="pm_card_visa"
    )
    refund = refund_request(
        payment=payment,
        amount_minor=50_00,
        actor=support_lead,
        reason=RefundReason.SERVICE_ISSUE,
        note="outage",
        with_credit_note=True,
    )
    assert refund.status == RefundStatus.SUCCEEDED
    assert refund.credit_note_ref
    open_invoice.refresh_from_db()
    assert open_invoice.amount_credited_minor == 50_00
    for currency, totals in trial_balance().totals.items():
        assert totals.debit_minor == totals.credit_minor, currency
