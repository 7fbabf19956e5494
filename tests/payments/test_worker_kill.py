"""A real Celery worker killed with SIGKILL while the PSP holds its answer.

The task message was delivered but never acknowledged (``acks_late``); once the broker's
visibility timeout runs out, a new worker gets it again. The PSP must still hold exactly one
charge (or refund), and our books exactly one entry for it.

Each test starts its workers against this test's database, a Redis database of its own and the
fake Stripe; nothing reaches the shared broker.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from ledger.models import JournalEntry
from payments.choices import PaymentStatus, RefundReason, RefundStatus
from payments.models import Payment

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
# Generous: a loaded 2-core machine starts a worker in seconds, not milliseconds.
DEADLINE_S = 90.0
VISIBILITY_TIMEOUT_S = 3
# Redis databases kept for these tests, one per pytest-xdist worker (the benches use 11).
REDIS_DBS = (9, 10, 12, 13, 14, 15)


def wait_for(what: str, check, *, workers=(), timeout: float = DEADLINE_S):
    """Poll ``check`` until it returns something truthy; fail with the workers' logs if not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        for worker in workers:
            if worker.proc.poll() is not None and not worker.killed:
                pytest.fail(f"worker exited while waiting for {what}:\n{worker.log_text()}")
        time.sleep(0.2)  # polling interval; the deadline bounds the wait
    logs = "\n".join(w.log_text() for w in workers)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{logs}")


class Worker:
    def __init__(self, proc: subprocess.Popen, log: Path) -> None:
        self.proc = proc
        self.log = log
        self.killed = False

    def kill(self) -> None:
        self.killed = True
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


@pytest.fixture
def broker_url(worker_id):
    n = int(worker_id[2:]) if worker_id.startswith("gw") else 0
    parts = urlsplit(settings.REDIS_URL)
    if parts.scheme != "redis":
        pytest.skip("needs a Redis server reachable over TCP (REDIS_URL=redis://...)")
    url = urlunsplit(parts._replace(path=f"/{REDIS_DBS[n % len(REDIS_DBS)]}"))
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def start_worker(broker_url, stripe_psp, tmp_path):
    """Start ``celery -A billing_site worker`` processes; whatever is left is killed at the end."""
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "billing_site.settings.test",
        "DATABASE_URL": database_url,
        "REDIS_URL": broker_url,
        "STRIPE_SECRET_KEY": stripe_psp.api_key,
        "STRIPE_WEBHOOK_SECRET": stripe_psp.webhook_secret,
        "STRIPE_API_BASE": stripe_psp.base_url,
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT_S),
        "PYTHONPATH": str(ROOT),
    }
    started: list[Worker] = []

    def start() -> Worker:
        n = len(started) + 1
        log = tmp_path / f"worker{n}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "billing_site",
                    "worker",
                    "--pool",
                    "solo",
                    "-Q",
                    "psp",
                    "-n",
                    f"killtest{n}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-l",
                    "info",
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(proc, log)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.proc.poll() is None:
            worker.kill()


@pytest.fixture
def send_task(broker_url):
    """Publish a task to the test broker, routed as the project routes it (queue ``psp``)."""
    from billing_site.celery import app

    def send(name: str, *args) -> None:
        app.conf.task_always_eager = False  # a real worker runs it (the autouse fixture restores)
        with app.connection_for_write(broker_url) as conn:
            app.send_task(name, args=list(args), connection=conn)

    return send


def _unacked_older_than_visibility(broker_url: str) -> bool:
    """The killed worker's message is due for redelivery (kombu's ``unacked_index``)."""
    client = redis.Redis.from_url(broker_url)
    try:
        entries = client.zrange("unacked_index", 0, -1, withscores=True)
    finally:
        client.close()
    return bool(entries) and all(
        time.time() - score > VISIBILITY_TIMEOUT_S + 0.5 for _, score in entries
    )


def _broker_idle(broker_url: str) -> bool:
    """No task waiting in ``psp`` and none delivered without acknowledgement."""
    client = redis.Redis.from_url(broker_url)
    try:
        return client.llen("psp") == 0 and client.hlen("unacked") == 0
    finally:
        client.close()


