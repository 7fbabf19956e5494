"""Journal entries for invoices and credit notes (through ``ledger.services.journal_post``).

Finalize:     Dr receivables gross / Cr revenue per product (net) / Cr VAT payable (tax);
              customer credit used: Dr customer credit / Cr receivables.
Void:         the finalize entry reversed.
Credit note:  Dr revenue per product (net) / Dr VAT payable (tax) /
              Cr receivables (what was still owed) and Cr customer credit (the rest).
Write-off:    Dr bad debt / Cr receivables; a late payment of a written-off invoice reverses it.
"""

from __future__ import annotations

from collections import defaultdict

from invoices.tax import LEDGER_TAX_CODE
from ledger import chart
from ledger.exceptions import UnknownLedgerAccount
from ledger.models import JournalEntry
from ledger.services import LineSpec, journal_post, journal_post_many, journal_reverse

_codes: dict[tuple[str, str], str] = {}


def _code(kind: str, product: str = "") -> str:
    # Account codes never change once created; a billing run asks thousands of times.
    key = (kind, product)
    if key not in _codes:
        _codes[key] = chart.code(kind, product=product) if product else chart.code(kind)
    return _codes[key]


def _signed_lines(entries: list[tuple[str, int, str, str, str]], currency: str) -> list[LineSpec]:
    """(account, signed amount: + debit / - credit, text, tax code, open item) -> LineSpecs."""
    lines = []
    for account, amount, text, tax_code, open_item in entries:
        if amount == 0:
            continue
        lines.append(
            LineSpec(
                account,
                debit_minor=amount if amount > 0 else 0,
                credit_minor=-amount if amount < 0 else 0,
                currency=currency,
                text=text,
                tax_code=tax_code,
                open_item=open_item,
            )
        )
    return lines


def _post(**kwargs) -> JournalEntry | None:
    if len(kwargs["lines"]) < 2:
        return None
    try:
        return journal_post(**kwargs)
    except UnknownLedgerAccount:
        # A cached code whose row is gone (a test database flushed between tests): ask again.
        _codes.clear()
        raise


def _revenue_by_product(lines) -> dict[tuple[str, str], int]:
    revenue: dict[tuple[str, str], int] = defaultdict(int)
    for line in lines:
        revenue[(line.product_code or chart.DEFAULT_PRODUCT, line.tax_category)] += line.net_minor
    return revenue


def invoice_finalized_entry(*, invoice, lines, actor=None, now=None) -> dict | None:
    """``journal_post``'s arguments for a finalized invoice; None when there is nothing to post."""
    item = f"invoice:{invoice.pk}"
    number = invoice.number
    entries: list[tuple[str, int, str, str, str]] = [
        (_code("receivables"), invoice.gross_minor, f"{number} gross", "", item)
    ]
    for (product, category), net in sorted(_revenue_by_product(lines).items()):
        entries.append(
            (_code("revenue", product), -net, f"{number} {product}", LEDGER_TAX_CODE[category], "")
        )
    for group in invoice.tax_breakdown:
        code = LEDGER_TAX_CODE[group["category"]]
        entries.append(
            (_code("vat_payable"), -group["tax_minor"], f"{number} VAT {group['rate']} %", code, "")
        )
    if invoice.credit_applied_minor:
        entries.append(
            (
                _code("customer_credit"),
                invoice.credit_applied_minor,
                f"{number} credit used",
                "",
                "",
            )
        )
        entries.append(
            (_code("receivables"), -invoice.credit_applied_minor, f"{number} credit used", "", item)
        )
    signed = _signed_lines(entries, invoice.currency)
    if len(signed) < 2:
        return None
    return {
        "entry_date": invoice.issue_date,
        "memo": f"Invoice {number}",
        "lines": signed,
        "document_type": "invoice",
        "document_id": str(invoice.pk),
        "document_number": number,
        "idempotency_key": f"invoice:{invoice.pk}:finalize",
        "actor": actor,
        "now": now,
        "party": f"account:{invoice.account_id}",
    }


def invoice_post_finalized(*, invoice, lines, actor=None, now=None) -> JournalEntry | None:
    entry = invoice_finalized_entry(invoice=invoice, lines=lines, actor=actor, now=now)
    return None if entry is None else _post(**entry)


