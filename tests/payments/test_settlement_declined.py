"""A Braintree sale declined at settlement after its invoice was marked paid: the invoice owes
the amount again."""

from decimal import Decimal

import pytest
from django.db import DatabaseError, transaction
from django.test import Client

from invoices.choices import InvoiceStatus
from invoices.models import Invoice
from invoices.selectors import invoice_amount_due
from ledger.selectors import trial_balance
from payments.choices import PaymentStatus, WebhookStatus
from payments.models import WebhookDelivery
from payments.webhooks.processing import drain

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.payments.urls")]


def _open_invoice(account, net: str = "100.00") -> Invoice:
    from invoices.services import invoice_add_line, invoice_create_draft, invoice_finalize

    draft = invoice_create_draft(account=account, currency="EUR")
    invoice_add_line(
        invoice=draft, description="Cloud plan", quantity=Decimal(1), unit_amount=Decimal(net)
    )
    return invoice_finalize(invoice=draft, pdf_mode="deferred")


def _braintree_method(account, psp) -> str:
    from accounts.models import PspCustomer
    from payments.gateways import get_gateway
    from payments.gateways.base import CustomerRequest

    gateway = get_gateway("braintree", psp.config)
    customer = gateway.customer_create(CustomerRequest(idempotency_key="c", email="x@y.example"))
    method = gateway.payment_method_attach(
        psp_customer_id=customer.psp_customer_id, token="fake-valid-visa-nonce"
    )
    PspCustomer.objects.create(
        account=account, provider="braintree", psp_customer_id=customer.psp_customer_id
    )
    return method.psp_payment_method_id


def _decline_at_settlement(psp, txn_id: str) -> None:
    # The fake has a control for settling only; Braintree's other batch outcome is set here.
    with psp.lock:
        psp._set_status(psp.transactions[txn_id], "settlement_declined", psp._tick())


def _deliver(psp, kind: str, txn_id: str) -> None:
    body, headers = psp.build_webhook(kind, txn_id)
    response = Client().post(
        "/webhooks/braintree",
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers=headers,
    )
    assert response.status_code == 200
    drain()


def _balanced() -> bool:
    return all(t.debit_minor == t.credit_minor for t in trial_balance().totals.values())


def test_declined_settlement_reopens_the_paid_invoice(account, braintree_psp):
    from payments.services import payment_charge_invoice

    invoice = _open_invoice(account)
    payment = payment_charge_invoice(
        invoice=invoice,
        provider="braintree",
        payment_method_id=_braintree_method(account, braintree_psp),
    )
    invoice.refresh_from_db()
    assert (payment.status, invoice.status) == (PaymentStatus.SUCCEEDED, InvoiceStatus.PAID)

    _decline_at_settlement(braintree_psp, payment.psp_payment_id)
    _deliver(braintree_psp, "transaction_settlement_declined", payment.psp_payment_id)

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookStatus.PROCESSED, delivery.last_error
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert invoice.status == InvoiceStatus.OPEN
    assert invoice.amount_paid_minor == 0
    assert invoice.paid_at is None
    assert invoice_amount_due(invoice) == invoice.gross_minor == 119_00
    assert _balanced()
    reason = invoice.history.first().history_change_reason
    assert "declined" in reason and payment.psp_payment_id in reason

    # The same news again (a redelivery, a sync) leaves the invoice as it is.
    from payments.providers import gateway_for
    from payments.services import payment_record_result

    payment_record_result(
        payment_id=payment.pk, result=gateway_for("braintree").payment_fetch(payment.psp_payment_id)
    )
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid_minor) == (InvoiceStatus.OPEN, 0)
    assert _balanced()


def test_reversing_part_of_the_payments_keeps_the_rest(account):
    from invoices.customer_credit import invoice_payment_reverse
    from invoices.services import invoice_mark_paid

    invoice = _open_invoice(account)
    invoice_mark_paid(
        invoice=invoice, amount_minor=19_00, paid_at=invoice.finalized_at, reference="a"
    )
    invoice_mark_paid(
        invoice=invoice, amount_minor=100_00, paid_at=invoice.finalized_at, reference="b"
    )
    assert invoice.status == InvoiceStatus.PAID

    invoice_payment_reverse(invoice=invoice, amount_minor=19_00, reference="a", reason="bounced")
    invoice_payment_reverse(invoice=invoice, amount_minor=19_00, reference="a", reason="bounced")

    stored = Invoice.objects.get(pk=invoice.pk)
    assert (stored.status, stored.amount_paid_minor) == (InvoiceStatus.OPEN, 100_00)
    assert invoice_amount_due(stored) == 19_00
    # A paid invoice is still never reopened by flipping its status alone.
    invoice_mark_paid(
        invoice=invoice, amount_minor=19_00, paid_at=invoice.finalized_at, reference="c"
    )
    with pytest.raises(DatabaseError), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.OPEN)
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID


def test_reversing_an_unknown_payment_is_refused(account):
    from invoices.customer_credit import InvoicePaymentNotFound, invoice_payment_reverse
    from invoices.services import invoice_mark_paid

    invoice = _open_invoice(account)
    invoice_mark_paid(
        invoice=invoice, amount_minor=119_00, paid_at=invoice.finalized_at, reference="a"
    )
    with pytest.raises(InvoicePaymentNotFound):
        invoice_payment_reverse(invoice=invoice, amount_minor=1_00, reference="zz", reason="x")
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID
