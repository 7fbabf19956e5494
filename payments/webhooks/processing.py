"""The webhook outbox: deliveries are stored by the endpoint and drained here in batches.

A drain claims a batch with a lease (``claimed_until``, FOR UPDATE SKIP LOCKED), so several
workers can drain side by side and a worker that dies mid-batch only delays its deliveries until
the lease runs out. Handlers are idempotent, so a delivery processed twice after a crash does no
harm. A failing delivery is retried with backoff, then marked FAILED for the admin's Reprocess.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from payments.choices import WebhookStatus
from payments.gateways.base import WebhookEvent
from payments.models import WebhookDelivery
from payments.webhooks.registry import Ignore, handlers_for

logger = logging.getLogger(__name__)

BATCH = 200
LEASE = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 6
# One drain request in flight at a time: many deliveries, one enqueue.
DRAIN_FLAG = "payments:webhook-drain-queued"
DRAIN_FLAG_TTL_S = 30


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))


def enqueue_drain() -> None:
    """Ask a worker to drain, unless a drain is already queued."""
    try:
        if not cache.add(DRAIN_FLAG, 1, timeout=DRAIN_FLAG_TTL_S):
            return
        from payments.tasks import drain_webhooks

        drain_webhooks.apply_async()
    except Exception:  # noqa: BLE001 - the beat drain picks the delivery up; never fail the PSP
        logger.exception("could not enqueue the webhook drain")


def _claim(*, now: dt.datetime, limit: int) -> list[int]:
    table = WebhookDelivery._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} SET claimed_until = %s
             WHERE id IN (
                SELECT id FROM {table}
                 WHERE status = 'RECEIVED' AND next_attempt_at <= %s
                   AND (claimed_until IS NULL OR claimed_until < %s)
                 ORDER BY next_attempt_at, id
                 LIMIT %s
                 FOR UPDATE SKIP LOCKED)
            RETURNING id
            """,  # noqa: S608 - the table name is ours
            [now + LEASE, now, now, limit],
        )
        return sorted(row[0] for row in cursor.fetchall())


def event_of(delivery: WebhookDelivery) -> WebhookEvent:
    return WebhookEvent(
        provider=delivery.provider,
        event_id=delivery.dedup_key,
        kind=delivery.kind,
        psp_type=delivery.event_type,
        object_id=delivery.object_id or None,
        occurred_at=delivery.occurred_at or delivery.received_at,
        data=delivery.payload or {},
    )


def _finish(delivery_id: int, **fields) -> None:
    WebhookDelivery.objects.filter(pk=delivery_id).update(claimed_until=None, **fields)


def process_delivery(*, delivery_id: int, now: dt.datetime | None = None) -> str:
    """Run the handlers of one delivery; returns its new status."""
    now = now or timezone.now()
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    if not delivery.signature_valid or delivery.status != WebhookStatus.RECEIVED:
        return delivery.status
    handlers = handlers_for(delivery.kind)
    if not handlers:
        note = f"no handler registered for '{delivery.kind or delivery.event_type}'"
        if delivery.kind == "other":
            note = f"'{delivery.event_type}' is not an event Paydesk acts on"
        _finish(delivery_id, status=WebhookStatus.IGNORED, note=note[:300], processed_at=now)
        return WebhookStatus.IGNORED
    event = event_of(delivery)
    notes: list[str] = []
    try:
        for handler in handlers:
            note = handler(event, delivery=delivery)
            if note:
                notes.append(str(note))
    except Ignore as exc:
        _finish(delivery_id, status=WebhookStatus.IGNORED, note=str(exc)[:300], processed_at=now)
        return WebhookStatus.IGNORED
    except Exception as exc:  # noqa: BLE001 - any failure is retried, then shown to a person
        attempts = delivery.attempts + 1
        logger.warning(
            "webhook processing failed",
            extra={"delivery": delivery_id, "attempt": attempts, "error": repr(exc)},
        )
        failed = attempts >= MAX_ATTEMPTS
        _finish(
            delivery_id,
            attempts=attempts,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            status=WebhookStatus.FAILED if failed else WebhookStatus.RECEIVED,
            next_attempt_at=now + backoff(attempts),
        )
        return WebhookStatus.FAILED if failed else WebhookStatus.RECEIVED
    _finish(
        delivery_id,
        status=WebhookStatus.PROCESSED,
        attempts=delivery.attempts + 1,
        note="; ".join(notes)[:300],
        processed_at=now,
        last_error="",
    )
    return WebhookStatus.PROCESSED


def drain(*, batch: int = BATCH, max_batches: int | None = None, now=None) -> int:
    """Process every delivery that is due; returns how many were handled."""
    cache.delete(DRAIN_FLAG)  # from here on, a new delivery queues a new drain
    done = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        moment = now or timezone.now()
        ids = _claim(now=moment, limit=batch)
        if not ids:
            break
        batches += 1
        for delivery_id in ids:
            process_delivery(delivery_id=delivery_id, now=moment)
            done += 1
    return done


def delivery_reprocess(*, delivery_id: int, now=None) -> None:
    """Put a FAILED (or IGNORED) delivery back in the queue, from the admin."""
    now = now or timezone.now()
    WebhookDelivery.objects.filter(pk=delivery_id, signature_valid=True).update(
        status=WebhookStatus.RECEIVED,
        attempts=0,
        last_error="",
        next_attempt_at=now,
        claimed_until=None,
    )
