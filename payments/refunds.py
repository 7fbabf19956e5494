"""Refunds: request (with the four-eyes approval above the requester's limit), send to the PSP
exactly once, record the result, and record refunds made in a PSP dashboard.

Exactly once rests on three things: the payment row lock that makes concurrent requests see each
other's reservations; the refund row's state guard (only REQUESTED or APPROVED moves to PENDING,
once, under a row lock) so a second execution is a no-op; and the attempt key sent as the PSP's
idempotency key, so the sync task's resend of a PENDING refund is a replay, not a second refund.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from common.money import Money
from payments import posting
from payments.choices import (
    PSP_REFUND_REASON,
    REFUND_RESERVING,
    REFUND_TRANSITIONS,
    EventSource,
    PaymentStatus,
    RefundOrigin,
    RefundReason,
    RefundStatus,
)
from payments.exceptions import (
    InvalidRefundAmount,
    PaymentNotRefundable,
    RefundExceedsRefundable,
    RefundNotAllowed,
    RefundNoteRequired,
)
from payments.gateways.base import (
    ATTEMPT_METADATA_KEY,
    GatewayRequestError,
    PspRefundStatus,
    RefundRequest,
    RefundResult,
)
from payments.models import Payment, Refund
from payments.providers import gateway_for

logger = logging.getLogger(__name__)

APPROVAL_ACTION = "refund"
# Refund statuses in which the PSP has the money back with the customer (or on its way).
_ACCEPTED = frozenset({RefundStatus.PENDING, RefundStatus.SUCCEEDED})


def _now(now):
    return now or timezone.now()


def _log(**kwargs):
    from payments.services import event_log

    return event_log(**kwargs)


def refundable_minor(payment: Payment) -> int:
    """What can still be refunded: paid minus refunded minus refunds in flight or waiting."""
    if payment.status != PaymentStatus.SUCCEEDED:
        return 0
    held = (
        Refund.objects.filter(payment=payment, status__in=REFUND_RESERVING).aggregate(
            s=Sum("amount_minor")
        )["s"]
        or 0
    )
    return max(payment.amount_minor - held, 0)


def _release_declined_approvals(payment: Payment, *, now) -> None:
    """Refunds whose approval was rejected or withdrawn stop holding the amount."""
    from staff.choices import ApprovalStatus

    stale = Refund.objects.select_for_update().filter(
        payment=payment,
        status=RefundStatus.AWAITING_APPROVAL,
        approval__status__in=[ApprovalStatus.REJECTED, ApprovalStatus.CANCELED],
    )
    for refund in stale:
        _transition(refund, RefundStatus.CANCELED, now=now, kind="approval_declined")


def _transition(
    refund: Refund,
    to: str,
    *,
    now,
    kind: str = "",
    source=EventSource.OURS,
    payload=None,
    actor=None,
) -> bool:
    old = refund.status
    if to == old:
        return False
    if to not in REFUND_TRANSITIONS[old]:
        _log(
            payment=refund.payment,
            refund=refund,
            kind=f"{kind or 'refund'}_not_applied",
            source=source,
            from_status=old,
            to_status=old,
            payload=payload or {"wanted": to},
            actor=actor,
            now=now,
        )
        return False
    refund.status = to
    refund.save(update_fields=["status", "updated_at"])
    _log(
        payment=refund.payment,
        refund=refund,
        kind=kind or "refund_status",
        source=source,
        from_status=old,
        to_status=to,
        payload=payload or {},
        actor=actor,
        now=now,
    )
    return True


def refund_request(
    *,
    payment: Payment,
    amount_minor: int,
    reason: str,
    note: str = "",
    actor,
    with_credit_note: bool = False,
    now: dt.datetime | None = None,
    execute: bool = True,
) -> Refund:
    """Ask for a refund. Within the actor's limit it is sent at once (``execute``); above it an
    approval is requested and the amount stays reserved until a Support lead or Finance admin
    decides. Raises ``RefundExceedsRefundable`` when the amount is more than is left."""
    from staff.services import approval_needed, approval_request

    if not actor.has_perm("payments.issue_refund"):
        raise RefundNotAllowed("Your role may not issue refunds.")
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise InvalidRefundAmount("Enter a refund amount greater than zero.")
    reason = RefundReason(reason)
    note = (note or "").strip()
    if reason == RefundReason.OTHER and not note:
        raise RefundNoteRequired("Say in the note why you refund; the reason is 'Other'.")
    now = _now(now)
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.status != PaymentStatus.SUCCEEDED:
            raise PaymentNotRefundable(
                f"Payment #{payment.pk} is {payment.get_status_display().lower()}; only a "
                "completed payment can be refunded."
            )
        _release_declined_approvals(payment, now=now)
        left = refundable_minor(payment)
        if amount_minor > left:
            raise RefundExceedsRefundable(
                f"Only {left} {payment.currency} (minor units) can still be refunded on payment "
                f"#{payment.pk}; {amount_minor} was asked.",
                refundable_minor=left,
                currency=payment.currency,
            )
        refund = Refund.objects.create(
            payment=payment,
            provider=payment.provider,
            amount_minor=amount_minor,
            currency=payment.currency,
            reason=reason,
            note=note,
            attempt_key=f"tmp-{uuid.uuid4().hex}",
            requested_by=actor,
            credit_note_requested=bool(with_credit_note and payment.invoice_id),
            created_at=now,
        )
        refund.attempt_key = f"re_{refund.pk}_{uuid.uuid4().hex[:12]}"
        refund.save(update_fields=["attempt_key"])
        _log(
            payment=payment,
            refund=refund,
            kind="refund_requested",
            to_status=RefundStatus.REQUESTED,
            actor=actor,
            now=now,
            payload={"amount_minor": amount_minor, "reason": reason, "note": note},
        )
        if approval_needed(
            user=actor,
            action=APPROVAL_ACTION,
            amount_minor=amount_minor,
            currency=payment.currency,
        ):
            approval = approval_request(
                action=APPROVAL_ACTION,
                subject_type="payments.refund",
                subject_id=str(refund.pk),
                summary=f"Refund {Money(amount_minor, payment.currency)} of payment "
                f"#{payment.pk} to {payment.account.legal_name}",
                reason=note or reason.label,
                requested_by=actor,
                amount_minor=amount_minor,
                currency=payment.currency,
                payload={"refund_id": refund.pk, "payment_id": payment.pk},
                now=now,
            )
            refund.approval = approval
            refund.save(update_fields=["approval"])
            _transition(
                refund,
                RefundStatus.AWAITING_APPROVAL,
                now=now,
                kind="approval_requested",
                actor=actor,
                payload={"approval_id": approval.pk},
            )
    if refund.status == RefundStatus.REQUESTED and execute:
        refund = refund_execute(refund_id=refund.pk)
    return refund


def refund_approved(*, approval) -> Refund | None:
    """The approval executor's first half: mark the refund APPROVED (idempotent)."""
    now = timezone.now()
    with transaction.atomic():
        refund = Refund.objects.select_for_update().filter(approval_id=approval.pk).first()
        if refund is None:
            return None
        if refund.status == RefundStatus.AWAITING_APPROVAL:
            _transition(
                refund,
                RefundStatus.APPROVED,
                now=now,
                kind="approved",
                actor=approval.decided_by,
                payload={"approval_id": approval.pk},
            )
    return refund


