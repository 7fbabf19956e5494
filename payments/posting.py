"""Where payments meet the ledger and invoices.

Every posting has an idempotency key derived from our own row id, so posting again (a retried
task, a redelivered webhook) returns the entry posted before instead of doubling it.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone

logger = logging.getLogger(__name__)


def _ledger():
    from ledger import chart
    from ledger.services import LineSpec, journal_post

    return chart, LineSpec, journal_post


def _today(now: dt.datetime | None) -> dt.date:
    return timezone.localdate(now or timezone.now())


def _post(
    *,
    key: str,
    memo: str,
    document_type: str,
    document_id,
    lines,
    now=None,
    actor=None,
    document_number: str = "",
    party: str = "",
):
    _, _, journal_post = _ledger()
    return journal_post(
        entry_date=_today(now),
        memo=memo[:300],
        lines=lines,
        document_type=document_type,
        document_id=str(document_id),
        document_number=document_number,
        idempotency_key=key,
        actor=actor,
        now=now,
        party=party,
    )


def _cash_account(payment) -> str:
    chart, _, _ = _ledger()
    if payment.provider == "bank":
        return chart.code("bank")
    return chart.code("psp_clearing", provider=payment.provider)


def _counter_account(payment) -> tuple[str, str]:
    """(account, open item) the money settles: the invoice's receivable, else customer credit."""
    chart, _, _ = _ledger()
    if payment.invoice_id:
        return chart.code("receivables"), f"invoice:{payment.invoice_id}"
    return chart.code("customer_credit"), ""


def _invoice_number(payment) -> str:
    invoice = payment.invoice if payment.invoice_id else None
    return str(getattr(invoice, "number", "") or "") if invoice is not None else ""


def post_payment_received(payment, *, now=None, actor=None) -> None:
    """Dr PSP clearing (or bank) / Cr receivables for the amount paid."""
    _, LineSpec, _ = _ledger()
    counter, open_item = _counter_account(payment)
    amount, currency = payment.amount_minor, payment.currency
    _post(
        key=f"payment:{payment.pk}:received",
        memo=f"Payment #{payment.pk} via {payment.provider}",
        document_type="payment",
        document_id=payment.pk,
        document_number=_invoice_number(payment),
        party=f"account:{payment.account_id}",
        now=now,
        actor=actor,
        lines=[
            LineSpec(account=_cash_account(payment), debit_minor=amount, currency=currency),
            LineSpec(account=counter, credit_minor=amount, currency=currency, open_item=open_item),
        ],
    )


def post_payment_reversed(payment, *, now=None) -> None:
    """The PSP took a paid payment back (settlement declined): undo the receipt."""
    _, LineSpec, _ = _ledger()
    counter, open_item = _counter_account(payment)
    amount, currency = payment.amount_minor, payment.currency
    _post(
        key=f"payment:{payment.pk}:reversed",
        memo=f"Payment #{payment.pk} declined at settlement",
        document_type="payment",
        document_id=payment.pk,
        party=f"account:{payment.account_id}",
        now=now,
        lines=[
            LineSpec(account=counter, debit_minor=amount, currency=currency, open_item=open_item),
            LineSpec(account=_cash_account(payment), credit_minor=amount, currency=currency),
        ],
    )


def post_fee(
    *,
    key: str,
    provider: str,
    amount_minor: int,
    currency: str,
    memo: str,
    document_type: str,
    document_id,
    now=None,
) -> None:
    """Dr PSP fees / Cr PSP clearing (a negative fee, a refund of fees, the other way round)."""
    if not amount_minor:
        return
    chart, LineSpec, _ = _ledger()
    fees, clearing = chart.code("psp_fees"), chart.code("psp_clearing", provider=provider)
    debit, credit = (fees, clearing) if amount_minor > 0 else (clearing, fees)
    amount = abs(amount_minor)
    _post(
        key=key,
        memo=memo,
        document_type=document_type,
        document_id=document_id,
        now=now,
        lines=[
            LineSpec(account=debit, debit_minor=amount, currency=currency),
            LineSpec(account=credit, credit_minor=amount, currency=currency),
        ],
    )


def _refund_debit_account(refund) -> str:
    chart, _, _ = _ledger()
    # With a credit note the invoice side (revenue, VAT) is corrected by the credit note, which
    # leaves the amount as customer credit; the refund pays that credit out.
    return chart.code("customer_credit" if refund.credit_note_ref else "refunds")


