"""``Idempotency-Key`` for POST endpoints.

The same key and the same body replays the stored response; the same key with another body is
refused; two concurrent requests with one key execute once (the unique constraint on
``(owner, key)`` decides who runs). Keys live ``IDEMPOTENCY_KEY_TTL_HOURS`` (24 h) at least.
"""

from __future__ import annotations

import functools
import hashlib
import time
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.response import Response

from common.exceptions import IdempotencyKeyInUse, IdempotencyKeyMismatch, ValidationFailed
from common.models import IdempotencyRecord

HEADER = "HTTP_IDEMPOTENCY_KEY"
WAIT_FOR_PEER_SECONDS = 5.0


def _owner(request) -> str:
    api_key = getattr(request, "auth", None)
    if api_key is not None and hasattr(api_key, "prefix"):
        return f"key:{api_key.pk}"
    user = request.user
    return f"user:{user.pk}"


def _request_hash(request) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\0")
    digest.update(request.path.encode())
    digest.update(b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def _replay(record: IdempotencyRecord) -> Response:
    from django.http import HttpResponse

    response = HttpResponse(
        bytes(record.response_body or b""),
        status=record.response_status,
        content_type=record.response_content_type or "application/json",
    )
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(view_method):
    """Decorate an APIView's ``post``. Without the header the request runs as usual."""

    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.META.get(HEADER)
        if not key:
            return view_method(self, request, *args, **kwargs)
        if len(key) > 255:
            raise ValidationFailed("Idempotency-Key must be at most 255 characters.")
        # Read the body before anything else consumes the stream.
        req_hash = _request_hash(request._request)
        owner = _owner(request)
        now = timezone.now()
        record = _claim(owner=owner, key=key, request=request, req_hash=req_hash, now=now)
        if record is not None and record.state == IdempotencyRecord.State.COMPLETED:
            return _replay(record)
        try:
            response = view_method(self, request, *args, **kwargs)
        except Exception:
            IdempotencyRecord.objects.filter(owner=owner, key=key, state="IN_PROGRESS").delete()
            raise
        if response.status_code >= 500:
            IdempotencyRecord.objects.filter(owner=owner, key=key, state="IN_PROGRESS").delete()
            return response
        response = self.finalize_response(request, response, *args, **kwargs)
        response.render()
        IdempotencyRecord.objects.filter(owner=owner, key=key).update(
            state=IdempotencyRecord.State.COMPLETED,
            response_status=response.status_code,
            response_body=response.content,
            response_content_type=response.get("Content-Type", "application/json"),
        )
        return response

    return wrapper


def _claim(*, owner, key, request, req_hash, now):
    """Insert the IN_PROGRESS row, or return the existing COMPLETED one to replay.

    Returns None when this request won the key and must execute.
    """
    ttl = timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    IdempotencyRecord.objects.filter(owner=owner, key=key, expires_at__lte=now).delete()
    try:
        with transaction.atomic():
            IdempotencyRecord.objects.create(
                owner=owner,
                key=key,
                method=request.method,
                path=request.path[:500],
                request_hash=req_hash,
                created_at=now,
                expires_at=now + ttl,
            )
        return None
    except IntegrityError:
        pass
    deadline = time.monotonic() + WAIT_FOR_PEER_SECONDS
    while True:
        existing = IdempotencyRecord.objects.filter(owner=owner, key=key).first()
        if existing is None:
            # The peer failed and released the key: try to take it.
            return _claim(owner=owner, key=key, request=request, req_hash=req_hash, now=now)
        if existing.request_hash != req_hash:
            raise IdempotencyKeyMismatch(
                "This Idempotency-Key was already used with a different request body or path. "
                "Use a new key for a new request."
            )
        if existing.state == IdempotencyRecord.State.COMPLETED:
            return existing
        if time.monotonic() >= deadline:
            raise IdempotencyKeyInUse(
                "A request with this Idempotency-Key is still being processed; retry shortly."
            )
        time.sleep(0.05)


def purge_expired(*, now=None) -> int:
    now = now or timezone.now()
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=now).delete()
    return deleted
