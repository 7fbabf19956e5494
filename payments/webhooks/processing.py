"""The webhook outbox: deliveries are stored by the endpoint and drained here in batches.

A drain claims a batch with a lease (``claimed_until``, FOR UPDATE SKIP LOCKED), so several
workers can drain side by side and a worker that dies mid-batch only delays its deliveries until
the lease runs out. Handlers are idempotent, so a delivery processed twice after a crash does no
harm. A failing delivery is retried with backoff, then marked FAILED for the admin's Reprocess.

Deliveries whose handlers only touch the database (``registry.db_only``) are processed up to
``CHUNK`` to a transaction, each in a savepoint: one commit per chunk instead of two per event.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from payments.choices import WebhookStatus
from payments.gateways.base import WebhookEvent
from payments.models import WebhookDelivery
from payments.webhooks.registry import Ignore, db_only, handlers_for

logger = logging.getLogger(__name__)

BATCH = 200
# Deliveries per transaction: bounds how long a batch holds the payment rows it locked.
CHUNK = 50
LEASE = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 6
# One drain request in flight at a time: many deliveries, one enqueue.
DRAIN_FLAG = "payments:webhook-drain-queued"
DRAIN_FLAG_TTL_S = 30


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))


def enqueue_drain() -> None:
    """Ask a worker to drain, unless a drain is already queued.

    Call it after the delivery committed: a flag still set means its drain has not started yet
    (the drain clears the flag first), so that drain will see the delivery.
    """
    try:
        if not cache.add(DRAIN_FLAG, 1, timeout=DRAIN_FLAG_TTL_S):
            return
        from payments.tasks import drain_webhooks

        drain_webhooks.apply_async()
    except Exception:  # noqa: BLE001 - the beat drain picks the delivery up; never fail the PSP
        logger.exception("could not enqueue the webhook drain")


# A web process asks Redis at most once per window. A delivery stored inside the window is
# covered by one trailing ask at its end, still made after its commit; if the process dies
# before that, the beat drain (every minute) picks the delivery up.
ENQUEUE_WINDOW_S = 1.0
_enqueue_lock = threading.Lock()
_enqueue_last = float("-inf")
_enqueue_timer: threading.Timer | None = None


def enqueue_drain_soon() -> None:
    """``enqueue_drain`` for the webhook endpoint: many deliveries per second, few asks."""
    global _enqueue_last, _enqueue_timer
    with _enqueue_lock:
        if _enqueue_timer is not None:
            return
        now = time.monotonic()
        wait = _enqueue_last + ENQUEUE_WINDOW_S - now
        if wait > 0 and not _tasks_run_eagerly():
            _enqueue_timer = threading.Timer(wait, _enqueue_trailing)
            _enqueue_timer.daemon = True
            _enqueue_timer.start()
            return
        _enqueue_last = now
    enqueue_drain()


def _tasks_run_eagerly() -> bool:
    # Then the ask runs the drain itself: keep it in the caller, never on a timer thread.
    from payments.tasks import drain_webhooks

    return bool(drain_webhooks.app.conf.task_always_eager)


def _enqueue_trailing() -> None:
    global _enqueue_last, _enqueue_timer
    with _enqueue_lock:
        _enqueue_timer = None
        _enqueue_last = time.monotonic()
    enqueue_drain()


def _claim(*, now: dt.datetime, limit: int) -> list[WebhookDelivery]:
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
        ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return []
    return list(WebhookDelivery.objects.filter(pk__in=ids).order_by("pk"))


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


@dataclass
class _Outcome:
    """What processing did to a delivery; written back for many deliveries in one UPDATE."""

    delivery: WebhookDelivery
    status: str
    attempts: int
    note: str
    last_error: str
    next_attempt_at: dt.datetime | None
    processed_at: dt.datetime | None


def _outcome(delivery: WebhookDelivery, **changes) -> _Outcome:
    fields = {
        "status": delivery.status,
        "attempts": delivery.attempts,
        "note": delivery.note,
        "last_error": delivery.last_error,
        "next_attempt_at": delivery.next_attempt_at,
        "processed_at": delivery.processed_at,
    }
    fields.update(changes)
    fields["note"] = fields["note"][:300]
    return _Outcome(delivery=delivery, **fields)


_FINISH = """
UPDATE {table} AS d
   SET claimed_until = NULL, status = v.status, attempts = v.attempts, note = v.note,
       last_error = v.last_error, next_attempt_at = v.next_attempt_at,
       processed_at = v.processed_at
  FROM unnest(%s::bigint[], %s::text[], %s::integer[], %s::text[], %s::text[],
              %s::timestamptz[], %s::timestamptz[])
       AS v(id, status, attempts, note, last_error, next_attempt_at, processed_at)
 WHERE d.id = v.id
