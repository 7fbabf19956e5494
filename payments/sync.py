"""The janitor: settle payments and refunds left between "intent recorded" and "result recorded"
(UNKNOWN, or PENDING for too long) by asking the PSP, never by guessing.

A payment the PSP has no trace of (searched by its attempt key) was never charged: it is marked
FAILED after the grace period. A refund stuck PENDING without a PSP id is sent again with the same
attempt key: the PSP answers with the refund it already made, or makes it now, once.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone

from payments.choices import PaymentStatus, RefundStatus
from payments.gateways.base import GatewayError, GatewayNotFound
from payments.models import Payment, Refund
from payments.providers import gateway_for

logger = logging.getLogger(__name__)

STALE_AFTER = dt.timedelta(minutes=10)
BATCH = 200


@dataclass
class SyncResult:
    payments_checked: int = 0
    payments_resolved: int = 0
    refunds_checked: int = 0
    refunds_resolved: int = 0
    errors: list[str] = field(default_factory=list)


def payments_to_sync(*, now: dt.datetime, stale_after: dt.timedelta = STALE_AFTER):
    stale = now - stale_after
    return (
        Payment.objects.exclude(provider="bank")
        .filter(
            Q(status=PaymentStatus.UNKNOWN, updated_at__lte=now)
            | Q(
                status__in=[PaymentStatus.PENDING, PaymentStatus.PROCESSING],
                updated_at__lte=stale,
            )
        )
        .order_by("updated_at")
    )


def refunds_to_sync(*, now: dt.datetime, stale_after: dt.timedelta = STALE_AFTER):
    stale = now - stale_after
    return Refund.objects.filter(
        Q(status=RefundStatus.UNKNOWN)
        | Q(status__in=[RefundStatus.PENDING, RefundStatus.APPROVED], updated_at__lte=stale)
        | Q(status=RefundStatus.AWAITING_APPROVAL, approval__status__in=["REJECTED", "CANCELED"])
    ).order_by("updated_at")


def payment_sync_one(
    *, payment: Payment, now: dt.datetime, stale_after: dt.timedelta = STALE_AFTER
) -> bool:
    from payments.services import payment_mark, payment_record_result

    gateway = gateway_for(payment.provider)
    if payment.psp_payment_id:
        result = gateway.payment_fetch(payment.psp_payment_id)
    else:
        result = gateway.payment_find_by_idempotency_key(payment.attempt_key)
    if result is None:
        if payment.created_at > now - stale_after:
            return False  # the PSP's search may lag a fresh attempt; look again later
        payment_mark(
            payment_id=payment.pk,
            status=PaymentStatus.FAILED,
            reason="The payment provider has no record of this attempt; nothing was charged.",
            now=now,
        )
        return True
    before = payment.status
    after = payment_record_result(payment_id=payment.pk, result=result, kind="sync", now=now)
    return after.status != before


def refund_sync_one(*, refund: Refund, now: dt.datetime) -> bool:
    from payments.refunds import (
        refund_cancel_declined,
        refund_execute,
        refund_record_result,
        refund_send,
    )

    before = refund.status
    if refund.status == RefundStatus.AWAITING_APPROVAL:
        return refund_cancel_declined(refund_id=refund.pk, now=now).status != before
    if refund.status == RefundStatus.APPROVED:
        # Approved but the task that sends it never ran.
        return refund_execute(refund_id=refund.pk, now=now).status != before
    if refund.psp_refund_id:
        result = gateway_for(refund.provider).refund_fetch(refund.psp_refund_id)
        return refund_record_result(refund_id=refund.pk, result=result, now=now).status != before
    # Sent, answer lost: send again with the same attempt key (a replay at the PSP).
    refund = Refund.objects.select_related("payment").get(pk=refund.pk)
    return refund_send(refund=refund).status != before


def sync_unknown(
    *, now: dt.datetime | None = None, stale_after: dt.timedelta = STALE_AFTER
) -> SyncResult:
    now = now or timezone.now()
    out = SyncResult()
    for payment in payments_to_sync(now=now, stale_after=stale_after)[:BATCH]:
        out.payments_checked += 1
        try:
            if payment_sync_one(payment=payment, now=now, stale_after=stale_after):
                out.payments_resolved += 1
        except (GatewayError, GatewayNotFound) as exc:
            logger.warning("payment sync failed", extra={"payment": payment.pk, "error": str(exc)})
            out.errors.append(f"payment {payment.pk}: {exc}")
    for refund in refunds_to_sync(now=now, stale_after=stale_after)[:BATCH]:
        out.refunds_checked += 1
        try:
            if refund_sync_one(refund=refund, now=now):
                out.refunds_resolved += 1
        except GatewayError as exc:
            logger.warning("refund sync failed", extra={"refund": refund.pk, "error": str(exc)})
            out.errors.append(f"refund {refund.pk}: {exc}")
    return out