def refund_execute(*, refund_id: int, now: dt.datetime | None = None) -> Refund:
    """Send the refund to the PSP once. A second call (a redelivered task) finds it PENDING or
    later and does nothing; the sync task settles a PENDING refund whose answer was lost."""
    now = _now(now)
    with transaction.atomic():
        refund = Refund.objects.select_for_update().select_related("payment").get(pk=refund_id)
        if refund.status not in (RefundStatus.REQUESTED, RefundStatus.APPROVED):
            return refund
        refund.sent_at = now
        refund.save(update_fields=["sent_at"])
        _transition(refund, RefundStatus.PENDING, now=now, kind="sent_to_psp")
    return refund_send(refund=refund)


def refund_send(*, refund: Refund) -> Refund:
    """Call the PSP with the refund's attempt key (a replay when it was sent before) and record
    the answer. Never inside a transaction."""
    payment = refund.payment
    request = RefundRequest(
        idempotency_key=refund.attempt_key,
        psp_payment_id=payment.psp_payment_id or "",
        amount_minor=refund.amount_minor,
        currency=refund.currency,
        reason=PSP_REFUND_REASON.get(refund.reason, ""),
    )
    try:
        result = gateway_for(refund.provider).refund(request)
    except GatewayRequestError as exc:
        result = RefundResult(
            psp_refund_id=None,
            psp_payment_id=request.psp_payment_id,
            status=PspRefundStatus.FAILED,
            amount_minor=refund.amount_minor,
            currency=refund.currency,
            failure_reason=f"{exc.code}: {exc.message}"[:500],
        )
    return refund_record_result(refund_id=refund.pk, result=result)


