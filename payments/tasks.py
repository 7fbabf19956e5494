"""Celery tasks: ids in, one service call. All idempotent and acks_late (a redelivered task after
a worker died is harmless: attempt keys and state guards make the second run a replay or a
no-op). Queue: psp (see CELERY_TASK_ROUTES)."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone


@shared_task(name="payments.charge_invoice", acks_late=True)
def charge_invoice(payment_id: int) -> str:
    """Send a recorded attempt (PENDING) to the PSP; a rerun replays the same attempt key."""
    from payments.choices import PaymentStatus
    from payments.models import Payment
    from payments.services import payment_record_result, payment_send

    payment = Payment.objects.select_related("account").get(pk=payment_id)
    if payment.status != PaymentStatus.PENDING:
        return payment.status
    result = payment_send(payment=payment)
    return payment_record_result(payment_id=payment.pk, result=result).status


@shared_task(name="payments.refund_execute", acks_late=True)
def refund_execute(refund_id: int) -> str:
    from payments.refunds import refund_execute as execute

    return execute(refund_id=refund_id).status


@shared_task(name="payments.process_webhook", acks_late=True)
def process_webhook(delivery_id: int) -> str:
    from payments.webhooks.processing import process_delivery

    return process_delivery(delivery_id=delivery_id)


@shared_task(name="payments.drain_webhooks", acks_late=True)
def drain_webhooks() -> int:
    from payments.webhooks.processing import drain

    return drain()


@shared_task(name="payments.sync_unknown", acks_late=True)
def sync_unknown() -> dict:
    from payments.sync import sync_unknown as run

    result = run()
    return {
        "payments_resolved": result.payments_resolved,
        "refunds_resolved": result.refunds_resolved,
        "errors": len(result.errors),
    }


@shared_task(name="payments.import_payouts", acks_late=True)
def import_payouts(days: int = 3) -> dict:
    from payments.reconciliation import payouts_import_all

    return payouts_import_all(since=timezone.now() - dt.timedelta(days=days))