"""


def _finish(outcomes: list[_Outcome]) -> None:
    if not outcomes:
        return
    columns = [
        [o.delivery.pk for o in outcomes],
        [str(o.status) for o in outcomes],
        [o.attempts for o in outcomes],
        [o.note for o in outcomes],
        [o.last_error for o in outcomes],
        [o.next_attempt_at for o in outcomes],
        [o.processed_at for o in outcomes],
    ]
    with connection.cursor() as cursor:
        cursor.execute(_FINISH.format(table=WebhookDelivery._meta.db_table), columns)


def _handle(delivery: WebhookDelivery, handlers, *, now: dt.datetime, savepoint: bool) -> _Outcome:
    """Run the handlers of one delivery (inside a savepoint when in a batch transaction)."""
    event = event_of(delivery)
    notes: list[str] = []
    try:
        if savepoint:
            with transaction.atomic():
                for handler in handlers:
                    notes.append(handler(event, delivery=delivery))
        else:
            for handler in handlers:
                notes.append(handler(event, delivery=delivery))
    except Ignore as exc:
        return _outcome(delivery, status=WebhookStatus.IGNORED, note=str(exc), processed_at=now)
    except Exception as exc:  # noqa: BLE001 - any failure is retried, then shown to a person
        attempts = delivery.attempts + 1
        logger.warning(
            "webhook processing failed",
            extra={"delivery": delivery.pk, "attempt": attempts, "error": repr(exc)},
        )
        return _outcome(
            delivery,
            attempts=attempts,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            status=WebhookStatus.FAILED if attempts >= MAX_ATTEMPTS else WebhookStatus.RECEIVED,
            next_attempt_at=now + backoff(attempts),
        )
    return _outcome(
        delivery,
        status=WebhookStatus.PROCESSED,
        attempts=delivery.attempts + 1,
        note="; ".join(str(n) for n in notes if n),
        processed_at=now,
        last_error="",
    )


def _unhandled(delivery: WebhookDelivery, *, now: dt.datetime) -> _Outcome:
    note = f"no handler registered for '{delivery.kind or delivery.event_type}'"
    if delivery.kind == "other":
        note = f"'{delivery.event_type}' is not an event Paydesk acts on"
    return _outcome(delivery, status=WebhookStatus.IGNORED, note=note, processed_at=now)


def process_delivery(*, delivery_id: int, now: dt.datetime | None = None) -> str:
    """Run the handlers of one delivery; returns its new status."""
    now = now or timezone.now()
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    if not delivery.signature_valid or delivery.status != WebhookStatus.RECEIVED:
        return delivery.status
    handlers = handlers_for(delivery.kind)
    if handlers:
        outcome = _handle(delivery, handlers, now=now, savepoint=False)
    else:
        outcome = _unhandled(delivery, now=now)
    _finish([outcome])
    return outcome.status


def _process_chunk(deliveries: list[WebhookDelivery], *, now: dt.datetime) -> None:
    """Database-only deliveries share one transaction, each in a savepoint, and their status
    commits with their effects; the rest call a PSP and run one by one, outside any."""
    in_batch: list[tuple[WebhookDelivery, list]] = []
    alone: list[tuple[WebhookDelivery, list]] = []
    outcomes: list[_Outcome] = []
    for delivery in deliveries:
        if not delivery.signature_valid or delivery.status != WebhookStatus.RECEIVED:
            continue
        handlers = handlers_for(delivery.kind)
        if not handlers:
            outcomes.append(_unhandled(delivery, now=now))
        elif db_only(handlers, event_of(delivery)):
            in_batch.append((delivery, handlers))
        else:
            alone.append((delivery, handlers))
    with transaction.atomic():
        for delivery, handlers in in_batch:
            outcomes.append(_handle(delivery, handlers, now=now, savepoint=True))
        _finish(outcomes)
    # A crash before the next _finish leaves these claimed; the lease runs out and they are
    # processed again, which idempotent handlers allow.
    _finish([_handle(d, handlers, now=now, savepoint=False) for d, handlers in alone])


def drain(*, batch: int = BATCH, max_batches: int | None = None, now=None) -> int:
    """Process every delivery that is due; returns how many were handled."""
    cache.delete(DRAIN_FLAG)  # from here on, a new delivery queues a new drain
    done = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        moment = now or timezone.now()
        deliveries = _claim(now=moment, limit=batch)
        if not deliveries:
            break
        batches += 1
        for start in range(0, len(deliveries), CHUNK):
            _process_chunk(deliveries[start : start + CHUNK], now=moment)
        done += len(deliveries)
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