def _credit_note(refund: Refund, *, now) -> None:
    if not refund.credit_note_requested or refund.credit_note_ref or not refund.payment.invoice_id:
        return
    try:
        with transaction.atomic():
            ref = posting.credit_note_issue(
                invoice=refund.payment.invoice,
                amount_minor=refund.amount_minor,
                reason=f"Refund #{refund.pk}: {refund.get_reason_display()}. {refund.note}".strip(),
                actor=refund.requested_by,
            )
    except ImportError:
        _log(
            payment=refund.payment,
            refund=refund,
            kind="credit_note_postponed",
            now=now,
            payload={"why": "invoices are not available"},
        )
        return
    except Exception as exc:  # noqa: BLE001 - the refund stands; the note is reported for follow-up
        logger.exception("credit note for refund %s failed", refund.pk)
        _log(
            payment=refund.payment,
            refund=refund,
            kind="credit_note_failed",
            now=now,
            payload={"error": str(exc)[:500]},
        )
        return
    refund.credit_note_ref = ref[:64]
    refund.save(update_fields=["credit_note_ref"])
    if not posting.customer_credit_paid_out(
        invoice=refund.payment.invoice,
        amount_minor=refund.amount_minor,
        reference=f"refund:{refund.pk}",
    ):
        _log(
            payment=refund.payment,
            refund=refund,
            kind="customer_credit_not_consumed",
            now=now,
            payload={"why": "invoices has no customer_credit_refund yet"},
        )


def _sync_refunded_total(payment: Payment) -> None:
    total = (
        Refund.objects.filter(
            payment=payment, posted_at__isnull=False, reversed_at__isnull=True
        ).aggregate(s=Sum("amount_minor"))["s"]
        or 0
    )
    if total != payment.amount_refunded_minor:
        payment.amount_refunded_minor = total
        payment.save(update_fields=["amount_refunded_minor", "updated_at"])


def _finish_approval(refund: Refund, *, ok: bool, note: str, now) -> None:
    from staff.choices import ApprovalStatus
    from staff.services import approval_mark_executed

    if refund.approval_id and refund.approval.status == ApprovalStatus.APPROVED:
        approval_mark_executed(approval_id=refund.approval_id, ok=ok, note=note, now=now)


