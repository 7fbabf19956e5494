"""Drafts, finalization, void, payments, write-off: bad input changes nothing."""

import datetime as dt
from decimal import Decimal

import pytest

from common.money import UnknownCurrency
from invoices.exceptions import (
    CurrencyMismatch,
    InvalidInvoiceLine,
    InvalidInvoiceTransition,
    InvoiceEmpty,
    InvoiceHasPayments,
    InvoiceNotDraft,
    PaymentExceedsAmountDue,
    ReasonRequired,
)
from invoices.models import CustomerCreditTransaction, Invoice, InvoiceLine
from invoices.selectors import invoice_amount_due
from invoices.services import (
    invoice_add_line,
    invoice_create_draft,
    invoice_finalize,
    invoice_mark_paid,
    invoice_mark_uncollectible,
    invoice_void,
)
from ledger.models import JournalEntry
from tests.invoices.conftest import NOW


def _finalize(invoice):
    return invoice_finalize(invoice=invoice, now=NOW, pdf_mode="deferred")


def _ledger(invoice) -> dict[str, int]:
    from ledger.models import JournalLine

    out: dict[str, int] = {}
    for ln in JournalLine.objects.filter(
        entry__document_type="invoice", entry__document_id=str(invoice.pk)
    ).select_related("account"):
        out[ln.account.kind] = out.get(ln.account.kind, 0) + ln.debit_minor - ln.credit_minor
    return out


def test_finalizing_an_empty_invoice_is_refused(account):
    draft = invoice_create_draft(account=account, now=NOW)
    with pytest.raises(InvoiceEmpty) as err:
        _finalize(draft)
    assert err.value.code == "invoice_empty"
    draft.refresh_from_db()
    assert (draft.status, draft.number) == ("DRAFT", None)
    assert not JournalEntry.objects.exists()


def test_a_line_in_another_currency_is_refused(account, make_draft):
    draft = make_draft(account, ("Seat", "1", "10.00"))
    with pytest.raises(CurrencyMismatch) as err:
        invoice_add_line(
            invoice=draft,
            description="USD thing",
            quantity=Decimal(1),
            unit_amount=Decimal("5"),
            currency="USD",
        )
    assert err.value.code == "invoice_currency_mismatch"
    assert draft.lines.count() == 1


def test_unknown_currency_and_bad_quantities_are_refused(account, make_draft):
    with pytest.raises(UnknownCurrency):
        invoice_create_draft(account=account, currency="EURO", now=NOW)
    draft = make_draft(account)
    for quantity, unit in [
        (Decimal(-1), Decimal(1)),
        (Decimal(0), Decimal(1)),
        (1.5, Decimal(1)),
        (Decimal(1), Decimal(-2)),
    ]:
        with pytest.raises(InvalidInvoiceLine):
            invoice_add_line(invoice=draft, description="x", quantity=quantity, unit_amount=unit)
    assert not draft.lines.exists()
    assert Invoice.objects.count() == 1


def test_negative_quantity_is_allowed_on_an_adjustment_line(account, make_draft):
    draft = make_draft(account, ("Cluster hours", "100", "0.10"))
    invoice_add_line(
        invoice=draft,
        description="Correction March",
        quantity=Decimal("-20"),
        unit_amount=Decimal("0.10"),
        is_adjustment=True,
    )
    invoice = _finalize(draft)
    assert invoice.net_minor == 800


def test_line_net_is_rounded_half_up_once(account, make_draft):
    draft = make_draft(account, ("API calls", "1234", "0.000125"))  # 0.15425 -> 0.15
    line = draft.lines.get()
    assert line.net_minor == 15
    draft2 = make_draft(account, ("API calls", "1", "0.125"))  # 0.125 -> 0.13
    assert draft2.lines.get().net_minor == 13


