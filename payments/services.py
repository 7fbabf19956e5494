"""Payment services: charge an invoice through a PSP, record what the PSP says, record bank
transfers. Refund services live in ``payments.refunds`` and are re-exported here.

The charge follows the house pattern: (1) record the attempt with its idempotency key and commit;
(2) call the PSP with that key, outside any transaction; (3) record the result in a new
transaction; (4) ``payments.sync`` resolves attempts left in between (UNKNOWN, stale PENDING).
Call these services outside an open transaction: step 2 must not hold one.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from common.exceptions import InvalidTransition, PermissionDenied, ValidationFailed
from payments import posting
from payments.choices import (
    PAYMENT_OPEN,
    PAYMENT_TRANSITIONS,
    EventSource,
    PaymentMethod,
    PaymentStatus,
)
from payments.exceptions import (
    DuplicateManualPayment,
    InvoiceNotPayable,
    NoPspCustomer,
    PaymentStateConflict,
)
from payments.gateways.base import (
    ChargeRequest,
    GatewayRequestError,
    PaymentResult,
    PspPaymentStatus,
)
from payments.models import Payment, PaymentEvent
from payments.providers import gateway_for

logger = logging.getLogger(__name__)


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or timezone.now()


def event_log(
    *,
    payment: Payment,
    kind: str,
    source: str = EventSource.OURS,
    from_status: str = "",
    to_status: str = "",
    payload: dict | None = None,
    actor=None,
    refund=None,
    now: dt.datetime | None = None,
) -> PaymentEvent:
    return PaymentEvent.objects.create(
        payment=payment,
        refund=refund,
        source=source,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        payload=payload or {},
        actor=actor if getattr(actor, "pk", None) else None,
        at=_now(now),
    )


def payment_can_transition(current: str, new: str) -> bool:
    return new in PAYMENT_TRANSITIONS[current]


# --- charging an invoice ------------------------------------------------------------------------


def _psp_customer_id(account, provider: str) -> str:
    from accounts.models import PspCustomer

    row = PspCustomer.objects.filter(account=account, provider=provider).first()
    if row is not None:
        return row.psp_customer_id
    if provider == "braintree":
        # Braintree vaults payment methods under a customer; Stripe can charge a bare method.
        raise NoPspCustomer("The account has no Braintree customer; attach a card first.")
    return ""


def payment_start(
    *,
    provider: str,
    payment_method_id: str,
    invoice=None,
    account=None,
    amount_minor: int | None = None,
    currency: str = "",
    actor=None,
    now: dt.datetime | None = None,
) -> Payment:
    """Step 1: record the attempt (PENDING, with its attempt key) and commit.

    With an invoice, the amount defaults to what is left to pay (the invoice row is locked, so
    two concurrent attempts cannot both charge the full amount). Without one, ``account``,
    ``amount_minor`` and ``currency`` say what to charge (a prepayment, kept as customer credit).
    """
    now = _now(now)
    with transaction.atomic():
        if invoice is not None:
            invoice = type(invoice).objects.select_for_update().get(pk=invoice.pk)
            in_flight = (
                Payment.objects.filter(invoice=invoice, status__in=PAYMENT_OPEN).aggregate(
                    s=Sum("amount_minor")
                )["s"]
                or 0
            )
            due = posting.invoice_amount_due(invoice) - in_flight
            amount = due if amount_minor is None else amount_minor
            if due <= 0 or amount <= 0:
                raise InvoiceNotPayable(
                    "Nothing is left to pay on this invoice, or a payment for it is still open."
                )
            if amount > due:
                raise ValidationFailed(f"The amount is more than the {due} left to pay.")
            account_id, currency = invoice.account_id, invoice.currency
        else:
            if account is None or not amount_minor or amount_minor <= 0 or not currency:
                raise ValidationFailed("Say which account, amount and currency to charge.")
            account_id, amount = account.pk, amount_minor
        payment = Payment.objects.create(
            account_id=account_id,
            invoice=invoice,
            provider=provider,
            attempt_key=f"tmp-{uuid.uuid4().hex}",
            amount_minor=amount,
            currency=currency,
            method=PaymentMethod.CARD,
            payment_method_id=payment_method_id,
            created_by=actor if getattr(actor, "pk", None) else None,
            created_at=now,
        )
        # Derived from our own id, plus randomness so a restored database never reuses a key.
        payment.attempt_key = f"pay_{payment.pk}_{uuid.uuid4().hex[:12]}"
        payment.save(update_fields=["attempt_key"])
        event_log(
            payment=payment,
            kind="attempt_recorded",
            to_status=PaymentStatus.PENDING,
            payload={"attempt_key": payment.attempt_key},
            actor=actor,
            now=now,
        )
    return payment


def payment_send(*, payment: Payment) -> PaymentResult:
    """Step 2: call the PSP with the attempt key. Never inside a transaction."""
    gateway = gateway_for(payment.provider)
    request = ChargeRequest(
        idempotency_key=payment.attempt_key,
        psp_customer_id=_psp_customer_id(payment.account, payment.provider),
        payment_method_id=payment.payment_method_id,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        description=f"Invoice {posting._invoice_number(payment)}".strip(),
        metadata={"payment_id": str(payment.pk), "account_id": str(payment.account_id)},
    )
    try:
        return gateway.charge(request)
    except GatewayRequestError as exc:
        # The PSP refused the request outright: nothing was charged.
        return PaymentResult(
            psp_payment_id=None,
            status=PspPaymentStatus.FAILED,
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            decline_code=exc.code,
            failure_message=exc.message[:500],
        )


def payment_charge_invoice(
    *, invoice, provider: str, payment_method_id: str, actor=None, now: dt.datetime | None = None
) -> Payment:
    """Charge what is left to pay on ``invoice``. A timeout leaves the payment UNKNOWN."""
    payment = payment_start(
        invoice=invoice,
        provider=provider,
        payment_method_id=payment_method_id,
        actor=actor,
        now=now,
    )
    result = payment_send(payment=payment)
    return payment_record_result(payment_id=payment.pk, result=result, actor=actor)


def payment_charge(
    *,
    account,
    amount_minor: int,
    currency: str,
    provider: str,
    payment_method_id: str,
    actor=None,
    now: dt.datetime | None = None,
) -> Payment:
    """Charge an amount not tied to an invoice (kept as customer credit)."""
    payment = payment_start(
        account=account,
        amount_minor=amount_minor,
        currency=currency,
        provider=provider,
        payment_method_id=payment_method_id,
        actor=actor,
        now=now,
    )
    result = payment_send(payment=payment)
    return payment_record_result(payment_id=payment.pk, result=result, actor=actor)


# --- recording what the PSP says ----------------------------------------------------------------


def _on_succeeded(payment: Payment, *, now: dt.datetime, actor=None) -> None:
    if payment.posted_at is not None:
        return
    posting.post_payment_received(payment, now=now, actor=actor)
    if payment.invoice_id:
        posting.invoice_mark_paid(
            invoice=payment.invoice,
            amount_minor=payment.amount_minor,
            paid_at=now,
            reference=payment.psp_payment_id or payment.reference or payment.attempt_key,
        )
    payment.posted_at = now


def _post_fee_once(payment: Payment, *, now: dt.datetime) -> None:
    if payment.fee_minor is None or payment.fee_posted_at is not None:
        return
    if payment.status != PaymentStatus.SUCCEEDED or payment.posted_at is None:
        return
    posting.post_fee(
        key=f"payment:{payment.pk}:fee",
        provider=payment.provider,
        amount_minor=payment.fee_minor,
        currency=payment.currency,
        memo=f"{payment.provider} fee on payment #{payment.pk}",
        document_type="payment",
        document_id=payment.pk,
        now=now,
    )
    payment.fee_posted_at = now


def payment_record_result(
    *,
    payment_id: int,
    result: PaymentResult,
    source: str = EventSource.OURS,
    kind: str = "",
    actor=None,
    now: dt.datetime | None = None,
) -> Payment:
    """Step 3: apply a PSP answer (our call, a webhook, a sync). Never moves a status backwards;
    a stale or repeated answer only adds to the event log."""
    now = _now(now)
    new_status = PaymentStatus(str(result.status))
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        old = payment.status
        changed: list[str] = []
        if result.psp_payment_id and not payment.psp_payment_id:
            payment.psp_payment_id = result.psp_payment_id
            changed.append("psp_payment_id")
        if result.fee_minor is not None and payment.fee_minor is None:
            payment.fee_minor = result.fee_minor
            changed.append("fee_minor")
        applied = new_status != old and payment_can_transition(old, new_status)
        if applied:
            payment.status = new_status
            changed.append("status")
            if new_status == PaymentStatus.FAILED:
                payment.decline_code = (result.decline_code or "")[:100]
                payment.failure_message = (result.failure_message or "")[:500]
                changed += ["decline_code", "failure_message"]
        if new_status == PaymentStatus.SUCCEEDED and payment.status == PaymentStatus.SUCCEEDED:
            before = payment.posted_at
            _on_succeeded(payment, now=now, actor=actor)
            if payment.posted_at != before:
                changed.append("posted_at")
        if applied and old == PaymentStatus.SUCCEEDED and payment.posted_at is not None:
            # Declined at settlement after we booked it: take the receipt back out.
            posting.post_payment_reversed(payment, now=now)
        before_fee = payment.fee_posted_at
        _post_fee_once(payment, now=now)
        if payment.fee_posted_at != before_fee:
            changed.append("fee_posted_at")
        if changed:
            payment.save(update_fields=[*set(changed), "updated_at"])
        event_kind = kind or ("status_changed" if applied else "psp_answer")
        if not applied and new_status != old:
            event_kind = f"{kind or 'psp_answer'}_not_applied"
        event_log(
            payment=payment,
            kind=event_kind,
            source=source,
            from_status=old,
            to_status=payment.status,
            payload={
                "psp_status": str(result.status),
                "decline_code": result.decline_code,
                "failure_message": result.failure_message,
                "amount_minor": result.amount_minor,
                "raw": result.raw,
            },
            actor=actor,
            now=now,
        )
    return payment


def payment_mark(*, payment_id: int, status: str, reason: str, now=None) -> Payment:
    """Move a payment by our own decision (the sync found no trace of it at the PSP)."""
    now = _now(now)
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if not payment_can_transition(payment.status, status):
            raise InvalidTransition(f"A {payment.status} payment cannot become {status}.")
        old = payment.status
        payment.status = status
        payment.failure_message = reason[:500]
        payment.save(update_fields=["status", "failure_message", "updated_at"])
        event_log(
            payment=payment,
            kind="marked",
            from_status=old,
            to_status=status,
            payload={"reason": reason},
            now=now,
        )
    return payment


# --- bank transfers -----------------------------------------------------------------------------


def payment_record_manual(
    *,
    invoice,
    amount_minor: int,
    reference: str,
    received_on: dt.date,
    actor,
    now: dt.datetime | None = None,
) -> Payment:
    """Record a bank transfer received for ``invoice`` (Dr bank / Cr receivables)."""
    if not actor.has_perm("payments.record_manual_payment"):
        raise PermissionDenied("Your role may not record bank transfers.")
    reference = (reference or "").strip()
    if not reference:
        raise ValidationFailed("Enter the transfer's reference as it appears on the statement.")
    if amount_minor <= 0:
        raise ValidationFailed("The amount received must be positive.")
    now = _now(now)
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                account_id=invoice.account_id,
                invoice=invoice,
                provider="bank",
                attempt_key=f"bank_{uuid.uuid4().hex}",
                amount_minor=amount_minor,
                currency=invoice.currency,
                status=PaymentStatus.SUCCEEDED,
                method=PaymentMethod.BANK_TRANSFER,
                reference=reference[:140],
                received_on=received_on,
                created_by=actor,
                created_at=now,
            )
            posting.post_payment_received(payment, now=now, actor=actor)
            posting.invoice_mark_paid(
                invoice=invoice, amount_minor=amount_minor, paid_at=now, reference=reference
            )
            payment.posted_at = now
            payment.save(update_fields=["posted_at"])
            event_log(
                payment=payment,
                kind="bank_transfer_recorded",
                to_status=PaymentStatus.SUCCEEDED,
                payload={"reference": reference, "received_on": received_on.isoformat()},
                actor=actor,
                now=now,
            )
    except IntegrityError as exc:
        if "uniq_bank_transfer_reference" in str(exc):
            raise DuplicateManualPayment(
                f"A bank transfer with reference '{reference}' is already recorded for this "
                "account."
            ) from exc
        raise
    return payment


def payment_require_refundable(payment: Payment) -> None:
    if payment.status != PaymentStatus.SUCCEEDED:
        raise PaymentStateConflict("Only a completed payment can be refunded.")


from payments.refunds import (  # noqa: E402  (re-exported: one import surface for callers)
    refund_execute,
    refund_record_from_psp,
    refund_record_result,
    refund_request,
    refundable_minor,
)

__all__ = [
    "event_log",
    "payment_charge",
    "payment_charge_invoice",
    "payment_mark",
    "payment_record_manual",
    "payment_record_result",
    "payment_send",
    "payment_start",
    "refund_execute",
    "refund_record_from_psp",
    "refund_record_result",
    "refund_request",
    "refundable_minor",
]
