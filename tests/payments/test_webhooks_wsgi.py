"""The webhook endpoint as gunicorn serves it: ``billing_site.wsgi`` mounts ``/webhooks/`` on a
handler with a short middleware chain; the rest of the site keeps Django's usual one."""

import io
import json
import threading
import time

import pytest

from payments.choices import WebhookStatus
from payments.models import WebhookDelivery

pytestmark = pytest.mark.django_db(transaction=True)


def _call(path: str, *, method: str = "POST", body: bytes = b"", headers: dict | None = None):
    from billing_site.wsgi import application

    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    started = {}

    def start_response(status, response_headers, exc_info=None):
        started["status"] = int(status.split()[0])
        started["headers"] = dict(response_headers)

    chunks = application(environ, start_response)
    try:
        content = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    return started["status"], started["headers"], content


def _event(fake, **overrides):
    pi = {**fake._fixture("payment_intent", "pi"), "id": "pi_wsgi_1", "status": "succeeded"}
    return fake.build_event("payment_intent.succeeded", {**pi, **overrides})


def test_signed_event_is_stored_once_through_the_short_chain(stripe_psp):
    body, headers = _event(stripe_psp)
    headers = {**headers, "X-Request-ID": "req-wh-1"}

    status, response_headers, content = _call("/webhooks/stripe", body=body, headers=headers)
    assert status == 200
    assert json.loads(content) == {"received": True, "duplicate": False}
    assert response_headers["X-Request-ID"] == "req-wh-1"
    # No session or CSRF machinery ran: no cookie is set on a PSP.
    assert "Set-Cookie" not in response_headers

    status, _, content = _call("/webhooks/stripe", body=body, headers=headers)
    assert status == 200
    assert json.loads(content)["duplicate"] is True

    delivery = WebhookDelivery.objects.get()
    assert delivery.signature_valid is True
    assert delivery.body == body.decode()
    assert delivery.payload["id"] == "pi_wsgi_1"
    assert delivery.headers["Stripe-Signature"] == headers["Stripe-Signature"]
    # The drain it asked for (run inline here) found no payment of ours for the intent.
    assert delivery.status == WebhookStatus.IGNORED
    assert "not one of ours" in delivery.note
    # The webhook mount does not leak into URLs reversed later on the same thread.
    from django.urls import reverse

    assert reverse("admin:index") == "/admin/"


def test_bad_signature_through_the_short_chain_is_stored_invalid_and_refused(stripe_psp):
    body, headers = _event(stripe_psp)
    tampered = body.replace(b"pi_wsgi_1", b"pi_wsgi_2")

    status, _, _ = _call("/webhooks/stripe", body=tampered, headers=headers)

    assert status == 400
    delivery = WebhookDelivery.objects.get()
    assert delivery.signature_valid is False
    assert delivery.body == tampered.decode()


def test_unknown_webhook_path_is_404_and_the_site_keeps_its_own_chain(stripe_psp):
    assert _call("/webhooks/paypal", body=b"{}")[0] == 404
    assert _call("/webhooks/stripe", method="GET")[0] == 405
    status, headers, _ = _call("/healthz", method="GET")
    assert status == 200
    assert headers.get("X-Frame-Options") == "DENY"  # the site's clickjacking middleware ran


def test_a_burst_of_deliveries_asks_redis_once_now_and_once_at_the_window_end(monkeypatch):
    from billing_site.celery import app
    from payments.webhooks import processing

    app.conf.task_always_eager = False  # the autouse eager fixture puts it back
    monkeypatch.setattr(processing, "_enqueue_last", float("-inf"))
    monkeypatch.setattr(processing, "ENQUEUE_WINDOW_S", 0.3)
    asks: list[float] = []
    trailing = threading.Event()

    def ask():
        asks.append(time.monotonic())
        if len(asks) == 2:
            trailing.set()

    monkeypatch.setattr(processing, "enqueue_drain", ask)

    for _ in range(50):
        processing.enqueue_drain_soon()

    assert len(asks) == 1  # the first delivery asks at once
    assert trailing.wait(timeout=30), "the deliveries after the first were never covered"
    assert len(asks) == 2  # the other 49 share one trailing ask
