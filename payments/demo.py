"""Demo payments: a mix of paid, declined, refunded and a bank transfer, recorded without a PSP.

Idempotent: every demo row has a fixed attempt key, so a second run finds them and adds nothing.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from payments.choices import RefundStatus
from payments.gateways.base import PaymentResult, PspPaymentStatus, PspRefundStatus, RefundResult
from payments.models import Payment, Refund

DECLINES = [
    ("insufficient_funds", "Your card has insufficient funds."),
    ("expired_card", "Your card has expired."),
    ("do_not_honor", "Your card was declined."),
]


def _open_invoice(account):
    try:
        from invoices.models import Invoice
    except ImportError:
        return None
    return (
        Invoice.objects.filter(account=account, status="OPEN", amount_paid_minor=0)
        .order_by("pk")
        .first()
    )


def _card_payment(account, n: int, *, declined: bool, now):
    from payments.services import payment_record_result, payment_start

    key = f"demo_pay_{account.pk}_{n}"
    existing = Payment.objects.filter(attempt_key=key).first()
    if existing is not None:
        return existing, False
    invoice = None if declined else _open_invoice(account)
    amount = None if invoice is not None else 49_00 + 1_000 * n
    payment = payment_start(
        provider="stripe",
        payment_method_id="pm_card_visa",
        invoice=invoice,
        account=account,
        amount_minor=amount,
        currency=account.currency,
        now=now,
    )
    Payment.objects.filter(pk=payment.pk).update(attempt_key=key)
    code, message = DECLINES[n % len(DECLINES)]
    result = PaymentResult(
        psp_payment_id=f"pi_demo_{account.pk}_{n}",
        status=PspPaymentStatus.FAILED if declined else PspPaymentStatus.SUCCEEDED,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        amount_captured_minor=0 if declined else payment.amount_minor,
        decline_code=code if declined else "",
        failure_message=message if declined else "",
        fee_minor=None if declined else payment.amount_minor * 14 // 1000 + 25,
    )
    return payment_record_result(payment_id=payment.pk, result=result, now=now), True


def seed(*, out) -> None:
    from accounts.models import Account

    now = timezone.now()
    accounts = list(Account.objects.order_by("pk")[:6])
    if not accounts:
        out.write("payments: no accounts yet, nothing to seed")
        return
    created = 0
    for i, account in enumerate(accounts):
        payment, new = _card_payment(account, 1, declined=False, now=now - dt.timedelta(days=20))
        created += new
        if i % 2 == 0:
            _, new = _card_payment(account, 2, declined=True, now=now - dt.timedelta(days=10))
            created += new
        if i == 0 and not Refund.objects.filter(attempt_key=f"demo_refund_{payment.pk}").exists():
            _demo_refund(payment, now=now - dt.timedelta(days=5))
            created += 1
    created += _bank_transfer(accounts[-1], now=now)
    out.write(f"payments: {created} demo payments and refunds recorded")


def _demo_refund(payment: Payment, *, now) -> None:
    from payments.refunds import refund_record_result

    refund = Refund.objects.create(
        payment=payment,
        provider=payment.provider,
        amount_minor=payment.amount_minor // 4,
        currency=payment.currency,
        reason="SERVICE_ISSUE",
        note="Outage on the 3rd (demo)",
        status=RefundStatus.PENDING,
        attempt_key=f"demo_refund_{payment.pk}",
        sent_at=now,
        created_at=now,
    )
    refund_record_result(
        refund_id=refund.pk,
        result=RefundResult(
            psp_refund_id=f"re_demo_{payment.pk}",
            psp_payment_id=payment.psp_payment_id or "",
            status=PspRefundStatus.SUCCEEDED,
            amount_minor=refund.amount_minor,
            currency=refund.currency,
        ),
        now=now,
    )


def _bank_transfer(account, *, now) -> int:
    from payments import posting
    from payments.services import event_log

    key = f"demo_bank_{account.pk}"
    if Payment.objects.filter(attempt_key=key).exists():
        return 0
    invoice = _open_invoice(account)
    amount = posting.invoice_amount_due(invoice) if invoice is not None else 120_00
    payment = Payment.objects.create(
        account=account,
        invoice=invoice,
        provider="bank",
        attempt_key=key,
        amount_minor=amount,
        currency=account.currency,
        status="SUCCEEDED",
        method="bank_transfer",
        reference=f"RE {invoice or account.pk} Überweisung",
        received_on=now.date(),
        created_at=now,
    )
    posting.post_payment_received(payment, now=now)
    if invoice is not None:
        posting.invoice_mark_paid(
            invoice=invoice, amount_minor=amount, paid_at=now, reference=payment.reference
        )
    Payment.objects.filter(pk=payment.pk).update(posted_at=now)
    event_log(payment=payment, kind="bank_transfer_recorded", to_status="SUCCEEDED", now=now)
    return 1
