"""Usage ingestion: HTTP API and ``usage_import`` beside the raw PostgreSQL limits, one run.

    .venv/bin/python bench/ingest.py [--api-events 200000] [--import-events 500000]

Every phase starts from an empty ``metering_usageevent`` (same table, same indexes):

* raw COPY: psycopg ``COPY … FROM STDIN`` of the rows (``write_row``), one connection;
* raw ON CONFLICT: ``INSERT … VALUES (1,000 rows) ON CONFLICT DO NOTHING``, one connection;
* API: ``gunicorn billing_site.wsgi -w 2``, 4 client threads posting batches of 1,000;
* usage_import: the management command on an NDJSON file of the same events.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

os.environ.setdefault("BENCH_DB", "paydesk_bench_metering_ingest")

from _metering_db import DATABASE_URL, ROOT, setup  # noqa: E402

N_ACCOUNTS = 1000
METER = "bench_ingest_hours"
T0 = datetime(2026, 10, 1, tzinfo=UTC)


def make_events(n: int, tag: str) -> list[dict]:
    return [
        {
            "id": f"{tag}-{i}",
            "account": f"ext:ingest_{i % N_ACCOUNTS}",
            "meter": METER,
            "timestamp": (T0 + timedelta(seconds=i)).isoformat(),
            "properties": {"hours": f"{(i % 400) / 100:.2f}", "region": "eu-west", "node": i % 97},
        }
        for i in range(n)
    ]


def prepare() -> tuple[dict[str, int], int]:
    from accounts.models import Account
    from metering.models import Meter

    have = set(
        Account.objects.filter(external_id__startswith="ingest_").values_list(
            "external_id", flat=True
        )
    )
    Account.objects.bulk_create(
        [
            Account(
                legal_name=f"Ingest {i}",
                billing_email=f"i{i}@bench.example",
                country="DE",
                currency="EUR",
                tax_status="DOMESTIC",
                external_id=f"ingest_{i}",
                created_at=datetime(2020, 1, 1, tzinfo=UTC),
            )
            for i in range(N_ACCOUNTS)
            if f"ingest_{i}" not in have
        ]
    )
    meter, _ = Meter.objects.get_or_create(
        code=METER,
        defaults={"name": "Hours", "unit": "h", "aggregation": "SUM", "value_property": "hours"},
    )
    ids = dict(
        Account.objects.filter(external_id__startswith="ingest_").values_list("external_id", "pk")
    )
    return ids, meter.pk


def truncate() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("TRUNCATE metering_usageevent")
        cur.execute("VACUUM ANALYZE metering_usageevent")


def rows_of(events, accounts, meter_id, now):
    return [
        (
            accounts[e["account"][4:]],
            e["id"],
            meter_id,
            datetime.fromisoformat(e["timestamp"]),
            Decimal(e["properties"]["hours"]),
            json.dumps(e["properties"], separators=(",", ":")),
            now,
            "",
            "",
        )
        for e in events
    ]


COLUMNS = (
    "account_id, event_id, meter_id, ts, quantity, properties, received_at, void_reason, voided_by"
)


def raw_copy(rows) -> float:
    import psycopg

    with psycopg.connect(DATABASE_URL) as conn:
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY metering_usageevent ({COLUMNS}) FROM STDIN") as cp,
        ):
            for row in rows:
                cp.write_row(row)
        conn.commit()
        return len(rows) / (time.perf_counter() - started)


def raw_on_conflict(rows) -> float:
    import psycopg

    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        placeholders = ",".join(["(%s,%s,%s,%s,%s,%s::jsonb,%s,%s,%s)"] * 1000)
        sql = (
            f"INSERT INTO metering_usageevent ({COLUMNS}) VALUES {placeholders} "
            "ON CONFLICT (account_id, event_id) DO NOTHING"
        )
        started = time.perf_counter()
        with conn.cursor() as cur:
            for i in range(0, len(rows) - len(rows) % 1000, 1000):
                cur.execute(sql, [v for row in rows[i : i + 1000] for v in row])
        return (len(rows) - len(rows) % 1000) / (time.perf_counter() - started)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(events, *, threads: int = 4) -> tuple[float, int]:
    import requests

    from staff.services import apikey_create

    _, raw_key = apikey_create(name="ingest bench", scopes=["usage:write"])
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "DJANGO_SETTINGS_MODULE": os.environ.get(
            "BENCH_SERVER_SETTINGS", "billing_site.settings.production"
        ),
        "SECRET_KEY": "bench-only-secret-key-0123456789abcdef0123456789",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "billing_site.wsgi",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code < 500:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.2)
        batches: queue.Queue = queue.Queue()
        for i in range(0, len(events), 1000):
            batches.put(json.dumps({"events": events[i : i + 1000]}))
        accepted = []
        failures = []
        headers = {"Authorization": f"Bearer {raw_key}", "Content-Type": "application/json"}

        def client():
            session = requests.Session()
            session.post(f"{base}/api/v1/usage-events", data='{"events": []}', headers=headers)
            while True:
                try:
                    body = batches.get_nowait()
                except queue.Empty:
                    return
                response = session.post(f"{base}/api/v1/usage-events", data=body, headers=headers)
                if response.status_code != 200:
                    failures.append(response.text[:300])
                    return
                accepted.append(response.json()["accepted"])

        workers = [threading.Thread(target=client) for _ in range(threads)]
        started = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - started
        if failures:
            raise RuntimeError(failures[0])
        return sum(accepted) / elapsed, sum(accepted)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def bulk_import(events) -> tuple[float, object]:
    from metering.importer import usage_import

    with tempfile.NamedTemporaryFile("w", suffix=".ndjson", delete=False) as handle:
        for e in events:
            handle.write(json.dumps(e) + "\n")
        path = handle.name
    try:
        started = time.perf_counter()
        report = usage_import(path=path)
        return report.accepted / (time.perf_counter() - started), report
    finally:
        os.unlink(path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--api-events", type=int, default=200_000)
    parser.add_argument("--import-events", type=int, default=500_000)
    parser.add_argument("--skip-api", action="store_true")
    args = parser.parse_args()
    setup()
    from django.db import connection

    connection.ensure_connection()
    connection.connection.autocommit = True
    accounts, meter_id = prepare()
    tag = f"r{int(time.time())}"
    n = max(args.api_events, args.import_events)
    events = make_events(n, tag)
    rows = rows_of(events, accounts, meter_id, datetime.now(UTC))
    results = {}

    truncate()
    results["copy"] = raw_copy(rows[: args.import_events])
    truncate()
    results["on_conflict"] = raw_on_conflict(rows[: args.api_events])
    if not args.skip_api:
        truncate()
        results["api"], accepted = api(events[: args.api_events])
        assert accepted == args.api_events, accepted
    truncate()
    results["import"], report = bulk_import(events[: args.import_events])
    assert report.accepted == args.import_events, (report.accepted, report.rejected[:3])
    truncate()

    print(f"raw COPY (psycopg write_row):           {results['copy']:>9,.0f} rows/s")
    print(f"raw INSERT … ON CONFLICT, 1,000/stmt:   {results['on_conflict']:>9,.0f} rows/s")
    if "api" in results:
        print(
            f"API, 4 threads, batches of 1,000:       {results['api']:>9,.0f} events/s  "
            f"= {results['api'] / results['on_conflict']:.0%} of ON CONFLICT (target ≥ 25 %)"
        )
    print(
        f"usage_import (NDJSON):                  {results['import']:>9,.0f} events/s  "
        f"= {results['import'] / results['copy']:.0%} of COPY (target ≥ 70 %)"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
