"""Every write of an invoice: drafts, lines, finalization, payment, void, write-off, PDF.

Credit notes live in ``invoices.credit_notes`` and the billing run in ``invoices.billing``;
both are re-exported at the end of this module so callers use ``invoices.services`` only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max, Sum
from django.utils import timezone

from accounts.models import Account
from common.money import Money, exponent
from invoices import pdf, posting
from invoices.choices import (
    INVOICE_TRANSITIONS,
    CreditTransactionKind,
    InvoiceKind,
    InvoiceStatus,
    TaxCategory,
)
from invoices.exceptions import (
    CurrencyMismatch,
    InvalidInvoiceLine,
    InvalidInvoiceTransition,
    InvoiceEmpty,
    InvoiceHasCreditNotes,
    InvoiceHasPayments,
    InvoiceNegative,
    InvoiceNotDraft,
    PaymentExceedsAmountDue,
    ReasonRequired,
)
from invoices.models import CustomerCreditTransaction, Invoice, InvoiceLine, InvoicePayment
from invoices.numbering import INVOICE_SERIES, number_next, series_get
from invoices.tax import RateBook, category_for, tax_breakdown

PDF_AFTER_COMMIT = "after_commit"
PDF_DEFERRED = "deferred"


def payment_terms_days() -> int:
    return int(getattr(settings, "PAYDESK_PAYMENT_TERMS_DAYS", 14))


def _check_currency(currency: str) -> str:
    exponent(currency)  # raises UnknownCurrency (code "unknown_currency")
    return currency


def _decimal(value, field: str) -> Decimal:
    if isinstance(value, bool | float) or not isinstance(value, Decimal | int | str):
        raise InvalidInvoiceLine(
            f"{field} must be a Decimal (or int/str), not {type(value).__name__}", field=field
        )
    try:
        result = Decimal(value)
    except ArithmeticError:
        raise InvalidInvoiceLine(f"{field} {value!r} is not a number", field=field) from None
    if not result.is_finite():
        raise InvalidInvoiceLine(f"{field} must be finite", field=field)
    return result


def _locked(invoice: Invoice) -> Invoice:
    return Invoice.objects.select_for_update().get(pk=invoice.pk)


def _refresh(target: Invoice, source: Invoice) -> Invoice:
    """Copy the locked, updated row's values into the caller's instance, and return it."""
    for field in Invoice._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    return target


# --- drafts ----------------------------------------------------------------------------------


def invoice_create_draft(
    *,
    account: Account,
    currency: str | None = None,
    kind: str = InvoiceKind.MANUAL,
    subscription=None,
    billing_key: str | None = None,
    issue_date: dt.date | None = None,
    service_period_start: dt.date | None = None,
    service_period_end: dt.date | None = None,
    memo: str = "",
    now: dt.datetime | None = None,
) -> Invoice:
    currency = _check_currency(currency or account.currency)
    if kind not in InvoiceKind.values:
        raise InvalidInvoiceLine(f"unknown invoice kind {kind!r}", field="kind")
    if subscription is not None and subscription.account_id != account.pk:
        raise InvalidInvoiceLine(
            "the subscription belongs to another account", field="subscription"
        )
    return Invoice.objects.create(
        account=account,
        subscription=subscription,
        series=series_get(INVOICE_SERIES),
        kind=kind,
        billing_key=billing_key,
        currency=currency,
        issue_date=issue_date,
        service_period_start=service_period_start,
        service_period_end=service_period_end,
        memo=memo,
        created_at=now or timezone.now(),
    )


@dataclass(frozen=True)
class LineInput:
    """One line to add; ``net_minor`` is given when a price rates a quantity as a whole
    (tiers, minimums); otherwise net = quantity x unit amount, rounded half up once."""

    description: str
    quantity: Decimal
    unit_amount: Decimal | None
    net_minor: int | None = None
    currency: str | None = None
    period_start: dt.datetime | None = None
    period_end: dt.datetime | None = None
    product_code: str = "general"
    price_id: int | None = None
    tax_rate: Decimal | None = None
    is_adjustment: bool = False
    adjustment_period_start: dt.datetime | None = None
    adjustment_period_end: dt.datetime | None = None
    meter_code: str = ""
    usage_aggregation: dict | None = None


def _build_line(invoice: Invoice, spec: LineInput, position: int) -> InvoiceLine:
    if spec.currency is not None and spec.currency != invoice.currency:
        raise CurrencyMismatch(
            f"the invoice is in {invoice.currency}; a line in {spec.currency} cannot be added",
            invoice_currency=invoice.currency,
            line_currency=spec.currency,
        )
    if not spec.description or not spec.description.strip():
        raise InvalidInvoiceLine("a line needs a description", field="description")
    quantity = _decimal(spec.quantity, "quantity")
    negative_allowed = spec.is_adjustment or invoice.kind == InvoiceKind.ADJUSTMENT
    if quantity < 0 and not negative_allowed:
        raise InvalidInvoiceLine(
            "a negative quantity is only allowed on an adjustment line", field="quantity"
        )
    if quantity == 0 and not spec.meter_code and not spec.is_adjustment:
        raise InvalidInvoiceLine("the quantity must not be zero", field="quantity")
    unit_amount = None
    if spec.unit_amount is not None:
        unit_amount = _decimal(spec.unit_amount, "unit_amount")
        if unit_amount < 0:
            raise InvalidInvoiceLine("the unit amount must not be negative", field="unit_amount")
    if spec.net_minor is not None:
        if type(spec.net_minor) is not int:
            raise InvalidInvoiceLine("net_minor must be an int", field="net_minor")
        net_minor = spec.net_minor
    elif unit_amount is not None:
        net_minor = Money.from_decimal(quantity * unit_amount, invoice.currency).minor
    else:
        raise InvalidInvoiceLine("give the unit amount or the net amount", field="unit_amount")
    if net_minor < 0 and not negative_allowed:
        raise InvalidInvoiceLine("a negative amount is only allowed on an adjustment line")
    tax_rate = None
    if spec.tax_rate is not None:
        tax_rate = _decimal(spec.tax_rate, "tax_rate").quantize(Decimal("0.01"))
    if spec.period_start and spec.period_end and spec.period_end <= spec.period_start:
        raise InvalidInvoiceLine("the period must end after it starts", field="period_end")
    return InvoiceLine(
        invoice=invoice,
        position=position,
        description=spec.description.strip()[:300],
        period_start=spec.period_start,
        period_end=spec.period_end,
        quantity=quantity,
        unit_amount=unit_amount,
        net_minor=net_minor,
        tax_rate=tax_rate,
        tax_rate_fixed=tax_rate is not None,
        product_code=spec.product_code or "general",
        price_id=spec.price_id,
        meter_code=spec.meter_code,
        usage_aggregation=spec.usage_aggregation,
        is_adjustment=spec.is_adjustment,
        adjustment_period_start=spec.adjustment_period_start,
        adjustment_period_end=spec.adjustment_period_end,
    )


@transaction.atomic
def invoice_add_lines(*, invoice: Invoice, lines: list[LineInput]) -> list[InvoiceLine]:
    """Add several lines at once; all are checked before any is written."""
    locked = _locked(invoice)
    if locked.status != InvoiceStatus.DRAFT:
        raise InvoiceNotDraft(f"invoice {locked.number} is finalized; issue a credit note")
    start = (locked.lines.aggregate(m=Max("position"))["m"] or 0) + 1
    built = [_build_line(locked, spec, start + i) for i, spec in enumerate(lines)]
    return InvoiceLine.objects.bulk_create(built)


def invoice_add_line(
    *,
    invoice: Invoice,
    description: str,
    quantity: Decimal,
    unit_amount: Decimal | None,
    currency: str | None = None,
    net_minor: int | None = None,
    period_start: dt.datetime | None = None,
    period_end: dt.datetime | None = None,
    product_code: str = "general",
    price=None,
    tax_rate: Decimal | None = None,
    is_adjustment: bool = False,
    adjustment_period_start: dt.datetime | None = None,
    adjustment_period_end: dt.datetime | None = None,
    meter_code: str = "",
    usage_aggregation: dict | None = None,
) -> InvoiceLine:
    """Add one line to a draft. ``tax_rate`` fixes a rate for this line (e.g. 7 %) on a
    domestic invoice; otherwise the rate follows the account's tax status at finalization."""
    spec = LineInput(
        description=description,
        quantity=quantity,
        unit_amount=unit_amount,
        net_minor=net_minor,
        currency=currency,
        period_start=period_start,
        period_end=period_end,
        product_code=product_code,
        price_id=getattr(price, "pk", price),
        tax_rate=tax_rate,
        is_adjustment=is_adjustment,
        adjustment_period_start=adjustment_period_start,
        adjustment_period_end=adjustment_period_end,
        meter_code=meter_code,
        usage_aggregation=usage_aggregation,
    )
    return invoice_add_lines(invoice=invoice, lines=[spec])[0]


