"""Staff downloads of the stored PDFs (the same bytes every time)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404

from invoices.choices import InvoiceStatus
from invoices.models import CreditNote, Invoice
from invoices.selectors import credit_note_pdf_bytes, invoice_pdf_bytes


def _pdf_response(data: bytes, filename: str, sha256: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["ETag"] = f'"{sha256}"'
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@permission_required("invoices.view_invoice", raise_exception=True)
def invoice_pdf(request, pk: int):
    invoice = get_object_or_404(Invoice.objects.exclude(status=InvoiceStatus.DRAFT), pk=pk)
    data = invoice_pdf_bytes(invoice)
    invoice.refresh_from_db(fields=["pdf_sha256"])
    return _pdf_response(data, f"{invoice.number}.pdf", invoice.pdf_sha256)


@login_required
@permission_required("invoices.view_creditnote", raise_exception=True)
def credit_note_pdf(request, pk: int):
    note = get_object_or_404(CreditNote.objects.select_related("invoice"), pk=pk, status="ISSUED")
    data = credit_note_pdf_bytes(note)
    note.refresh_from_db(fields=["pdf_sha256"])
    return _pdf_response(data, f"{note.number}.pdf", note.pdf_sha256)
