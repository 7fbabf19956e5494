"""Where payments meet the ledger and invoices.

Every posting has an idempotency key derived from our own row id, so posting again (a retried
task, a redelivered webhook) returns the entry posted before instead of doubling it.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
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


def invoice_payment_reference(payment) -> str:
    """The reference a payment was recorded with on its invoice (``invoice_mark_paid``)."""
    return payment.psp_payment_id or payment.reference or payment.attempt_key


def post_payment_reversed(payment, *, now=None) -> None:
    """The PSP took a paid payment back (settlement declined): undo the receipt, and make the
    invoice owe the amount again (PAID goes back to OPEN)."""
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
    if payment.invoice_id:
        from invoices.customer_credit import invoice_payment_reverse

        invoice_payment_reverse(
            invoice=payment.invoice,
            amount_minor=amount,
            reference=invoice_payment_reference(payment),
            reason=f"{payment.provider} declined payment #{payment.pk} at settlement",
            now=now,
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
    # Always the refunds account. With a credit note the invoice side (revenue, VAT) is
    # corrected by the credit note, which leaves the amount as customer credit; invoices pays
    # that credit out with Dr customer credit / Cr refunds (``customer_credit_paid_out``), so
    # for such a refund the refunds account nets to zero and customer credit is used up.
    return chart.code("refunds")


def post_refund_sent(refund, *, now=None) -> None:
    """Dr refunds / Cr PSP clearing."""
    _post_refund(
        refund,
        step="sent",
        memo=f"Refund #{refund.pk} of payment #{refund.payment_id}",
        back=False,
        now=now,
    )


def post_refund_reversed(refund, *, now=None) -> None:
    """The PSP failed a refund we had posted: the cash comes back, and customer credit the
    refund had paid out is the customer's again."""
    _post_refund(
        refund, step="reversed", memo=f"Refund #{refund.pk} failed at the PSP", back=True, now=now
    )
    if refund.credit_note_ref:
        from invoices.customer_credit import customer_credit_refund_reverse

        customer_credit_refund_reverse(
            account=refund.payment.account_id,
            currency=refund.currency,
            reference=_refund_reference(refund),
            now=now,
        )


def _post_refund(refund, *, step: str, memo: str, back: bool, now) -> None:
    """Dr refunds / Cr PSP clearing, or the mirror entry when the refund comes ``back``."""
    _, LineSpec, _ = _ledger()
    payment = refund.payment
    debit, credit = _refund_debit_account(refund), _cash_account(payment)
    if back:
        debit, credit = credit, debit
    _post(
        key=f"refund:{refund.pk}:{step}",
        memo=memo,
        document_type="refund",
        document_id=refund.pk,
        party=f"account:{payment.account_id}",
        now=now,
        lines=[
            LineSpec(account=debit, debit_minor=refund.amount_minor, currency=refund.currency),
            LineSpec(account=credit, credit_minor=refund.amount_minor, currency=refund.currency),
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


def _refund_reference(refund) -> str:
    return f"refund:{refund.pk}"


def _credit_share(*, invoice, amount_minor: int, reference: str) -> int:
    """How much of a refund the credit note issued with it left as customer credit: a note on
    an invoice still partly unpaid reduced what was owed instead, and that part pays out
    nothing."""
    from invoices.models import CreditNote
    from payments.models import Refund

    refund_id = reference.removeprefix("refund:")
    note_ref = (
        Refund.objects.filter(pk=int(refund_id)).values_list("credit_note_ref", flat=True).first()
        if refund_id.isdigit()
        else None
    )
    note = (
        CreditNote.objects.filter(invoice_id=invoice.pk, number=note_ref).first()
        if note_ref
        else None
    )
    if note is None:
        return amount_minor
    return min(amount_minor, note.to_customer_credit_minor)


def customer_credit_paid_out(*, invoice, amount_minor: int, reference: str) -> bool:
    """The credit note of a refund left the amount as customer credit; the refund pays it out,
    so the credit must not stay usable on the next invoice (invoices posts Dr customer credit /
    Cr refunds). False when the credit could not be paid out (reported on the refund); the
    refund then stays an ordinary one and the credit stays the customer's."""
    from common.exceptions import PaydeskError
    from invoices.customer_credit import customer_credit_refund

    share = _credit_share(invoice=invoice, amount_minor=amount_minor, reference=reference)
    if share <= 0:
        return True
    try:
        with transaction.atomic():
            customer_credit_refund(
                account=invoice.account_id,
                currency=invoice.currency,
                amount_minor=share,
                reference=reference,
            )
    except PaydeskError:
        logger.exception("customer credit for %s not paid out", reference)
        return False
    return True