# --- finalization ----------------------------------------------------------------------------


def customer_snapshot(account: Account) -> dict:
    return {
        "name": account.legal_name,
        "street": account.street,
        "postcode": account.postcode,
        "city": account.city,
        "region": account.region,
        "country": account.country,
        "vat_id": account.vat_id,
        "language": account.language,
        "tax_status": account.tax_status,
        "email": account.billing_email,
        "external_id": account.external_id or "",
    }


def seller_snapshot() -> dict:
    return dict(settings.PAYDESK_SELLER)


def credit_balance(*, account_id: int, currency: str) -> int:
    total = CustomerCreditTransaction.objects.filter(
        account_id=account_id, currency=currency
    ).aggregate(s=Sum("amount_minor"))["s"]
    return total or 0


def apply_tax(lines: list[InvoiceLine], *, category: str, rates: RateBook) -> list[InvoiceLine]:
    """Set each line's category and rate; return the lines whose values changed."""
    changed = []
    for line in lines:
        if line.tax_rate_fixed and category == TaxCategory.STANDARD:
            row = rates.exact(category, line.tax_rate)
        else:
            row = rates.default(category)
        if line.tax_category != row.category or line.tax_rate != row.rate:
            line.tax_category, line.tax_rate = row.category, row.rate
            changed.append(line)
    return changed