def refund_record_result(
    *,
    refund_id: int,
    result: RefundResult,
    source: str = EventSource.OURS,
    now: dt.datetime | None = None,
) -> Refund:
    """Apply a PSP answer about a refund; post it when the PSP accepted it, reverse it when the
    PSP failed it afterwards. Stale answers only go to the event log."""
    now = _now(now)
    new = RefundStatus(str(result.status))
    with transaction.atomic():
        # Payment first, then refund: the same order as refund_request, so no deadlock.
        payment_id = Refund.objects.values_list("payment_id", flat=True).get(pk=refund_id)
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        refund.payment = payment
        if result.psp_refund_id and not refund.psp_refund_id:
            refund.psp_refund_id = result.psp_refund_id
            refund.save(update_fields=["psp_refund_id"])
        if new == RefundStatus.UNKNOWN and refund.status != RefundStatus.PENDING:
            new = refund.status  # an unknown answer never undoes what we know
        payload = {
            "psp_status": str(result.status),
            "failure_reason": result.failure_reason,
            "raw": result.raw,
        }
        moved = _transition(refund, new, now=now, kind="psp_answer", source=source, payload=payload)
        if not moved and new == refund.status:
            _log(
                payment=payment,
                refund=refund,
                kind="psp_answer",
                source=source,
                from_status=refund.status,
                to_status=refund.status,
                payload=payload,
                now=now,
            )
        if new == RefundStatus.FAILED:
            refund.failure_reason = (result.failure_reason or "refused by the PSP")[:500]
            refund.save(update_fields=["failure_reason"])
        accepted = refund.status in _ACCEPTED and refund.psp_refund_id
        if accepted and refund.posted_at is None:
            _credit_note(refund, now=now)
            posting.post_refund_sent(refund, now=now)
            refund.posted_at = now
            refund.save(update_fields=["posted_at"])
        elif (
            refund.status in (RefundStatus.FAILED, RefundStatus.CANCELED)
            and refund.posted_at is not None
            and refund.reversed_at is None
        ):
            posting.post_refund_reversed(refund, now=now)
            refund.reversed_at = now
            refund.save(update_fields=["reversed_at"])
        _sync_refunded_total(payment)
        if refund.status in (RefundStatus.SUCCEEDED, RefundStatus.PENDING) and accepted:
            _finish_approval(refund, ok=True, note=f"PSP refund {refund.psp_refund_id}", now=now)
        elif refund.status in (RefundStatus.FAILED, RefundStatus.CANCELED):
            _finish_approval(refund, ok=False, note=refund.failure_reason, now=now)
    return refund


def _attempt_key_of(raw: dict) -> str:
    metadata = raw.get("metadata") if isinstance(raw, dict) else None
    if isinstance(metadata, dict) and metadata.get(ATTEMPT_METADATA_KEY):
        return str(metadata[ATTEMPT_METADATA_KEY])
    return str(raw.get("order_id") or "") if isinstance(raw, dict) else ""


def refund_record_from_psp(
    *, provider: str, result: RefundResult, now: dt.datetime | None = None
) -> Refund | None:
    """A refund the PSP told us about (webhook, sync). Ours is matched by PSP id or attempt key;
    one made in the PSP's dashboard is recorded as such. None if the payment is not ours."""
    now = _now(now)
    refund = None
    if result.psp_refund_id:
        refund = Refund.objects.filter(
            provider=provider, psp_refund_id=result.psp_refund_id
        ).first()
    key = _attempt_key_of(result.raw)
    if refund is None and key:
        refund = Refund.objects.filter(attempt_key=key).first()
    if refund is None:
        payment = Payment.objects.filter(
            provider=provider, psp_payment_id=result.psp_payment_id
        ).first()
        if payment is None or not result.psp_refund_id:
            return None
        with transaction.atomic():
            payment = Payment.objects.select_for_update().get(pk=payment.pk)
            refund = Refund.objects.filter(
                provider=provider, psp_refund_id=result.psp_refund_id
            ).first()
            if refund is None:
                refund = Refund.objects.create(
                    payment=payment,
                    provider=provider,
                    amount_minor=result.amount_minor,
                    currency=result.currency or payment.currency,
                    reason=RefundReason.OTHER,
                    note="Refunded in the payment provider's dashboard.",
                    status=RefundStatus.PENDING,
                    attempt_key=f"psp_{provider}_{result.psp_refund_id}",
                    psp_refund_id=result.psp_refund_id,
                    origin=RefundOrigin.PSP_DASHBOARD,
                    sent_at=now,
                    created_at=now,
                )
                _log(
                    payment=payment,
                    refund=refund,
                    kind="dashboard_refund_recorded",
                    source=EventSource.PSP,
                    to_status=RefundStatus.PENDING,
                    now=now,
                    payload={"raw": result.raw},
                )
    return refund_record_result(refund_id=refund.pk, result=result, source=EventSource.PSP, now=now)


def refund_cancel_declined(*, refund_id: int, now=None) -> Refund:
    """Release the reservation of a refund whose approval was rejected or withdrawn."""
    now = _now(now)
    with transaction.atomic():
        payment_id = Refund.objects.values_list("payment_id", flat=True).get(pk=refund_id)
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        _release_declined_approvals(payment, now=now)
    return Refund.objects.get(pk=refund_id)
