"""Credit notes: full, per line, by amount; never more than is creditable."""

from decimal import Decimal

import pytest

from invoices.credit_notes import CreditLine
from invoices.exceptions import CreditExceedsInvoice, InvoiceNotCreditable, ReasonRequired
from invoices.models import CreditNote
from invoices.selectors import customer_credit_balance, invoice_amount_due
from invoices.services import (
    credit_note_issue,
    invoice_finalize,
    invoice_mark_paid,
)
from tests.invoices.conftest import NOW


@pytest.fixture
def invoice(account, make_draft):
    draft = make_draft(account, ("Cluster", "3", "10.02"), ("E-book", "2", "4.07", "7.00"))
    return invoice_finalize(invoice=draft, now=NOW, pdf_mode="deferred")  # 38.20 + 6.28 = 44.48


def _issue(invoice, **kwargs):
    return credit_note_issue(
        invoice=invoice,
        reason=kwargs.pop("reason", "Outage"),
        now=NOW,
        pdf_mode="deferred",
        **kwargs,
    )


def test_full_credit_reverses_exactly_and_settles_the_invoice(invoice):
    note = _issue(invoice)
    assert note.number.startswith(f"CN-{NOW.year}-")
    assert (note.net_minor, note.tax_minor, note.gross_minor) == (3820, 628, 4448)
    assert note.applied_to_invoice_minor == 4448 and note.to_customer_credit_minor == 0
    invoice.refresh_from_db()
    assert invoice.status == "PAID" and invoice_amount_due(invoice) == 0
    with pytest.raises(CreditExceedsInvoice) as err:
        _issue(invoice, amount_minor=1)
    assert err.value.code == "credit_exceeds_invoice"


def test_crediting_more_than_invoiced_is_refused_and_writes_nothing(invoice):
    with pytest.raises(CreditExceedsInvoice):
        _issue(invoice, amount_minor=4449)
    line = invoice.lines.order_by("position").first()
    with pytest.raises(CreditExceedsInvoice):
        _issue(
            invoice, lines=[CreditLine(line.pk, net_minor=3006), CreditLine(line.pk, net_minor=1)]
        )
    assert not CreditNote.objects.exists()
    invoice.refresh_from_db()
    assert invoice.amount_credited_minor == 0


def test_reason_is_required(invoice):
    with pytest.raises(ReasonRequired):
        _issue(invoice, reason="")


def test_partial_credits_add_up_to_the_invoice_without_a_cent_lost(invoice):
    lines = list(invoice.lines.order_by("position"))
    a = _issue(invoice, lines=[CreditLine(lines[0].pk, quantity=Decimal(1))])
    assert (a.net_minor, a.tax_minor) == (1002, 190)
    b = _issue(invoice, amount_minor=1000)
    c = _issue(invoice)  # the rest
    total = a.gross_minor + b.gross_minor + c.gross_minor
    assert total == invoice.gross_minor
    assert a.tax_minor + b.tax_minor + c.tax_minor == invoice.tax_minor


def test_credit_on_a_paid_invoice_becomes_customer_credit_for_the_next_invoice(
    account, invoice, make_draft
):
    invoice_mark_paid(invoice=invoice, amount_minor=4448, paid_at=NOW, reference="pi_9")
    note = _issue(invoice, amount_minor=2000, reason="Goodwill for the outage")
    assert (note.applied_to_invoice_minor, note.to_customer_credit_minor) == (0, 2000)
    assert customer_credit_balance(account=account, currency="EUR") == 2000
    nxt = invoice_finalize(
        invoice=make_draft(account, ("Seat", "1", "10.00")), now=NOW, pdf_mode="deferred"
    )
    assert nxt.credit_applied_minor == 1190
    assert customer_credit_balance(account=account, currency="EUR") == 810


def test_partly_paid_invoice_credit_splits(invoice):
    invoice_mark_paid(invoice=invoice, amount_minor=4000, paid_at=NOW, reference="pi_1")
    note = _issue(invoice, amount_minor=1000)
    assert (note.applied_to_invoice_minor, note.to_customer_credit_minor) == (448, 552)


def test_draft_and_void_invoices_cannot_be_credited(account, make_draft, invoice):
    from invoices.services import invoice_void

    with pytest.raises(InvoiceNotCreditable):
        _issue(make_draft(account, ("x", "1", "1")))
    invoice_void(invoice=invoice, actor=None, reason="wrong")
    with pytest.raises(InvoiceNotCreditable):
        _issue(invoice)
