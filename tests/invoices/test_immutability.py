"""Finalized invoices, their lines and issued credit notes cannot change: the database refuses
it whatever the path (ORM save, QuerySet.update(), raw SQL)."""

from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from invoices import triggers
from invoices.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine
from invoices.services import credit_note_issue, invoice_finalize
from tests.invoices.conftest import NOW


@pytest.fixture
def finalized(account, make_draft):
    invoice = make_draft(account, ("Cluster hours", "10", "1.50"), ("Support", "1", "99.00"))
    return invoice_finalize(invoice=invoice, now=NOW, pdf_mode="deferred")


def _refused(action) -> None:
    with pytest.raises(DatabaseError), transaction.atomic():
        action()


def _raw(sql: str, params) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_a_finalized_line_cannot_be_changed_or_deleted_by_any_path(finalized):
    line = finalized.lines.order_by("position").first()
    before = (line.quantity, line.net_minor, line.description)

    def orm_save():
        line.net_minor = 1
        line.save()

    _refused(orm_save)
    _refused(lambda: InvoiceLine.objects.filter(pk=line.pk).update(net_minor=1))
    _refused(lambda: _raw("UPDATE invoices_invoiceline SET quantity = 99 WHERE id = %s", [line.pk]))
    _refused(lambda: InvoiceLine.objects.get(pk=line.pk).delete())
    _refused(lambda: InvoiceLine.objects.filter(invoice=finalized).delete())
    _refused(lambda: _raw("DELETE FROM invoices_invoiceline WHERE id = %s", [line.pk]))
    _refused(
        lambda: InvoiceLine.objects.create(
            invoice=finalized,
            position=9,
            description="sneaked in",
            quantity=1,
            unit_amount=Decimal(1),
            net_minor=100,
        )
    )
    line = InvoiceLine.objects.get(pk=line.pk)
    assert (line.quantity, line.net_minor, line.description) == before
    assert finalized.lines.count() == 2


def test_a_finalized_invoice_keeps_its_totals_and_number(finalized):
    def orm_save():
        invoice = Invoice.objects.get(pk=finalized.pk)
        invoice.gross_minor += 100
        invoice.net_minor += 100
        invoice.save()

    _refused(orm_save)
    _refused(lambda: Invoice.objects.filter(pk=finalized.pk).update(number="RE-2026-999999"))
    _refused(
        lambda: _raw(
            "UPDATE invoices_invoice SET tax_minor = 0, gross_minor = net_minor WHERE id = %s",
            [finalized.pk],
        )
    )
    _refused(lambda: Invoice.objects.filter(pk=finalized.pk).update(status="DRAFT"))
    _refused(lambda: Invoice.objects.get(pk=finalized.pk).delete())
    _refused(lambda: _raw("DELETE FROM invoices_invoice WHERE id = %s", [finalized.pk]))
    stored = Invoice.objects.get(pk=finalized.pk)
    assert (
        stored.number,
        stored.net_minor,
        stored.tax_minor,
        stored.gross_minor,
        stored.status,
    ) == (
        finalized.number,
        11400,
        2166,
        13566,
        "OPEN",
    )


def test_settlement_fields_still_move_through_allowed_transitions(finalized):
    Invoice.objects.filter(pk=finalized.pk).update(amount_paid_minor=13566, status="PAID")
    _refused(lambda: Invoice.objects.filter(pk=finalized.pk).update(status="OPEN"))
    assert Invoice.objects.get(pk=finalized.pk).status == "PAID"


def test_the_pdf_is_stored_once(finalized):
    Invoice.objects.filter(pk=finalized.pk).update(pdf="a.pdf", pdf_sha256="a" * 64)
    _refused(lambda: Invoice.objects.filter(pk=finalized.pk).update(pdf_sha256="b" * 64))
    _refused(lambda: Invoice.objects.filter(pk=finalized.pk).update(pdf="b.pdf"))


def test_drafts_stay_editable(account, make_draft):
    draft = make_draft(account, ("Seat", "1", "5.00"))
    InvoiceLine.objects.filter(invoice=draft).update(description="Seat (renamed)")
    assert draft.lines.get().description == "Seat (renamed)"
    draft.delete()
    assert not Invoice.objects.filter(pk=draft.pk).exists()


def test_an_issued_credit_note_and_its_lines_are_immutable(finalized):
    note = credit_note_issue(
        invoice=finalized, reason="Outage", amount_minor=1000, now=NOW, pdf_mode="deferred"
    )
    _refused(
        lambda: CreditNote.objects.filter(pk=note.pk).update(
            gross_minor=1, net_minor=1, tax_minor=0
        )
    )
    _refused(lambda: CreditNote.objects.filter(pk=note.pk).update(reason="other"))
    _refused(lambda: CreditNote.objects.get(pk=note.pk).delete())
    _refused(lambda: CreditNoteLine.objects.filter(credit_note=note).update(net_minor=1))
    _refused(
        lambda: _raw("DELETE FROM invoices_creditnoteline WHERE credit_note_id = %s", [note.pk])
    )
    stored = CreditNote.objects.get(pk=note.pk)
    assert (stored.gross_minor, stored.reason) == (1000, "Outage")


@pytest.mark.parametrize(
    ("model", "mutable", "protected"),
    [
        (Invoice, triggers.INVOICE_MUTABLE_COLUMNS, triggers.INVOICE_PROTECTED_COLUMNS),
        (CreditNote, triggers.CREDIT_NOTE_MUTABLE_COLUMNS, triggers.CREDIT_NOTE_PROTECTED_COLUMNS),
    ],
)
def test_every_document_column_is_declared_mutable_or_protected(model, mutable, protected):
    columns = {f.column for f in model._meta.concrete_fields}
    assert columns == set(mutable) | set(protected)
    assert not set(mutable) & set(protected)
