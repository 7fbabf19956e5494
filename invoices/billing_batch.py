"""Writing a billing run's invoices a wave at a time.

The run (``invoices.billing``) computes each boundary's invoice in memory (``bill_boundary``:
lines, tax, totals, snapshots) and hands a wave of them, at most one per subscription, to
``invoices_write``. That writes the whole wave in ONE transaction with a fixed number of
statements, however many invoices it holds:

1. customer credit: the balances of the wave's accounts; only accounts with credit are locked
   (in primary key order) and read again under the lock, so credit is never spent twice;
2. the invoices as drafts, then their lines (the lines trigger wants a draft parent);
3. metering's bookkeeping of the usage billed (``usage_mark_billed_many``);
4. a block of numbers from the locked counter row (``numbers_take``), then one UPDATE that
   numbers and finalizes the drafts: every number of the block is used in this transaction,
   or the block is rolled back with the invoices, so numbers stay sequential and gap-free;
5. the credit used, the journal entries (``journal_post_many``; the deferred trigger checks
   each entry's balance at commit) and the invoices' history rows.

A failure anywhere rolls the wave back as a whole: nothing half-written, and the unique
``billing_key`` lets the rerun (or the run's one-by-one retry) bill each boundary exactly once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from invoices import posting
from invoices.choices import CreditTransactionKind, InvoiceStatus
from invoices.models import CustomerCreditTransaction, Invoice, InvoiceLine, NumberSeries
from invoices.numbering import numbers_take
from invoices.services import settled_fields

logger = logging.getLogger(__name__)

_FINALIZE = (
    f"UPDATE {Invoice._meta.db_table} AS i "  # noqa: S608 (the model's table name)
    "SET number = v.number, sequence = v.seq, status = v.status, paid_at = v.paid_at, "
    "updated_at = %s "
    "FROM unnest(%s::bigint[], %s::text[], %s::int[], %s::text[], %s::timestamptz[]) "
    "AS v(id, number, seq, status, paid_at) "
    "WHERE i.id = v.id AND i.status = 'DRAFT'"
)


@dataclass
class PreparedInvoice:
    """One boundary's invoice, computed and not yet written."""

    boundary: object
    invoice: Invoice  # unsaved; final values except number, sequence, status and credit
    lines: list[InvoiceLine]  # unsaved, taxed, positions set
    usage: list = field(default_factory=list)  # metering UsageLines behind the usage lines


@dataclass
class WaveContext:
    """What a wave's boundaries read in bulk: the usage of their arrears periods."""

    usage: dict[str, list] = field(default_factory=dict)  # boundary key -> UsageLines

    def usage_for(self, boundary) -> list:
        if boundary.key in self.usage:
            return self.usage[boundary.key]
        # Not read in bulk (the bulk read failed): read it alone, so that only this boundary
        # fails if its usage cannot be rated.
        from metering.services import usage_lines_for_many

        start, end = boundary.arrears
        return usage_lines_for_many(items=[(boundary.subscription, start, end)])[0]


def wave_context(boundaries) -> WaveContext:
    from metering.services import usage_lines_for_many

    due = [b for b in boundaries if b.arrears]
    if not due:
        return WaveContext()
    try:
        lines = usage_lines_for_many(items=[(b.subscription, *b.arrears) for b in due])
    except Exception:  # noqa: BLE001 - each boundary then reads its own usage, and fails alone
        logger.exception("bulk usage read failed; reading per subscription")
        return WaveContext()
    return WaveContext(usage={b.key: found for b, found in zip(due, lines, strict=True)})


def _positive_balances(account_ids) -> dict[tuple[int, str], int]:
    rows = (
        CustomerCreditTransaction.objects.filter(account_id__in=account_ids)
        .values("account_id", "currency")
        .annotate(balance=Sum("amount_minor"))
        .filter(balance__gt=0)
        .values_list("account_id", "currency", "balance")
    )
    return {(account_id, currency): balance for account_id, currency, balance in rows}


def _credit_to_apply(prepared: list[PreparedInvoice]) -> list[int]:
    """Customer credit each invoice uses, in wave order (an account's earlier invoice first)."""
    from accounts.models import Account

    balances = _positive_balances(sorted({p.invoice.account_id for p in prepared}))
    if balances:
        holders = sorted({account_id for account_id, _ in balances})
        # As ``invoice_finalize`` does: the account row's lock serializes every use of its
        # credit; the balance read before the lock is only a hint of whom to lock.
        list(
            Account.objects.filter(pk__in=holders)
            .order_by("pk")
            .select_for_update()
            .values_list("pk", flat=True)
        )
        balances = _positive_balances(holders)
    applied = []
    for p in prepared:
        key = (p.invoice.account_id, p.invoice.currency)
        left = balances.get(key, 0)
        use = max(0, min(left, p.invoice.gross_minor))
        if use:
            balances[key] = left - use
        applied.append(use)
    return applied


