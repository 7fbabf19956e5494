"""Bill the proration of a plan change or an immediate cancellation right away.

Catalog computes the proration (``ProrationItem``: a negative credit for the unused part of the
old plan's in-advance fees, a positive charge for the new plan's part of the period); this
module turns it into documents, in the same transaction as the subscription change:

* Net zero or more (an upgrade): one finalized invoice, kind ADJUSTMENT, with the charge lines
  and the credit lines (negative) as separate lines, each naming its period.
* Net below zero (a downgrade, an immediate cancellation): an invoice total cannot be negative,
  so the unused part is corrected where it was billed: a credit note per invoice that charged
  it. It reduces what is still owed there, or, when that invoice is paid, becomes customer
  credit that the next invoice consumes. A charge for the new plan still gets its own invoice,
  which consumes that credit at once.

Only what was billed is credited: the credit for a fee is capped by what is still creditable on
the invoice line that charged it for this period, and a fee never billed (its period's invoice
was voided, or not created yet) is not credited at all.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from catalog.models import Plan, Price, Subscription
from catalog.proration import ProrationItem
from catalog.services import subscription_cancel, subscription_change_plan
from invoices.choices import InvoiceKind, InvoiceStatus
from invoices.credit_notes import CreditLine, _remaining_by_line, credit_note_issue
from invoices.models import CreditNote, Invoice, InvoiceLine


@dataclass
class ProrationResult:
    subscription: Subscription
    items: list[ProrationItem]
    invoice: Invoice | None = None
    credit_notes: list[CreditNote] = field(default_factory=list)


@dataclass(frozen=True)
class _Billed:
    item: ProrationItem
    line: InvoiceLine | None  # the line that charged the fee credited (credits only)
    amount_minor: int  # signed: what is billed or credited now


def _period_text(start: dt.datetime, end: dt.datetime) -> str:
    tz = timezone.get_current_timezone()
    return (
        f"{timezone.localtime(start, tz):%Y-%m-%d %H:%M} – "
        f"{timezone.localtime(end, tz):%Y-%m-%d %H:%M}"
    )


def _billed_line(subscription: Subscription, item: ProrationItem) -> InvoiceLine | None:
    """The line of an open or paid invoice that charged ``item``'s fee for its period."""
    return (
        InvoiceLine.objects.select_related("invoice")
        .filter(
            invoice__subscription=subscription,
            invoice__status__in=(InvoiceStatus.OPEN, InvoiceStatus.PAID),
            price_id=item.price_id,
            period_start__lte=item.period_start,
            period_end=item.period_end,
            net_minor__gt=0,
        )
        .order_by("-invoice_id", "-position")
        .first()
    )


def _resolve(subscription: Subscription, items: list[ProrationItem]) -> list[_Billed]:
    resolved = []
    taken: dict[int, int] = defaultdict(int)
    remaining_cache: dict[int, dict[int, int]] = {}
    for item in items:
        if item.amount_minor >= 0:
            resolved.append(_Billed(item, None, item.amount_minor))
            continue
        line = _billed_line(subscription, item)
        if line is None:
            continue
        if line.invoice_id not in remaining_cache:
            remaining_cache[line.invoice_id] = _remaining_by_line(line.invoice)
        left = remaining_cache[line.invoice_id][line.pk] - taken[line.pk]
        credit = min(-item.amount_minor, left)
        if credit > 0:
            taken[line.pk] += credit
            resolved.append(_Billed(item, line, -credit))
    return resolved


