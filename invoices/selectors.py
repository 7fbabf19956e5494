"""Reads of invoices, credit notes and customer credit."""

from __future__ import annotations

from django.db.models import QuerySet, Sum

from invoices.choices import InvoiceStatus
from invoices.models import CreditNote, CustomerCreditTransaction, Invoice


def invoice_amount_due(invoice: Invoice) -> int:
    """What the customer still owes: gross - credit used - paid - credited (never below 0)."""
    from invoices.services import amount_due

    return amount_due(invoice)


def invoices_open(*, account) -> QuerySet[Invoice]:
    return Invoice.objects.filter(account=account, status=InvoiceStatus.OPEN).order_by(
        "due_date", "id"
    )


def customer_credit_balance(*, account, currency: str) -> int:
    total = CustomerCreditTransaction.objects.filter(account=account, currency=currency).aggregate(
        s=Sum("amount_minor")
    )["s"]
    return total or 0


def invoice_pdf_bytes(invoice: Invoice) -> bytes:
    """The stored PDF, rendered (once) first if a deferred run has not done it yet."""
    from invoices.services import invoice_render_pdf

    if not invoice.pdf_sha256:
        invoice = invoice_render_pdf(invoice=invoice)
    with invoice.pdf.open("rb") as handle:
        return handle.read()


def credit_note_pdf_bytes(credit_note: CreditNote) -> bytes:
    from invoices.services import credit_note_render_pdf

    if not credit_note.pdf_sha256:
        credit_note = credit_note_render_pdf(credit_note=credit_note)
    with credit_note.pdf.open("rb") as handle:
        return handle.read()


def invoice_totals(queryset: QuerySet[Invoice]) -> dict[str, dict[str, int]]:
    """Net, tax and gross per currency over a (filtered) queryset: one aggregate query."""
    rows = (
        queryset.order_by()
        .values("currency")
        .annotate(net=Sum("net_minor"), tax=Sum("tax_minor"), gross=Sum("gross_minor"))
    )
    return {r["currency"]: {"net": r["net"], "tax": r["tax"], "gross": r["gross"]} for r in rows}