def _fresh(model, source, **overrides):
    """An unsaved copy, so a wave that failed can be written again one invoice at a time."""
    values = {f.attname: getattr(source, f.attname) for f in model._meta.concrete_fields}
    values.pop(model._meta.pk.attname)
    values.update(overrides)
    return model(**values)


def invoices_write(*, prepared: list[PreparedInvoice], now, series: NumberSeries) -> list[Invoice]:
    """Write and finalize the prepared invoices in one transaction; returns them, numbered."""
    from metering.services import usage_mark_billed_many

    if not prepared:
        return []
    with transaction.atomic():
        for p in prepared:
            if p.invoice.pk is not None:
                # Written once by a wave that then failed: write fresh copies instead.
                p.invoice = _fresh(Invoice, p.invoice, number=None, sequence=None, paid_at=None)
                p.lines = [_fresh(InvoiceLine, line, invoice_id=None) for line in p.lines]
        credit = _credit_to_apply(prepared)
        invoices = [p.invoice for p in prepared]
        for invoice, use in zip(invoices, credit, strict=True):
            invoice.status, invoice.credit_applied_minor = InvoiceStatus.DRAFT, use
        Invoice.objects.bulk_create(invoices)
        lines = []
        for p in prepared:
            for line in p.lines:
                line.invoice = p.invoice
            lines.append(p.lines)
        InvoiceLine.objects.bulk_create([line for group in lines for line in group])
        usage_mark_billed_many(
            items=[
                (p.boundary.subscription, p.usage, invoice.pk)
                for p, invoice in zip(prepared, invoices, strict=True)
            ]
        )
        _number_and_finalize(invoices, series=series, now=now)
        CustomerCreditTransaction.objects.bulk_create(
            CustomerCreditTransaction(
                account_id=invoice.account_id,
                currency=invoice.currency,
                amount_minor=-invoice.credit_applied_minor,
                kind=CreditTransactionKind.APPLIED,
                invoice_id=invoice.pk,
                created_at=now,
            )
            for invoice in invoices
            if invoice.credit_applied_minor
        )
        posting.invoices_post_finalized(items=list(zip(invoices, lines, strict=True)), now=now)
        _history_record([invoice.pk for invoice in invoices])
    return invoices


def _history_record(ids: list[int]) -> None:
    """The invoices' history rows as ``invoice_finalize`` records them (a change, "~", by no
    user): the drafts lived only inside this transaction, so history starts at finalization.
    Copied in the database from the rows just written, which are the final values."""
    if not getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
        return
    history = Invoice.history.model
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in history.tracked_fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(history._meta.db_table)} ({columns}, history_date, "  # noqa: S608
            "history_change_reason, history_type, history_user_id) "
            f"SELECT {columns}, %s, '', '~', NULL FROM {quote(Invoice._meta.db_table)} "
            "WHERE id = ANY(%s) ORDER BY id",
            [timezone.now(), ids],
        )


def _number_and_finalize(invoices: list[Invoice], *, series: NumberSeries, now) -> None:
    by_year: dict[int, list[Invoice]] = defaultdict(list)
    for invoice in invoices:
        by_year[invoice.issue_date.year].append(invoice)
    for year in sorted(by_year):
        group = by_year[year]
        numbers = numbers_take(series=series, year=year, count=len(group))
        for invoice, (number, sequence) in zip(group, numbers, strict=True):
            invoice.number, invoice.sequence = number, sequence
            settled = settled_fields(
                gross_minor=invoice.gross_minor, applied=invoice.credit_applied_minor, now=now
            )
            invoice.status = settled["status"]
            invoice.paid_at = settled.get("paid_at")
    with connection.cursor() as cursor:
        cursor.execute(
            _FINALIZE,
            [
                timezone.now(),
                [i.pk for i in invoices],
                [i.number for i in invoices],
                [i.sequence for i in invoices],
                [str(i.status) for i in invoices],
                [i.paid_at for i in invoices],
            ],
        )
        if cursor.rowcount != len(invoices):
            raise RuntimeError(f"finalized {cursor.rowcount} of {len(invoices)} drafts")
