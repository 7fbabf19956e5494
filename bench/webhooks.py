"""Stripe webhooks: accepted per second over HTTP and processed per second, beside raw limits.

    .venv/bin/python bench/webhooks.py [--events 6000] [--clients 8] [--runs 3]
        [--workers 3] [--threads 4] [--accept-only]

Target (shared/BENCHMARKS.md): acceptance ≥ 25 % of the 8-client single-row insert+commit rate.

- accepted/s: 8 client threads POST signed ``payment_intent.succeeded`` events (keep-alive) to
  ``/webhooks/stripe`` served by ``gunicorn billing_site.wsgi`` (gthread, 2 processes × 4 threads
  by default; DEBUG off as in production) against a database of its own; each request verifies
  the signature, does one INSERT … ON CONFLICT DO NOTHING and, at most once a second per
  process, asks for a drain (the outbox).
- processed/s: one process drains the stored deliveries (``payments.webhooks.processing.drain``):
  each marks a local payment succeeded, logs the event and posts it to the ledger.
- raw limits, same run: 8 psycopg clients doing single-row INSERT + COMMIT; HMAC-SHA256 verify of
  a 2 KB body in one thread.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = os.environ.get("BENCH_DB", "paydesk_bench_payments")
DATABASE_URL = f"{SERVER}/{DB}"
# A Redis database of its own so the drain requests never reach anybody's worker.
REDIS_URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/11")
SECRET = "whsec_bench_paydesk"
BENCH_ENV = {
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "STRIPE_SECRET_KEY": "sk_test_bench",
    "STRIPE_WEBHOOK_SECRET": SECRET,
    "LOG_LEVEL": "WARNING",
    # As in production: with DEBUG every query is also recorded in memory.
    "DEBUG": "false",
    "DB_CONN_MAX_AGE": "600",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
}

# --- set-up -----------------------------------------------------------------------------------


def setup() -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{DB}"')
    os.environ.update(BENCH_ENV)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_site.settings.dev")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, skip_checks=True)


def make_events(n: int, run: int) -> list[tuple[bytes, dict[str, str]]]:
    """n payments waiting for their PSP answer, and the signed event that brings it."""
    from django.utils import timezone

    from accounts.models import Account
    from payments.models import Payment
    from tests.fakes.stripe_server import FakeStripe

    fake = FakeStripe(webhook_secret=SECRET)
    account, _ = Account.objects.get_or_create(
        legal_name="Bench GmbH",
        defaults=dict(
            billing_email="b@bench.example",
            country="DE",
            currency="EUR",
            tax_status="DOMESTIC",
            created_at=timezone.now(),
        ),
    )
    stamp = f"{int(time.time())}_{run}"
    now = timezone.now()
    Payment.objects.bulk_create(
        Payment(
            account=account,
            provider="stripe",
            psp_payment_id=f"pi_b{stamp}_{i}",
            attempt_key=f"bench_{stamp}_{i}",
            amount_minor=1000 + i % 5000,
            currency="EUR",
            status="PROCESSING",
            created_at=now,
        )
        for i in range(n)
    )
    template = fake._fixture("payment_intent", "pi")
    events = []
    for i in range(n):
        pi = {
            **template,
            "id": f"pi_b{stamp}_{i}",
            "amount": 1000 + i % 5000,
            "amount_received": 1000 + i % 5000,
            "currency": "eur",
            "status": "succeeded",
            "last_payment_error": None,
            "latest_charge": f"ch_b{stamp}_{i}",
            "metadata": {},
        }
        events.append(
            fake.build_event("payment_intent.succeeded", pi, event_id=f"evt_b{stamp}_{i}")
        )
    return events


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(port: int, workers: int, threads: int) -> subprocess.Popen:
    env = {
        **os.environ,
        **BENCH_ENV,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "billing_site.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "-k",
            "gthread",
            "--threads",
            str(threads),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def post_all(port: int, events, clients: int) -> tuple[float, int]:
    chunks = [events[i::clients] for i in range(clients)]
    errors = [0]
    lock = threading.Lock()
    start_gate = threading.Barrier(clients + 1)

    def client(chunk):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        start_gate.wait()
        for body, headers in chunk:
            conn.request(
                "POST",
                "/webhooks/stripe",
                body=body,
                headers={**headers, "Content-Type": "application/json"},
            )
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                with lock:
                    errors[0] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    start_gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, errors[0]


def raw_commit_rate(clients: int, seconds: float = 4.0) -> float:
    import psycopg

    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_commit (id bigserial primary key, "
            "body text, at timestamptz default now())"
        )
        conn.execute("TRUNCATE bench_commit")
    counts = [0] * clients
    stop = threading.Event()
    gate = threading.Barrier(clients + 1)
    body = "x" * 2000

    def worker(i):
        with psycopg.connect(DATABASE_URL) as conn:
            gate.wait()
            while not stop.is_set():
                conn.execute("INSERT INTO bench_commit (body) VALUES (%s)", [body])
                conn.commit()
                counts[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    gate.wait()
    t0 = time.perf_counter()
    time.sleep(seconds)  # measuring window, not a synchronisation
    stop.set()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - t0)


def hmac_rate(seconds: float = 2.0) -> float:
    body = os.urandom(2048)
    key = SECRET.encode()
    expected = hmac.new(key, b"1700000000." + body, hashlib.sha256).hexdigest()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(1000):
            digest = hmac.new(key, b"1700000000." + body, hashlib.sha256).hexdigest()
            hmac.compare_digest(digest, expected)
        n += 1000
    return n / (time.perf_counter() - t0)


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn process")
    parser.add_argument("--accept-only", action="store_true", help="skip the drain")
    args = parser.parse_args()
    setup()
    from django.core.cache import cache
    from django.db import connection

    from payments.models import WebhookDelivery
    from payments.webhooks.processing import drain

    # Deliveries an earlier --accept-only run left behind would be counted in this drain.
    WebhookDelivery.objects.filter(status="RECEIVED").update(
        status="IGNORED", note="left over from an earlier bench run"
    )
    port = free_port()
    server = start_gunicorn(port, args.workers, args.threads)
    accepted, processed, commits, hmacs = [], [], [], []
    try:
        for run in range(args.runs):
            events = make_events(args.events, run)
            body_size = sum(len(b) for b, _ in events) // len(events)
            seconds, errors = post_all(port, events, args.clients)
            stored = WebhookDelivery.objects.filter(dedup_key__startswith="evt_b").count()
            accepted.append(len(events) / seconds)
            done = 0
            if not args.accept_only:
                t0 = time.perf_counter()
                done = drain()
                processed.append(done / (time.perf_counter() - t0))
            commits.append(raw_commit_rate(args.clients))
            hmacs.append(hmac_rate())
            print(
                f"run {run + 1}: accepted {accepted[-1]:,.0f}/s ({errors} errors, "
                f"{body_size} B bodies, {stored} stored), processed "
                f"{processed[-1] if done else 0:,.0f}/s ({done}), raw commit {commits[-1]:,.0f}/s, HMAC {hmacs[-1]:,.0f}/s",
                flush=True,
            )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        cache.delete("payments:webhook-drain-queued")
        connection.close()
    a, p, c, h = map(median, (accepted, processed or [0], commits, hmacs))
    print()
    print("| figure | median | raw limit (same run) | ratio |")
    print("| --- | --- | --- | --- |")
    print(
        f"| webhooks accepted over HTTP, {args.clients} clients | {a:,.0f}/s | "
        f"{c:,.0f} single-row commits/s ({args.clients} clients) | {a / c:.0%} |"
    )
    print(f"| webhooks processed, one drain | {p:,.0f}/s | {c:,.0f} commits/s | {p / c:.0%} |")
    print(f"| HMAC-SHA256 verify, 2 KB | {h:,.0f}/s | | |")
    print(
        json.dumps(
            {
                "accepted_per_s": round(a),
                "processed_per_s": round(p),
                "raw_commit_per_s": round(c),
                "hmac_per_s": round(h),
            }
        )
    )


if __name__ == "__main__":
    main()
