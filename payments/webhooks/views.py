"""``POST /webhooks/stripe`` and ``POST /webhooks/braintree``.

Verify, store, answer. Processing happens later, in the outbox drain: the request does one
INSERT … ON CONFLICT DO NOTHING and, at most once a second per process, asks for a drain.
``billing_site.wsgi`` serves these views through a short middleware chain.
"""

from __future__ import annotations

import json
import logging
import uuid

import psycopg
from django.db import InterfaceError, OperationalError, connection, transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments.exceptions import ProviderNotConfigured
from payments.gateways.base import WebhookEvent, WebhookSignatureError
from payments.models import WebhookDelivery
from payments.providers import gateway_for
from payments.webhooks.processing import enqueue_drain_soon

logger = logging.getLogger(__name__)

# Headers worth keeping beside the raw body (for audit and re-verification), nothing else.
# Read straight from META (WSGI names): cheaper than building request.headers.
KEPT_HEADERS = {
    "Stripe-Signature": "HTTP_STRIPE_SIGNATURE",
    "Content-Type": "CONTENT_TYPE",
    "User-Agent": "HTTP_USER_AGENT",
    "X-Request-Id": "HTTP_X_REQUEST_ID",
}
MAX_BODY = 1_000_000
_ACCEPTED = b'{"received": true, "duplicate": false}'
_DUPLICATE = b'{"received": true, "duplicate": true}'

# The table name is ours; every value travels as a parameter.
_INSERT = f"""
INSERT INTO {WebhookDelivery._meta.db_table}
    (provider, dedup_key, event_type, kind, object_id, occurred_at, body, headers, payload,
     signature_valid, received_at, status, attempts, last_error, note, next_attempt_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, true, %s, 'RECEIVED', 0, '', '', %s)
ON CONFLICT (provider, dedup_key) WHERE signature_valid DO NOTHING
RETURNING id
"""  # noqa: S608


def _headers(request) -> dict[str, str]:
    meta = request.META
    return {name: meta[key] for name, key in KEPT_HEADERS.items() if key in meta}


def delivery_store(*, provider: str, event: WebhookEvent, body: bytes, headers: dict) -> int | None:
    """Store a verified delivery; None when the same event was stored before."""
    now = timezone.now()
    params = [
        provider,
        event.event_id[:255],
        event.psp_type[:100],
        event.kind[:60],
        (event.object_id or "")[:100],
        event.occurred_at,
        body.decode("utf-8", "replace"),
        json.dumps(headers),
        json.dumps(event.data, default=str),
        now,
        now,
    ]
    if connection.in_atomic_block:
        return _insert(params)
    # One statement in autocommit: instead of Django's per-request health check (a SELECT 1,
    # as costly as the insert itself), a dropped connection is replaced and the insert tried
    # once more. A retry after a lost commit finds the row and answers "duplicate"; the beat
    # drain still processes it.
    connection.health_check_done = True
    try:
        return _insert(params)
    except (InterfaceError, OperationalError):
        if connection.connection is not None and connection.is_usable():
            raise  # the statement failed, not the connection
        connection.close()
        return _insert(params)


def _insert(params: list) -> int | None:
    # Parameters bound by the server: the 2 KB body and payload travel as they are instead of
    # being quoted into the statement text and parsed back.
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(_INSERT, params, prepare=False)
        row = cursor.fetchone()
    return row[0] if row else None


def _store_invalid(*, provider: str, body: bytes, headers: dict, error: str) -> None:
    WebhookDelivery.objects.create(
        provider=provider,
        dedup_key=f"invalid:{uuid.uuid4().hex}",
        body=body.decode("utf-8", "replace"),
        headers=headers,
        signature_valid=False,
        received_at=timezone.now(),
        status="IGNORED",
        last_error=error[:2000],
        note="signature did not verify; not processed",
    )


def _receive(request, provider: str) -> HttpResponse:
    body = request.body
    headers = _headers(request)
    if len(body) > MAX_BODY:
        return JsonResponse({"error": "body too large"}, status=413)
    try:
        gateway = gateway_for(provider)
    except ProviderNotConfigured:
        logger.error("webhook for unconfigured provider", extra={"provider": provider})
        return JsonResponse({"error": "provider not configured"}, status=503)
    try:
        # The kept headers carry everything a gateway verifies with (Stripe-Signature).
        event = gateway.webhook_parse(body=body, headers=headers)
    except WebhookSignatureError as exc:
        _store_invalid(provider=provider, body=body, headers=headers, error=str(exc))
        logger.warning("webhook signature invalid", extra={"provider": provider})
        return JsonResponse({"error": "invalid signature"}, status=400)
    delivery_id = delivery_store(provider=provider, event=event, body=body, headers=headers)
    if delivery_id is None:
        return HttpResponse(_DUPLICATE, content_type="application/json")
    transaction.on_commit(enqueue_drain_soon)
    return HttpResponse(_ACCEPTED, content_type="application/json")


@csrf_exempt
@require_POST
def stripe_webhook(request):
    return _receive(request, "stripe")


@csrf_exempt
@require_POST
def braintree_webhook(request):
    return _receive(request, "braintree")