def post_refund_sent(refund, *, now=None) -> None:
    """Dr refunds (or customer credit) / Cr PSP clearing."""
    _, LineSpec, _ = _ledger()
    payment = refund.payment
    _post(
        key=f"refund:{refund.pk}:sent",
        memo=f"Refund #{refund.pk} of payment #{payment.pk}",
        document_type="refund",
        document_id=refund.pk,
        party=f"account:{payment.account_id}",
        now=now,
        lines=[
            LineSpec(
                account=_refund_debit_account(refund),
                debit_minor=refund.amount_minor,
                currency=refund.currency,
            ),
            LineSpec(
                account=_cash_account(payment),
                credit_minor=refund.amount_minor,
                currency=refund.currency,
            ),
        ],
    )


def post_refund_reversed(refund, *, now=None) -> None:
    _, LineSpec, _ = _ledger()
    payment = refund.payment
    _post(
        key=f"refund:{refund.pk}:reversed",
        memo=f"Refund #{refund.pk} failed at the PSP",
        document_type="refund",
        document_id=refund.pk,
        party=f"account:{payment.account_id}",
        now=now,
        lines=[
            LineSpec(
                account=_cash_account(payment),
                debit_minor=refund.amount_minor,
                currency=refund.currency,
            ),
            LineSpec(
                account=_refund_debit_account(refund),
                credit_minor=refund.amount_minor,
                currency=refund.currency,
            ),
        ],
    )


def post_payout(payout, *, now=None) -> None:
    """Dr bank (paid) or payouts in transit / Cr PSP clearing for the payout amount."""
    if not payout.amount_minor:
        return
    chart, LineSpec, _ = _ledger()
    target = chart.code("bank" if payout.status == "paid" else "payouts_in_transit")
    clearing = chart.code("psp_clearing", provider=payout.provider)
    debit, credit = (target, clearing) if payout.amount_minor > 0 else (clearing, target)
    amount = abs(payout.amount_minor)
    _post(
        key=f"payout:{payout.pk}",
        memo=f"{payout.provider} payout {payout.psp_payout_id}",
        document_type="payout",
        document_id=payout.pk,
        document_number=payout.psp_payout_id[:64],
        now=now,
        lines=[
            LineSpec(account=debit, debit_minor=amount, currency=payout.currency),
            LineSpec(account=credit, credit_minor=amount, currency=payout.currency),
        ],
    )


def post_payout_arrived(payout, *, now=None) -> None:
    """A payout posted while in transit reached the bank."""
    if not payout.amount_minor:
        return
    chart, LineSpec, _ = _ledger()
    bank, transit = chart.code("bank"), chart.code("payouts_in_transit")
    debit, credit = (bank, transit) if payout.amount_minor > 0 else (transit, bank)
    amount = abs(payout.amount_minor)
    _post(
        key=f"payout:{payout.pk}:arrived",
        memo=f"{payout.provider} payout {payout.psp_payout_id} arrived",
        document_type="payout",
        document_id=payout.pk,
        now=now,
        lines=[
            LineSpec(account=debit, debit_minor=amount, currency=payout.currency),
            LineSpec(account=credit, credit_minor=amount, currency=payout.currency),
        ],
    )


# --- invoices -----------------------------------------------------------------------------------


def invoice_amount_due(invoice) -> int:
    try:
        from invoices.selectors import invoice_amount_due as due
    except ImportError:
        return int(getattr(invoice, "amount_due_minor", 0))
    return due(invoice)


def invoice_mark_paid(*, invoice, amount_minor: int, paid_at: dt.datetime, reference: str):
    try:
        from invoices.services import invoice_mark_paid as mark_paid
    except ImportError:
        logger.error(
            "invoices.services.invoice_mark_paid is missing; invoice %s not marked", invoice.pk
        )
        return None

    return mark_paid(
        invoice=invoice, amount_minor=amount_minor, paid_at=paid_at, reference=reference
    )


def credit_note_issue(*, invoice, amount_minor: int, reason: str, actor) -> str:
    """Issue the credit note that goes with a refund; returns its number (or id)."""
    from invoices.services import credit_note_issue as issue

    note = issue(invoice=invoice, amount_minor=amount_minor, reason=reason, actor=actor)
    return str(getattr(note, "number", "") or note.pk)


def customer_credit_paid_out(*, invoice, amount_minor: int, reference: str) -> bool:
    """The credit note of a refund left the amount as customer credit; the refund pays it out,
    so the credit must not stay usable on the next invoice. Needs invoices'
    ``customer_credit_refund``; False when that is not available (reported on the refund)."""
    try:
        from invoices.services import customer_credit_refund
    except ImportError:
        return False
    customer_credit_refund(
        account_id=invoice.account_id,
        currency=invoice.currency,
        amount_minor=amount_minor,
        reference=reference,
    )
    return True
