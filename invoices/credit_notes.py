"""Credit notes ("Rechnungskorrektur"): full, per line, or a gross amount, never more than is
still creditable. They reduce what the customer owes on the invoice; what exceeds it (the
invoice was paid already) becomes customer credit that the next invoice consumes."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from common.money import Money
from invoices import pdf, posting
from invoices.choices import CreditNoteStatus, CreditTransactionKind, InvoiceStatus
from invoices.exceptions import (
    CreditExceedsInvoice,
    InvalidCreditNote,
    InvoiceNotCreditable,
    ReasonRequired,
)
from invoices.models import CreditNote, CreditNoteLine, CustomerCreditTransaction, Invoice
from invoices.numbering import CREDIT_NOTE_SERIES, number_next, series_get
from invoices.tax import TaxGroup, tax_on

CREDITABLE = (InvoiceStatus.OPEN, InvoiceStatus.PAID)


@dataclass(frozen=True)
class CreditLine:
    """Credit part of one invoice line: a quantity (at the line's unit amount) or a net amount."""

    invoice_line_id: int
    quantity: Decimal | None = None
    net_minor: int | None = None
    description: str = ""


@dataclass
class _Draft:
    invoice_line: object
    net_minor: int
    quantity: Decimal | None
    unit_amount: Decimal | None
    description: str

    @property
    def group(self) -> tuple[str, Decimal]:
        return (self.invoice_line.tax_category, self.invoice_line.tax_rate)


def _remaining_by_line(invoice: Invoice) -> dict[int, int]:
    credited = dict(
        CreditNoteLine.objects.filter(
            credit_note__invoice=invoice, credit_note__status=CreditNoteStatus.ISSUED
        )
        .values_list("invoice_line_id")
        .annotate(s=Sum("net_minor"))
    )
    return {line.pk: line.net_minor - credited.get(line.pk, 0) for line in invoice.lines.all()}


def _remaining_by_group(invoice: Invoice) -> dict[tuple[str, Decimal], tuple[int, int]]:
    remaining = {
        (g.category, g.rate): [g.net_minor, g.tax_minor]
        for g in map(TaxGroup.from_dict, invoice.tax_breakdown)
    }
    for breakdown in CreditNote.objects.filter(
        invoice=invoice, status=CreditNoteStatus.ISSUED
    ).values_list("tax_breakdown", flat=True):
        for g in map(TaxGroup.from_dict, breakdown):
            remaining[(g.category, g.rate)][0] -= g.net_minor
            remaining[(g.category, g.rate)][1] -= g.tax_minor
    return {key: (net, tax) for key, (net, tax) in remaining.items()}


def _drafts_full(lines, remaining: dict[int, int]) -> list[_Draft]:
    return [
        _Draft(line, remaining[line.pk], None, None, line.description)
        for line in lines
        if remaining[line.pk]
    ]


def _drafts_per_line(lines, remaining, specs: list[CreditLine], currency: str) -> list[_Draft]:
    by_id = {line.pk: line for line in lines}
    drafts = []
    asked: dict[int, int] = defaultdict(int)
    for spec in specs:
        line = by_id.get(spec.invoice_line_id)
        if line is None:
            raise InvalidCreditNote(
                f"line {spec.invoice_line_id} is not a line of this invoice", field="lines"
            )
        if (spec.quantity is None) == (spec.net_minor is None):
            raise InvalidCreditNote("give either a quantity or a net amount per line")
        if spec.quantity is not None:
            quantity = Decimal(spec.quantity)
            if quantity <= 0 or line.unit_amount is None:
                raise InvalidCreditNote("credit a positive quantity of a unit-priced line")
            net = Money.from_decimal(quantity * line.unit_amount, currency).minor
        else:
            quantity = None
            net = spec.net_minor
            if type(net) is not int or net <= 0:
                raise InvalidCreditNote("the net amount to credit must be a positive int")
        asked[line.pk] += net
        if asked[line.pk] > remaining[line.pk]:
            raise CreditExceedsInvoice(
                f"line {line.position} has {max(remaining[line.pk], 0)} left to credit, "
                f"not {asked[line.pk]}",
                line=line.position,
            )
        drafts.append(
            _Draft(line, net, quantity, line.unit_amount, spec.description or line.description)
        )
    return drafts


def _net_of_gross(gross: int, rate: Decimal) -> int:
    with localcontext() as ctx:
        ctx.prec = 60
        exact = Decimal(gross) * 100 / (100 + Decimal(rate))
        return int(exact.to_integral_value(rounding=ROUND_HALF_UP))


def _drafts_amount(lines, remaining, groups, amount: int, currency: str):
    """Spread a gross amount over the tax groups by their remaining gross, then over each
    group's lines by their remaining net. Returns drafts and the tax per group."""
    keys = [k for k, (net, tax) in groups.items() if net + tax > 0]
    if not keys:
        raise CreditExceedsInvoice("nothing is left to credit on this invoice")
    shares = Money(amount, currency).allocate([sum(groups[k]) for k in keys])
    drafts, taxes = [], {}
    for key, share in zip(keys, shares, strict=True):
        if not share.minor:
            continue
        group_net, group_tax = groups[key]
        if share.minor == group_net + group_tax:
            net, tax = group_net, group_tax
        else:
            net = _net_of_gross(share.minor, key[1])
            tax = share.minor - net
        taxes[key] = tax
        members = [
            ln for ln in lines if (ln.tax_category, ln.tax_rate) == key and remaining[ln.pk] > 0
        ]
        parts = Money(net, currency).allocate([remaining[ln.pk] for ln in members])
        drafts += [
            _Draft(ln, part.minor, None, None, ln.description)
            for ln, part in zip(members, parts, strict=True)
            if part.minor
        ]
    return drafts, taxes


def _groups_for(drafts, remaining_groups, fixed_tax: dict | None) -> list[TaxGroup]:
    nets: dict[tuple[str, Decimal], int] = defaultdict(int)
    for draft in drafts:
        nets[draft.group] += draft.net_minor
    groups = []
    for key, net in sorted(nets.items()):
        left_net, left_tax = remaining_groups.get(key, (0, 0))
        if fixed_tax is not None and key in fixed_tax:
            tax = fixed_tax[key]
        elif net == left_net:
            tax = left_tax  # the last credit of a rate takes exactly the tax left
        else:
            tax = min(tax_on(net, key[1]), left_tax)
        groups.append(TaxGroup(key[0], key[1], net, tax))
    return groups


def credit_note_issue(
    *,
    invoice: Invoice,
    reason: str,
    actor=None,
    lines: list[CreditLine] | None = None,
    amount_minor: int | None = None,
    now: dt.datetime | None = None,
    pdf_mode: str = "after_commit",
) -> CreditNote:
    """Issue a credit note: all that is left (no ``lines``/``amount_minor``), per line, or a
    gross amount. Refused beyond what is still creditable (``credit_exceeds_invoice``)."""
    from invoices.services import amount_due

    if not reason or not reason.strip():
        raise ReasonRequired("a credit note needs its reason", field="reason")
    if lines is not None and amount_minor is not None:
        raise InvalidCreditNote("give lines or an amount, not both")
    if amount_minor is not None and (type(amount_minor) is not int or amount_minor <= 0):
        raise InvalidCreditNote("the amount must be a positive int in minor units")
    if lines is not None and not lines:
        raise InvalidCreditNote("give at least one line to credit", field="lines")
    now = now or timezone.now()
    with transaction.atomic():
        inv = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if inv.status not in CREDITABLE:
            raise InvoiceNotCreditable(f"invoice {inv.number or inv.pk} is {inv.status}")
        invoice_lines = list(inv.lines.order_by("position"))
        remaining = _remaining_by_line(inv)
        remaining_groups = _remaining_by_group(inv)
        fixed_tax = None
        if amount_minor is not None:
            left = inv.gross_minor - inv.amount_credited_minor
            if amount_minor > left:
                raise CreditExceedsInvoice(
                    f"{amount_minor} is more than the {left} still creditable", creditable=left
                )
            drafts, fixed_tax = _drafts_amount(
                invoice_lines, remaining, remaining_groups, amount_minor, inv.currency
            )
        elif lines is not None:
            drafts = _drafts_per_line(invoice_lines, remaining, lines, inv.currency)
        else:
            drafts = _drafts_full(invoice_lines, remaining)
        groups = _groups_for(drafts, remaining_groups, fixed_tax)
        net = sum(g.net_minor for g in groups)
        tax = sum(g.tax_minor for g in groups)
        gross = net + tax
        if gross <= 0:
            raise CreditExceedsInvoice("nothing is left to credit on this invoice")
        if gross > inv.gross_minor - inv.amount_credited_minor:
            raise CreditExceedsInvoice(
                f"{gross} is more than the {inv.gross_minor - inv.amount_credited_minor} "
                "still creditable"
            )
        applied = min(gross, amount_due(inv))
        number, sequence = number_next(series=series_get(CREDIT_NOTE_SERIES), year=now.year)
        note = CreditNote.objects.create(
            invoice=inv,
            account_id=inv.account_id,
            series=series_get(CREDIT_NOTE_SERIES),
            number=number,
            sequence=sequence,
            status=CreditNoteStatus.DRAFT,
            currency=inv.currency,
            issue_date=timezone.localdate(now),
            reason=reason.strip(),
            language=inv.language,
            customer_snapshot=inv.customer_snapshot,
            seller_snapshot=inv.seller_snapshot,
            net_minor=net,
            tax_minor=tax,
            gross_minor=gross,
            tax_breakdown=[g.as_dict() for g in groups],
            tax_note=inv.tax_note,
            applied_to_invoice_minor=applied,
            to_customer_credit_minor=gross - applied,
            issued_at=now,
            issued_by=actor if getattr(actor, "pk", None) else None,
            created_at=now,
        )
        CreditNoteLine.objects.bulk_create(
            CreditNoteLine(
                credit_note=note,
                position=i,
                invoice_line=d.invoice_line,
                description=d.description[:300],
                quantity=d.quantity,
                unit_amount=d.unit_amount,
                net_minor=d.net_minor,
                tax_category=d.invoice_line.tax_category,
                tax_rate=d.invoice_line.tax_rate,
                product_code=d.invoice_line.product_code,
            )
            for i, d in enumerate(drafts, start=1)
        )
        note.status = CreditNoteStatus.ISSUED
        note.save(update_fields=["status", "updated_at"])
        inv.amount_credited_minor += gross
        fields = ["amount_credited_minor", "updated_at"]
        if inv.status == InvoiceStatus.OPEN and amount_due(inv) == 0:
            inv.status, inv.paid_at = InvoiceStatus.PAID, now
            fields += ["status", "paid_at"]
        inv.save(update_fields=fields)
        if note.to_customer_credit_minor:
            CustomerCreditTransaction.objects.create(
                account_id=inv.account_id,
                currency=inv.currency,
                amount_minor=note.to_customer_credit_minor,
                kind=CreditTransactionKind.CREDIT_NOTE,
                credit_note=note,
                created_at=now,
            )
        note.invoice = inv
        posting.credit_note_post(
            credit_note=note,
            lines=[_as_line(d) for d in drafts],
            actor=actor if getattr(actor, "pk", None) else None,
            now=now,
        )
        if pdf_mode == "after_commit":
            note_id = note.pk
            transaction.on_commit(lambda: _render_quietly(note_id))
    invoice.amount_credited_minor, invoice.status = inv.amount_credited_minor, inv.status
    return note


@dataclass
class _PostLine:
    product_code: str
    tax_category: str
    net_minor: int


def _as_line(draft: _Draft) -> _PostLine:
    line = draft.invoice_line
    return _PostLine(line.product_code, line.tax_category, draft.net_minor)


def _render_quietly(note_id: int) -> None:
    try:
        credit_note_render_pdf(credit_note=CreditNote(pk=note_id))
    except Exception:  # noqa: BLE001
        import logging

        logging.getLogger(__name__).exception("credit note PDF failed", extra={"id": note_id})


def credit_note_render_pdf(*, credit_note: CreditNote) -> CreditNote:
    with transaction.atomic():
        note = (
            CreditNote.objects.select_for_update(of=("self",))
            .select_related("invoice")
            .get(pk=credit_note.pk)
        )
        if note.pdf_sha256:
            return note
        html = pdf.render_html(pdf.credit_note_context(note, note.lines.order_by("position")))
        data = pdf.render_pdf(html)
        note.pdf.save(f"{note.number}.pdf", ContentFile(data), save=False)
        note.pdf_sha256 = pdf.sha256(data)
        note.save(update_fields=["pdf", "pdf_sha256", "updated_at"])
    return note