def tax_notes(groups, *, rates: RateBook, language: str) -> str:
    notes = []
    for category in dict.fromkeys(g.category for g in groups):
        note = rates.default(category).note(language)
        if note and note not in notes:
            notes.append(note)
    return "\n".join(notes)


def _service_period(lines: list[InvoiceLine]) -> tuple[dt.date | None, dt.date | None]:
    starts = [ln.period_start for ln in lines if ln.period_start and not ln.is_adjustment]
    ends = [ln.period_end for ln in lines if ln.period_end and not ln.is_adjustment]
    if not starts or not ends:
        return None, None
    # Billing periods are UTC days (as the lines print them), not the site's local days.
    first = min(starts).astimezone(dt.UTC).date()
    last = (max(ends) - dt.timedelta(microseconds=1)).astimezone(dt.UTC).date()
    return first, last


def finalized_fields(
    *,
    invoice: Invoice,
    lines: list[InvoiceLine],
    account: Account,
    issue: dt.date,
    rates: RateBook,
    now: dt.datetime,
) -> dict:
    """The values finalization gives a draft whose lines are taxed (``apply_tax``), except its
    number, credit and status. The billing run's batch writer uses it too, so an invoice comes
    out the same whichever path finalizes it."""
    groups = tax_breakdown((ln.tax_category, ln.tax_rate, ln.net_minor) for ln in lines)
    net = sum(ln.net_minor for ln in lines)
    tax = sum(g.tax_minor for g in groups)
    if net + tax < 0:
        label = f"#{invoice.pk}" if invoice.pk else invoice.billing_key
        raise InvoiceNegative(f"draft {label} totals {net + tax} minor units")
    language = pdf.language_of(account.language)
    start, end = _service_period(lines)
    return {
        "issue_date": issue,
        "due_date": issue + dt.timedelta(days=payment_terms_days()),
        "service_period_start": invoice.service_period_start or start,
        "service_period_end": invoice.service_period_end or end,
        "language": language,
        "customer_snapshot": customer_snapshot(account),
        "seller_snapshot": seller_snapshot(),
        "net_minor": net,
        "tax_minor": tax,
        "gross_minor": net + tax,
        "tax_breakdown": [g.as_dict() for g in groups],
        "tax_note": tax_notes(groups, rates=rates, language=language),
        "finalized_at": now,
    }


def settled_fields(*, gross_minor: int, applied: int, now: dt.datetime) -> dict:
    """Credit used and the status it leaves: PAID when nothing is left to pay."""
    if gross_minor - applied == 0:
        return {"credit_applied_minor": applied, "status": InvoiceStatus.PAID, "paid_at": now}
    return {"credit_applied_minor": applied, "status": InvoiceStatus.OPEN}


