"""``POST /webhooks/stripe`` and ``POST /webhooks/braintree``.

Verify, store, answer. Processing happens later, in the outbox drain: the request does one
INSERT … ON CONFLICT DO NOTHING and, at most once every few seconds, one enqueue.
"""

from __future__ import annotations

import json
import logging
import uuid

from django.db import connection, transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments.exceptions import ProviderNotConfigured
from payments.gateways.base import WebhookEvent, WebhookSignatureError
from payments.models import WebhookDelivery
from payments.providers import gateway_for
from payments.webhooks.processing import enqueue_drain

logger = logging.getLogger(__name__)

# Headers worth keeping beside the raw body (for audit and re-verification), nothing else.
KEPT_HEADERS = ("Stripe-Signature", "Content-Type", "User-Agent", "X-Request-Id")
MAX_BODY = 1_000_000

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
    return {name: request.headers[name] for name in KEPT_HEADERS if name in request.headers}


def delivery_store(*, provider: str, event: WebhookEvent, body: bytes, headers: dict) -> int | None:
    """Store a verified delivery; None when the same event was stored before."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT,
            [
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
            ],
        )
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
        event = gateway.webhook_parse(body=body, headers=dict(request.headers))
    except WebhookSignatureError as exc:
        _store_invalid(provider=provider, body=body, headers=headers, error=str(exc))
        logger.warning("webhook signature invalid", extra={"provider": provider})
        return JsonResponse({"error": "invalid signature"}, status=400)
    delivery_id = delivery_store(provider=provider, event=event, body=body, headers=headers)
    if delivery_id is None:
        return JsonResponse({"received": True, "duplicate": True})
    transaction.on_commit(enqueue_drain)
    return JsonResponse({"received": True, "duplicate": False})


@csrf_exempt
@require_POST
def stripe_webhook(request):
    return _receive(request, "stripe")


@csrf_exempt
@require_POST
def braintree_webhook(request):
    return _receive(request, "braintree")
