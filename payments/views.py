"""Staff screens: a payment, the refund form, recording a bank transfer, the accountants'
reconciliation."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from common.exceptions import PaydeskError
from common.money import Money
from common.templatetags.money import money as money_filter
from payments.forms import BankTransferForm, InvoiceLookupForm, RefundForm
from payments.models import Payment, ReconciliationReport
from payments.refunds import APPROVAL_ACTION, refund_request, refundable_minor
from payments.selectors import reconciliation_csv_rows, reconciliation_reports
from staff.services import limit_for


@login_required
@permission_required("payments.view_payment", raise_exception=True)
def payment_detail(request, pk: int):
    payment = get_object_or_404(
        Payment.objects.select_related("account", "invoice", "created_by"), pk=pk
    )
    return render(
        request,
        "payments/payment_detail.html",
        {
            "payment": payment,
            "refunds": payment.refunds.select_related("requested_by", "approval"),
            "events": payment.events.select_related("actor")[:200],
            "refundable": refundable_minor(payment),
            "can_refund": request.user.has_perm("payments.issue_refund"),
        },
    )


def _money(minor: int, currency: str, request) -> str:
    return money_filter(minor, currency)


@login_required
@permission_required("payments.issue_refund", raise_exception=True)
def refund_new(request, pk: int):
    """Form → confirm → send (or ask for approval). Plain language throughout."""
    payment = get_object_or_404(Payment.objects.select_related("account", "invoice"), pk=pk)
    left = refundable_minor(payment)
    limit = limit_for(user=request.user, action=APPROVAL_ACTION, currency=payment.currency)
    initial = {"amount": Money(left, payment.currency).to_decimal()} if left else {}
    form = RefundForm(
        request.POST or None, initial=initial, currency=payment.currency, refundable_minor=left
    )
    step = "form"
    if request.method == "POST" and form.is_valid():
        amount_minor = form.cleaned_data["amount_minor"]
        if request.POST.get("confirmed") != "yes":
            step = "confirm"
        else:
            try:
                refund = refund_request(
                    payment=payment,
                    amount_minor=amount_minor,
                    reason=form.cleaned_data["reason"],
                    note=form.cleaned_data["note"],
                    actor=request.user,
                    with_credit_note=form.cleaned_data["with_credit_note"],
                )
            except PaydeskError as exc:
                form.add_error(None, str(exc))
            else:
                return redirect(reverse("payments:refund_done", args=[payment.pk, refund.pk]))
    amount_minor = (
        form.cleaned_data.get("amount_minor") if form.is_bound and form.is_valid() else None
    )
    return render(
        request,
        "payments/refund_form.html",
        {
            "payment": payment,
            "form": form,
            "step": step,
            "refundable": left,
            "refundable_text": _money(left, payment.currency, request),
            "limit": limit,
            "limit_text": _money(limit, payment.currency, request),
            "amount_text": _money(amount_minor, payment.currency, request) if amount_minor else "",
            "needs_approval": amount_minor is not None and amount_minor > limit,
            "invoice_paid": bool(payment.invoice_id),
        },
    )


@login_required
@permission_required("payments.issue_refund", raise_exception=True)
def refund_done(request, pk: int, refund_pk: int):
    payment = get_object_or_404(Payment, pk=pk)
    refund = get_object_or_404(payment.refunds.select_related("approval"), pk=refund_pk)
    if refund.requested_by_id != request.user.pk and not request.user.has_perm(
        "payments.view_refund"
    ):
        raise PermissionDenied
    return render(
        request,
        "payments/refund_done.html",
        {
            "payment": payment,
            "refund": refund,
            "amount_text": _money(refund.amount_minor, refund.currency, request),
        },
    )


@login_required
@permission_required("payments.record_manual_payment", raise_exception=True)
def bank_transfer_record(request):
    """Find the invoice by its number, then record the transfer against it: the amount is
    prefilled with what is due, the date with today."""
    from django.utils import timezone

    from invoices.selectors import invoice_amount_due
    from payments.services import payment_record_manual

    if request.method == "POST":
        form = BankTransferForm(request.POST)
        if form.is_valid():
            invoice = form.cleaned_data["invoice"]
            try:
                payment = payment_record_manual(
                    invoice=invoice,
                    amount_minor=form.cleaned_data["amount_minor"],
                    reference=form.cleaned_data["reference"],
                    received_on=form.cleaned_data["received_on"],
                    actor=request.user,
                )
            except PaydeskError as exc:
                form.add_error(None, str(exc))
            else:
                invoice.refresh_from_db()
                due = invoice_amount_due(invoice)
                amount = _money(payment.amount_minor, payment.currency, request)
                if due:
                    text = _("%(amount)s recorded for %(number)s; %(due)s is still due.") % {
                        "amount": amount,
                        "number": invoice.number,
                        "due": _money(due, invoice.currency, request),
                    }
                else:
                    text = _("%(amount)s recorded for %(number)s; the invoice is paid.") % {
                        "amount": amount,
                        "number": invoice.number,
                    }
                messages.success(request, text)
                return redirect(reverse("payments:bank_transfer"))
        return _bank_transfer_page(request, form=form, invoice=form.cleaned_data.get("invoice"))
    lookup = InvoiceLookupForm(request.GET) if request.GET.get("invoice") else None
    if lookup is None or not lookup.is_valid():
        return _bank_transfer_page(request, form=lookup or InvoiceLookupForm(), invoice=None)
    invoice = lookup.cleaned_data["invoice"]
    due = invoice_amount_due(invoice)
    form = BankTransferForm(
        initial={
            "invoice": invoice.number,
            "amount": Money(due, invoice.currency).to_decimal(),
            "received_on": timezone.localdate(),
        }
    )
    return _bank_transfer_page(request, form=form, invoice=invoice)


def _bank_transfer_page(request, *, form, invoice):
    from invoices.selectors import invoice_amount_due

    due = invoice_amount_due(invoice) if invoice is not None else None
    return render(
        request,
        "payments/bank_transfer.html",
        {
            "form": form,
            "invoice": invoice,
            "due_text": _money(due, invoice.currency, request) if invoice is not None else "",
            "gross_text": (
                _money(invoice.gross_minor, invoice.currency, request) if invoice else ""
            ),
        },
    )


@login_required
@permission_required("payments.view_reconciliation", raise_exception=True)
def reconciliation_list(request):
    reports = reconciliation_reports(
        provider=request.GET.get("provider") or None,
        with_differences=request.GET.get("differences") == "1",
    )[:200]
    return render(request, "payments/reconciliation_list.html", {"reports": reports})


@login_required
@permission_required("payments.view_reconciliation", raise_exception=True)
def reconciliation_detail(request, pk: int):
    report = get_object_or_404(ReconciliationReport.objects.select_related("payout"), pk=pk)
    lines = report.lines.select_related("payment", "refund").order_by("kind", "pk")
    return render(
        request, "payments/reconciliation_detail.html", {"report": report, "lines": lines}
    )


class _Echo:
    def write(self, value):
        return value


@login_required
@permission_required("payments.view_reconciliation", raise_exception=True)
def reconciliation_csv(request, pk: int):
    import csv

    report = get_object_or_404(ReconciliationReport.objects.select_related("payout"), pk=pk)
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in reconciliation_csv_rows(report)),
        content_type="text/csv; charset=utf-8",
    )
    name = f"reconciliation-{report.payout.provider}-{report.payout.psp_payout_id}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    messages.get_messages(request).used = True
    return response