def invoice_finalize(
    *,
    invoice: Invoice,
    actor=None,
    now: dt.datetime | None = None,
    issue_date: dt.date | None = None,
    pdf_mode: str = PDF_AFTER_COMMIT,
    rates: RateBook | None = None,
) -> Invoice:
    """Number, snapshot, tax, apply customer credit, post to the ledger; the PDF is rendered
    once right after the commit (``pdf_mode="deferred"`` leaves it to the render task)."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked(invoice)
        if locked.status != InvoiceStatus.DRAFT:
            raise InvoiceNotDraft(f"invoice {locked.number} is finalized already")
        lines = list(locked.lines.order_by("position"))
        if not lines:
            raise InvoiceEmpty(f"draft #{locked.pk} has no lines")
        account = Account.objects.select_for_update().get(pk=locked.account_id)
        issue = issue_date or locked.issue_date or timezone.localdate(now)
        if rates is None or rates.on != issue:
            rates = RateBook(issue)
        changed = apply_tax(lines, category=category_for(account.tax_status), rates=rates)
        fields = finalized_fields(
            invoice=locked, lines=lines, account=account, issue=issue, rates=rates, now=now
        )
        if changed:
            InvoiceLine.objects.bulk_update(changed, ["tax_category", "tax_rate"])
        balance = credit_balance(account_id=account.pk, currency=locked.currency)
        applied = max(0, min(balance, fields["gross_minor"]))
        series = invoice.series if invoice.series_id == locked.series_id else locked.series
        number, sequence = number_next(series=series, year=issue.year)
        fields.update(number=number, sequence=sequence)
        fields.update(settled_fields(gross_minor=fields["gross_minor"], applied=applied, now=now))
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.save()
        if applied:
            CustomerCreditTransaction.objects.create(
                account=account,
                currency=locked.currency,
                amount_minor=-applied,
                kind=CreditTransactionKind.APPLIED,
                invoice=locked,
                created_at=now,
            )
        posting.invoice_post_finalized(invoice=locked, lines=lines, actor=actor, now=now)
        if pdf_mode == PDF_AFTER_COMMIT:
            invoice_id = locked.pk
            transaction.on_commit(lambda: _render_quietly(invoice_id))
    return _refresh(invoice, locked)


def _render_quietly(invoice_id: int) -> None:
    # The invoice is final whether or not its PDF renders now; the render task retries.
    try:
        invoice_render_pdf(invoice=Invoice(pk=invoice_id))
    except Exception:  # noqa: BLE001
        import logging

        logging.getLogger(__name__).exception(
            "invoice PDF rendering failed", extra={"id": invoice_id}
        )


# --- after finalization ----------------------------------------------------------------------


def _transition(invoice: Invoice, target: str) -> None:
    if target not in INVOICE_TRANSITIONS.get(invoice.status, set()):
        raise InvalidInvoiceTransition(
            f"invoice {invoice.number or invoice.pk} is {invoice.status}; "
            f"it cannot become {target}",
            status=invoice.status,
            target=target,
        )
    invoice.status = target


def invoice_void(
    *, invoice: Invoice, actor, reason: str, now: dt.datetime | None = None
) -> Invoice:
    """Cancel an open, unpaid invoice: it keeps its number; its journal entry is reversed."""
    if not reason or not reason.strip():
        raise ReasonRequired("say why the invoice is voided", field="reason")
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked(invoice)
        if locked.status == InvoiceStatus.OPEN and locked.amount_paid_minor:
            raise InvoiceHasPayments(f"invoice {locked.number} has payments")
        if locked.status == InvoiceStatus.OPEN and locked.amount_credited_minor:
            raise InvoiceHasCreditNotes(f"invoice {locked.number} has credit notes")
        _transition(locked, InvoiceStatus.VOID)
        locked.voided_at, locked.void_reason = now, reason.strip()
        locked.save(update_fields=["status", "voided_at", "void_reason", "updated_at"])
        if locked.credit_applied_minor:
            CustomerCreditTransaction.objects.create(
                account_id=locked.account_id,
                currency=locked.currency,
                amount_minor=locked.credit_applied_minor,
                kind=CreditTransactionKind.RESTORED,
                invoice=locked,
                created_at=now,
            )
        posting.invoice_post_voided(invoice=locked, actor=actor, now=now)
    return _refresh(invoice, locked)


def amount_due(invoice: Invoice) -> int:
    if invoice.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
        return 0
    owed = (
        invoice.gross_minor
        - invoice.credit_applied_minor
        - invoice.amount_paid_minor
        - invoice.amount_credited_minor
    )
    return max(0, owed)


def invoice_mark_paid(
    *, invoice: Invoice, amount_minor: int, paid_at: dt.datetime, reference: str
) -> Invoice:
    """Record a payment (the payments app posts its own journal entry). A partial payment keeps
    the invoice OPEN. The same ``reference`` again changes nothing."""
    if type(amount_minor) is not int or amount_minor <= 0:
        raise PaymentExceedsAmountDue("the amount must be a positive int", field="amount_minor")
    if not reference:
        raise InvalidInvoiceLine("a payment needs its reference", field="reference")
    with transaction.atomic():
        locked = _locked(invoice)
        if InvoicePayment.objects.filter(invoice=locked, reference=reference).exists():
            return _refresh(invoice, locked)
        if locked.status not in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE):
            raise InvalidInvoiceTransition(
                f"invoice {locked.number or locked.pk} is {locked.status}; it takes no payment",
                status=locked.status,
            )
        due = amount_due(locked)
        if amount_minor > due:
            raise PaymentExceedsAmountDue(
                f"{amount_minor} is more than the {due} still due", amount_due=due
            )
        InvoicePayment.objects.create(
            invoice=locked,
            amount_minor=amount_minor,
            paid_at=paid_at,
            reference=reference,
            created_at=timezone.now(),
        )
        if locked.status == InvoiceStatus.UNCOLLECTIBLE:
            posting.invoice_post_recovery(
                invoice=locked, amount_minor=amount_minor, reference=reference, paid_at=paid_at
            )
        locked.amount_paid_minor += amount_minor
        fields = ["amount_paid_minor", "updated_at"]
        if amount_due(locked) == 0:
            _transition(locked, InvoiceStatus.PAID)
            locked.paid_at = paid_at
            fields += ["status", "paid_at"]
        locked.save(update_fields=fields)
    return _refresh(invoice, locked)


def invoice_mark_uncollectible(
    *, invoice: Invoice, actor=None, reason: str = "", now: dt.datetime | None = None
) -> Invoice:
    """Write off what is still due: Dr bad debt, Cr receivables."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked(invoice)
        due = amount_due(locked)
        _transition(locked, InvoiceStatus.UNCOLLECTIBLE)
        locked.uncollectible_at = now
        locked.save(update_fields=["status", "uncollectible_at", "updated_at"])
        posting.invoice_post_write_off(invoice=locked, amount_minor=due, actor=actor, now=now)
    return _refresh(invoice, locked)