def invoices_post_finalized(*, items, now=None) -> list[JournalEntry]:
    """The finalize entries of many ``(invoice, lines)`` in a few statements (billing run)."""

    def entries() -> list[dict]:
        built = [invoice_finalized_entry(invoice=inv, lines=lines, now=now) for inv, lines in items]
        return [entry for entry in built if entry is not None]

    try:
        return journal_post_many(entries=entries())
    except UnknownLedgerAccount:
        # A cached code whose row is gone (created in a transaction that was rolled back):
        # nothing was written yet, so ask for the codes again and post once more.
        _codes.clear()
        return journal_post_many(entries=entries())


def invoice_post_voided(*, invoice, actor=None, now=None) -> JournalEntry | None:
    entry = JournalEntry.objects.filter(idempotency_key=f"invoice:{invoice.pk}:finalize").first()
    if entry is None:
        return None
    return journal_reverse(
        entry=entry,
        memo=f"Void of invoice {invoice.number}: {invoice.void_reason}"[:300],
        entry_date=invoice.voided_at.date() if invoice.voided_at else None,
        idempotency_key=f"invoice:{invoice.pk}:void",
        actor=actor,
        now=now,
    )


def credit_note_post(*, credit_note, lines, actor=None, now=None) -> JournalEntry | None:
    number = credit_note.number
    invoice_item = f"invoice:{credit_note.invoice_id}"
    entries: list[tuple[str, int, str, str, str]] = []
    for (product, category), net in sorted(_revenue_by_product(lines).items()):
        entries.append(
            (_code("revenue", product), net, f"{number} {product}", LEDGER_TAX_CODE[category], "")
        )
    for group in credit_note.tax_breakdown:
        code = LEDGER_TAX_CODE[group["category"]]
        entries.append(
            (_code("vat_payable"), group["tax_minor"], f"{number} VAT {group['rate']} %", code, "")
        )
    entries.append(
        (
            _code("receivables"),
            -credit_note.applied_to_invoice_minor,
            f"{number} reduces {credit_note.invoice.number}",
            "",
            invoice_item,
        )
    )
    entries.append(
        (
            _code("customer_credit"),
            -credit_note.to_customer_credit_minor,
            f"{number} customer credit",
            "",
            "",
        )
    )
    return _post(
        entry_date=credit_note.issue_date,
        memo=f"Credit note {number} for invoice {credit_note.invoice.number}",
        lines=_signed_lines(entries, credit_note.currency),
        document_type="credit_note",
        document_id=str(credit_note.pk),
        document_number=number,
        idempotency_key=f"credit_note:{credit_note.pk}:issue",
        actor=actor,
        now=now,
        party=f"account:{credit_note.account_id}",
    )


def invoice_post_write_off(*, invoice, amount_minor: int, actor=None, now=None):
    item = f"invoice:{invoice.pk}"
    entries = [
        (_code("bad_debt"), amount_minor, f"{invoice.number} written off", "", ""),
        (_code("receivables"), -amount_minor, f"{invoice.number} written off", "", item),
    ]
    return _post(
        entry_date=invoice.uncollectible_at.date(),
        memo=f"Invoice {invoice.number} uncollectible",
        lines=_signed_lines(entries, invoice.currency),
        document_type="invoice",
        document_id=str(invoice.pk),
        document_number=invoice.number,
        idempotency_key=f"invoice:{invoice.pk}:write_off",
        actor=actor,
        now=now,
        party=f"account:{invoice.account_id}",
    )


def invoice_post_recovery(*, invoice, amount_minor: int, reference: str, paid_at, now=None):
    """A payment of a written-off invoice: put the receivable back so the payment can clear it."""
    item = f"invoice:{invoice.pk}"
    entries = [
        (_code("receivables"), amount_minor, f"{invoice.number} recovered", "", item),
        (_code("bad_debt"), -amount_minor, f"{invoice.number} recovered", "", ""),
    ]
    return _post(
        entry_date=paid_at.date(),
        memo=f"Invoice {invoice.number} paid after write-off",
        lines=_signed_lines(entries, invoice.currency),
        document_type="invoice",
        document_id=str(invoice.pk),
        document_number=invoice.number,
        idempotency_key=f"invoice:{invoice.pk}:recovered:{reference}"[:200],
        now=now,
        party=f"account:{invoice.account_id}",
    )