def test_finalize_numbers_snapshots_and_posts(account, make_draft):
    invoice = _finalize(make_draft(account, ("Team plan", "3", "20.00")))
    assert invoice.number.startswith(f"RE-{NOW.year}-")
    assert invoice.status == "OPEN"
    assert invoice.issue_date == dt.date(2026, 3, 10)
    assert invoice.due_date == dt.date(2026, 3, 24)
    assert invoice.customer_snapshot["name"] == account.legal_name
    assert invoice.seller_snapshot["vat_id"] == "DE136695976"
    assert (invoice.net_minor, invoice.tax_minor, invoice.gross_minor) == (6000, 1140, 7140)
    assert _ledger(invoice) == {"receivables": 7140, "revenue": -6000, "vat_payable": -1140}
    with pytest.raises(InvoiceNotDraft):
        _finalize(invoice)
    with pytest.raises(InvoiceNotDraft):
        invoice_add_line(
            invoice=invoice, description="late", quantity=Decimal(1), unit_amount=Decimal(1)
        )


def test_void_keeps_the_number_and_reverses_the_entry(account, make_draft):
    invoice = _finalize(make_draft(account, ("Team plan", "1", "20.00")))
    with pytest.raises(ReasonRequired):
        invoice_void(invoice=invoice, actor=None, reason=" ")
    invoice = invoice_void(invoice=invoice, actor=None, reason="Sent to the wrong customer")
    invoice.refresh_from_db()
    assert invoice.status == "VOID" and invoice.number.startswith("RE-")
    assert all(v == 0 for v in _ledger(invoice).values())
    assert invoice_amount_due(invoice) == 0
    with pytest.raises(InvalidInvoiceTransition):
        invoice_void(invoice=invoice, actor=None, reason="again")


def test_partial_then_full_payment(account, make_draft):
    invoice = _finalize(make_draft(account, ("Team plan", "1", "100.00")))
    invoice = invoice_mark_paid(invoice=invoice, amount_minor=5000, paid_at=NOW, reference="pi_1")
    assert (invoice.status, invoice_amount_due(invoice)) == ("OPEN", 6900)
    # the same reference again changes nothing
    invoice = invoice_mark_paid(invoice=invoice, amount_minor=5000, paid_at=NOW, reference="pi_1")
    assert invoice.amount_paid_minor == 5000
    with pytest.raises(PaymentExceedsAmountDue):
        invoice_mark_paid(invoice=invoice, amount_minor=7000, paid_at=NOW, reference="pi_2")
    with pytest.raises(InvoiceHasPayments):
        invoice_void(invoice=invoice, actor=None, reason="no")
    invoice = invoice_mark_paid(invoice=invoice, amount_minor=6900, paid_at=NOW, reference="pi_3")
    assert invoice.status == "PAID" and invoice_amount_due(invoice) == 0


def test_uncollectible_writes_off_what_is_due(account, make_draft):
    invoice = _finalize(make_draft(account, ("Team plan", "1", "100.00")))
    invoice_mark_paid(invoice=invoice, amount_minor=1900, paid_at=NOW, reference="pi_1")
    invoice = invoice_mark_uncollectible(invoice=invoice, reason="insolvent", now=NOW)
    assert invoice.status == "UNCOLLECTIBLE"
    ledger = _ledger(invoice)
    assert ledger["bad_debt"] == 10000
    # receivables: 11900 invoiced - 10000 written off; the 1900 payment is the payments app's entry
    assert ledger["receivables"] == 1900


def test_customer_credit_is_consumed_by_the_next_invoice(account, make_draft):
    CustomerCreditTransaction.objects.create(
        account=account, currency="EUR", amount_minor=5000, kind="CREDIT_NOTE", created_at=NOW
    )
    first = _finalize(make_draft(account, ("Seat", "1", "30.00")))  # 35.70 gross
    assert (first.credit_applied_minor, first.status) == (3570, "PAID")
    second = _finalize(make_draft(account, ("Seat", "1", "30.00")))
    assert second.credit_applied_minor == 1430
    assert invoice_amount_due(second) == 2140
    assert _ledger(second)["customer_credit"] == 1430
    # voiding gives the used credit back
    invoice_void(invoice=second, actor=None, reason="duplicate")
    from invoices.selectors import customer_credit_balance

    assert customer_credit_balance(account=account, currency="EUR") == 1430


def test_lines_of_drafts_are_numbered_in_order(account, make_draft):
    draft = make_draft(account, ("a", "1", "1"), ("b", "1", "1"), ("c", "1", "1"))
    assert list(InvoiceLine.objects.filter(invoice=draft).values_list("position", flat=True)) == [
        1,
        2,
        3,
    ]
