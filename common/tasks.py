"""Housekeeping tasks: a heartbeat the health check reads, and idempotency-key expiry."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

HEARTBEAT_KEY = "paydesk:worker-heartbeat"


@shared_task(name="common.health")
def health() -> str:
    stamp = timezone.now().isoformat()
    cache.set(HEARTBEAT_KEY, stamp, timeout=None)
    return stamp


def last_heartbeat() -> str | None:
    return cache.get(HEARTBEAT_KEY)


@shared_task(name="common.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    from common.api.idempotency import purge_expired

    return purge_expired()
