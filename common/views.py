"""Health check and error pages that speak problem JSON under /api/."""

from __future__ import annotations

import json
import time

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.defaults import page_not_found, server_error

PROBLEM = "application/problem+json"


def healthz(request):
    checks: dict[str, dict] = {"web": {"ok": True}}
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    started = time.monotonic()
    try:
        from billing_site.celery import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            conn.default_channel.client.ping()
        checks["broker"] = {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}
    except Exception as exc:  # noqa: BLE001
        checks["broker"] = {"ok": False, "error": type(exc).__name__}
    from common.tasks import last_heartbeat

    beat = last_heartbeat()
    checks["worker"] = {"last_heartbeat": beat}
    ok = all(c.get("ok", True) for c in checks.values())
    return JsonResponse({"ok": ok, "checks": checks}, status=200 if ok else 503)


def _problem(status: int, code: str, title: str, detail: str) -> HttpResponse:
    body = {
        "type": f"https://paydesk.example/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    return HttpResponse(json.dumps(body), status=status, content_type=PROBLEM)


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return _problem(404, "not_found", "Not found.", f"No endpoint at {request.path}.")
    return page_not_found(request, exception)


def server_failure(request):
    if request.path.startswith("/api/"):
        return _problem(500, "server_error", "Server error.", "Something failed on our side.")
    return server_error(request)