def _kill_during_psp_call(*, start_worker, send_task, broker_url, fake, path, task, arg):
    """Worker 1 takes the task and reaches the PSP, which holds its answer; kill -9 it; start
    worker 2 once the message is due again. Returns worker 2."""
    fake.timeout_next(seconds=DEADLINE_S * 2, path=path)
    first = start_worker()
    send_task(task, arg)
    wait_for(
        f"the PSP to receive {path}",
        lambda: fake.requests_to("POST", path),
        workers=[first],
    )
    first.kill()
    wait_for(
        "the unacknowledged task to pass the visibility timeout",
        lambda: _unacked_older_than_visibility(broker_url),
    )
    return start_worker()


@pytest.fixture
def open_invoice(account):
    import importlib

    from django.apps import apps

    # Transactional tests flush the tables the invoices data migration seeded.
    importlib.import_module("invoices.migrations.0002_seed_tax_rates_and_series").seed(apps, None)
    from invoices.services import invoice_add_line, invoice_create_draft, invoice_finalize
    from ledger.chart import ensure_chart

    ensure_chart()
    draft = invoice_create_draft(account=account, currency="EUR")
    invoice_add_line(
        invoice=draft, description="Cloud plan", quantity=Decimal(1), unit_amount=Decimal("100.00")
    )
    from invoices import services

    if getattr(services, "PDF_SKIP", None) == "skip":
        return invoice_finalize(invoice=draft, pdf_mode="skip")
    return invoice_finalize(invoice=draft)


def test_charge_task_survives_a_killed_worker_and_charges_once(
    open_invoice, stripe_psp, start_worker, send_task, broker_url
):
    from payments.services import payment_start

    payment = payment_start(
        invoice=open_invoice, provider="stripe", payment_method_id="pm_card_visa"
    )
    second = _kill_during_psp_call(
        start_worker=start_worker,
        send_task=send_task,
        broker_url=broker_url,
        fake=stripe_psp,
        path="/v1/payment_intents",
        task="payments.charge_invoice",
        arg=payment.pk,
    )

    wait_for(
        "the redelivered charge to succeed",
        lambda: Payment.objects.get(pk=payment.pk).status == PaymentStatus.SUCCEEDED,
        workers=[second],
    )
    wait_for("the task to be acknowledged", lambda: _broker_idle(broker_url), workers=[second])

    payment.refresh_from_db()
    assert len(stripe_psp.payment_intents) == 1
    assert payment.psp_payment_id == next(iter(stripe_psp.payment_intents))
    # Both workers reached the PSP; the second one with the same key got the first answer.
    assert len(stripe_psp.requests_to("POST", "/v1/payment_intents")) == 2
    assert (
        JournalEntry.objects.filter(idempotency_key=f"payment:{payment.pk}:received").count() == 1
    )
    open_invoice.refresh_from_db()
    assert open_invoice.amount_paid_minor == payment.amount_minor


def test_refund_task_survives_a_killed_worker_and_refunds_once(
    paid_payment, support_lead, stripe_psp, start_worker, send_task, broker_url
):
    from payments.refunds import refund_request
    from payments.sync import sync_unknown

    payment = paid_payment(100_00)
    refund = refund_request(
        payment=payment,
        amount_minor=20_00,
        reason=RefundReason.DUPLICATE,
        actor=support_lead,
        execute=False,
    )
    second = _kill_during_psp_call(
        start_worker=start_worker,
        send_task=send_task,
        broker_url=broker_url,
        fake=stripe_psp,
        path="/v1/refunds",
        task="payments.refund_execute",
        arg=refund.pk,
    )

    # The redelivered task finds the refund sent (PENDING) and leaves it to the janitor.
    wait_for("the redelivered task to finish", lambda: _broker_idle(broker_url), workers=[second])
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PENDING
    assert len(stripe_psp.requests_to("POST", "/v1/refunds")) == 1

    sync_unknown(now=timezone.now() + dt.timedelta(minutes=11))  # replays the attempt key

    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert len(stripe_psp.refunds) == 1
    assert refund.psp_refund_id == next(iter(stripe_psp.refunds))
    assert JournalEntry.objects.filter(idempotency_key=f"refund:{refund.pk}:sent").count() == 1
    payment.refresh_from_db()
    assert payment.amount_refunded_minor == 20_00