# --- PDF -------------------------------------------------------------------------------------


def invoice_render_pdf(*, invoice: Invoice) -> Invoice:
    """Render and store the PDF once; later calls return the stored one untouched."""
    with transaction.atomic():
        locked = _locked(invoice)
        if locked.status == InvoiceStatus.DRAFT:
            raise InvoiceNotDraft("a draft has no PDF; finalize it first")
        if locked.pdf_sha256:
            return _refresh(invoice, locked)
        html = pdf.render_html(pdf.invoice_context(locked, locked.lines.order_by("position")))
        data = pdf.render_pdf(html)
        locked.pdf.save(f"{locked.number}.pdf", ContentFile(data), save=False)
        locked.pdf_sha256 = pdf.sha256(data)
        locked.save(update_fields=["pdf", "pdf_sha256", "updated_at"])
    return _refresh(invoice, locked)


def invoices_render_pending(*, limit: int = 500) -> int:
    """Render the PDFs of finalized invoices and issued credit notes that have none yet."""
    from invoices.credit_notes import credit_note_render_pdf
    from invoices.models import CreditNote

    ids = list(
        Invoice.objects.exclude(status=InvoiceStatus.DRAFT)
        .filter(pdf_sha256="")
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    for invoice_id in ids:
        invoice_render_pdf(invoice=Invoice(pk=invoice_id))
    notes = list(
        CreditNote.objects.filter(status="ISSUED", pdf_sha256="")
        .order_by("id")
        .values_list("id", flat=True)[: limit - len(ids)]
    )
    for note_id in notes:
        credit_note_render_pdf(credit_note=CreditNote(pk=note_id))
    return len(ids) + len(notes)


from invoices.billing import BillingRunResult, billing_run  # noqa: E402
from invoices.credit_notes import CreditLine, credit_note_issue, credit_note_render_pdf  # noqa: E402

__all__ = [
    "BillingRunResult",
    "CreditLine",
    "LineInput",
    "amount_due",
    "billing_run",
    "credit_balance",
    "credit_note_issue",
    "credit_note_render_pdf",
    "invoice_add_line",
    "invoice_add_lines",
    "invoice_create_draft",
    "invoice_finalize",
    "invoice_mark_paid",
    "invoice_mark_uncollectible",
    "invoice_render_pdf",
    "invoice_void",
    "invoices_render_pending",
]