def _invoice(
    subscription: Subscription, billed: list[_Billed], *, memo: str, actor, now
) -> Invoice:
    from invoices.services import (
        LineInput,
        invoice_add_lines,
        invoice_create_draft,
        invoice_finalize,
    )

    prices = Price.objects.select_related("plan__product").in_bulk(
        {b.item.price_id for b in billed}
    )
    draft = invoice_create_draft(
        account=subscription.account,
        currency=subscription.plan.currency,
        kind=InvoiceKind.ADJUSTMENT,
        subscription=subscription,
        memo=memo,
        now=now,
    )
    specs = []
    for b in billed:
        seats = b.item.quantity or Decimal(1)
        price = prices.get(b.item.price_id)
        specs.append(
            LineInput(
                description=(
                    f"{b.item.description}, {_period_text(b.item.period_start, b.item.period_end)}"
                )[:300],
                quantity=seats if b.amount_minor >= 0 else -seats,
                unit_amount=None,
                net_minor=b.amount_minor,
                currency=subscription.plan.currency,
                period_start=b.item.period_start,
                period_end=b.item.period_end,
                product_code=price.plan.product.code if price else "general",
                price_id=b.item.price_id,
            )
        )
    invoice_add_lines(invoice=draft, lines=specs)
    return invoice_finalize(invoice=draft, actor=actor, now=now)


def _credit_notes(billed: list[_Billed], *, reason: str, actor, now) -> list[CreditNote]:
    by_invoice: dict[int, list[_Billed]] = defaultdict(list)
    for b in billed:
        by_invoice[b.line.invoice_id].append(b)
    notes = []
    for _invoice_id, group in sorted(by_invoice.items()):
        lines = [
            CreditLine(
                invoice_line_id=b.line.pk,
                net_minor=-b.amount_minor,
                description=(
                    f"{b.item.description}, {_period_text(b.item.period_start, b.item.period_end)}"
                )[:300],
            )
            for b in group
        ]
        notes.append(
            credit_note_issue(
                invoice=group[0].line.invoice, reason=reason, lines=lines, actor=actor, now=now
            )
        )
    return notes


def _bill(subscription: Subscription, items, *, memo: str, actor, now) -> ProrationResult:
    subscription = Subscription.objects.select_related("account", "plan").get(pk=subscription.pk)
    result = ProrationResult(subscription=subscription, items=list(items))
    billed = _resolve(subscription, result.items)
    if not billed:
        return result
    actor = actor if getattr(actor, "pk", None) else None
    if sum(b.amount_minor for b in billed) >= 0:
        result.invoice = _invoice(subscription, billed, memo=memo, actor=actor, now=now)
        return result
    credits = [b for b in billed if b.amount_minor < 0]
    charges = [b for b in billed if b.amount_minor > 0]
    result.credit_notes = _credit_notes(credits, reason=memo, actor=actor, now=now)
    if charges:
        result.invoice = _invoice(subscription, charges, memo=memo, actor=actor, now=now)
    return result


def subscription_change_plan_and_invoice(
    *, subscription: Subscription, new_plan: Plan, actor, now: dt.datetime | None = None
) -> ProrationResult:
    """Move the subscription to ``new_plan`` now and bill the proration at once (see the
    module notes). All or nothing: a refused change writes no document, and a document that
    cannot be written leaves the plan unchanged."""
    now = now or timezone.now()
    with transaction.atomic():
        old_code = Subscription.objects.values_list("plan__code", flat=True).get(pk=subscription.pk)
        items = subscription_change_plan(
            subscription=subscription, new_plan=new_plan, now=now, actor=actor
        )
        return _bill(
            subscription,
            items,
            memo=f"Plan change of subscription #{subscription.pk}: {old_code} to {new_plan.code}",
            actor=actor,
            now=now,
        )


def subscription_cancel_now_and_credit(
    *, subscription: Subscription, actor, reason: str = "", now: dt.datetime | None = None
) -> ProrationResult:
    """End the subscription now and credit the unused part of this period's in-advance fees
    on the invoices that billed them (credit notes; see the module notes)."""
    now = now or timezone.now()
    with transaction.atomic():
        items = subscription_cancel(
            subscription=subscription, at_period_end=False, now=now, actor=actor, reason=reason
        )
        why = f"Subscription #{subscription.pk} canceled immediately: unused time credited"
        if reason.strip():
            why += f" ({reason.strip()})"
        return _bill(subscription, items, memo=why, actor=actor, now=now)
