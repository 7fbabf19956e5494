"""Demo data: a year of invoices from the billing run, a few credit notes, one voided invoice.

Idempotent: the billing run skips what it billed before, and the corrections are made only
once (recognised by their reasons).
"""

from __future__ import annotations

import datetime as dt

from invoices.choices import InvoiceStatus
from invoices.models import CreditNote, Invoice

FIRST_RUN = dt.date(2025, 12, 1)
LAST_RUN = dt.date(2026, 11, 1)
DEMO_VOID = "Issued to the wrong legal entity (demo)"
DEMO_REASONS = (
    "Cluster outage on 14 March, 6 hours (demo)",
    "Duplicate seats billed by mistake (demo)",
    "Goodwill after the support escalation (demo)",
)


def _month_starts():
    day = FIRST_RUN
    while day <= LAST_RUN:
        yield day
        day = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def seed(*, out) -> None:
    from invoices.services import (
        billing_run,
        credit_note_issue,
        invoice_mark_paid,
        invoice_void,
        invoices_render_pending,
    )

    created = errors = 0
    for as_of in _month_starts():
        run_at = dt.datetime.combine(as_of, dt.time(6), tzinfo=dt.UTC)
        result = billing_run(as_of=as_of, now=run_at)
        created += result.created
        errors += len(result.errors)

    # Most older invoices were paid (the payments app records real payments; this marks them).
    cutoff = LAST_RUN - dt.timedelta(days=45)
    for invoice in Invoice.objects.filter(
        status=InvoiceStatus.OPEN, issue_date__lt=cutoff
    ).order_by("id"):
        if invoice.pk % 7 == 0:
            continue  # a few stay open for dunning and the aging report
        due = invoice.gross_minor - invoice.credit_applied_minor - invoice.amount_paid_minor
        if due > 0:
            paid_at = dt.datetime.combine(invoice.due_date, dt.time(10), tzinfo=dt.UTC)
            invoice_mark_paid(
                invoice=invoice,
                amount_minor=due,
                paid_at=paid_at,
                reference=f"demo-transfer-{invoice.pk}",
            )

    notes = 0
    if not CreditNote.objects.filter(reason__in=DEMO_REASONS).exists():
        candidates = list(
            Invoice.objects.filter(
                status__in=[InvoiceStatus.OPEN, InvoiceStatus.PAID], gross_minor__gt=1000
            ).order_by("issue_date", "id")[:3]
        )
        for invoice, reason in zip(candidates, DEMO_REASONS, strict=False):
            now = dt.datetime.combine(
                invoice.issue_date + dt.timedelta(days=5), dt.time(9), tzinfo=dt.UTC
            )
            if reason.startswith("Goodwill"):
                credit_note_issue(invoice=invoice, reason=reason, now=now, pdf_mode="deferred")
            else:
                credit_note_issue(
                    invoice=invoice,
                    reason=reason,
                    amount_minor=invoice.gross_minor // 10,
                    now=now,
                    pdf_mode="deferred",
                )
            notes += 1

    voided = 0
    if not Invoice.objects.filter(void_reason=DEMO_VOID).exists():
        target = (
            Invoice.objects.filter(
                status=InvoiceStatus.OPEN, amount_paid_minor=0, amount_credited_minor=0
            )
            .order_by("-issue_date", "id")
            .first()
        )
        if target is not None:
            invoice_void(invoice=target, actor=None, reason=DEMO_VOID)
            voided = 1

    rendered = 0
    while batch := invoices_render_pending(limit=200):
        rendered += batch
    out.write(
        f"invoices: {created} invoices created by 12 monthly billing runs ({errors} errors), "
        f"{notes} credit notes, {voided} voided, {rendered} PDFs rendered"
    )
