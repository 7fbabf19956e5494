"""Admin changelists on big tables: 1,000,000 invoices and 10,000,000 usage events.

Times the Django admin (test Client, logged in as a superuser) on the invoice and usage-event
lists: first page, a status/meter filter, a search by account name or id, a deep page through
the keyset "Older" link (the cursor 5,000 pages down), the deep page by page number (OFFSET, for
comparison) and the invoice totals of a month; p50/p95 over 20 requests and the SQL queries per
page. Beside them, in the same run, the raw limits: ``SELECT ... ORDER BY id DESC LIMIT 100``,
``OFFSET 5000000 LIMIT 100`` and ``COUNT(*)`` against the ``reltuples`` estimate.

Run (loads the database ``paydesk_bench_admin`` once, ~10 minutes; reruns reuse it):
    .venv/bin/python bench/admin_lists.py [--invoices 1000000] [--events 10000000] [--runs 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = os.environ.get("BENCH_DB", "paydesk_bench_admin")
ACCOUNTS = 10_000
MONTH = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)


def setup() -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{DB}"')
    os.environ["DATABASE_URL"] = f"{SERVER}/{DB}"
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_site.settings.test")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, skip_checks=True)
    from django.db import connection

    connection.ensure_connection()
    connection.connection.autocommit = True


def seed_accounts() -> None:
    from accounts.models import Account

    have = Account.objects.count()
    Account.objects.bulk_create(
        [
            Account(
                legal_name=f"Bench Kunde {i:05d} GmbH",
                billing_email=f"b{i}@bench.example",
                street="Teststraße 1",
                postcode="10115",
                city="Berlin",
                country="DE",
                language="de" if i % 2 else "en",
                currency="EUR",
                tax_status="DOMESTIC",
                external_id=f"bench_{i}",
                created_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
            )
            for i in range(have, ACCOUNTS)
        ],
        batch_size=5000,
    )


def load_events(total: int) -> None:
    from django.db import connection

    from metering.models import Meter

    with connection.cursor() as cur:
        cur.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'metering_usageevent'")
        if cur.fetchone()[0] >= total * 0.99:
            return
    meters = []
    for code in ("b_cluster_hours", "b_storage_gb_hours", "b_egress_gb", "b_api_calls"):
        meter, _ = Meter.objects.get_or_create(
            code=code,
            defaults={"name": code, "unit": "u", "aggregation": "SUM", "value_property": "v"},
        )
        meters.append(meter.pk)
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("SELECT array_agg(id ORDER BY id) FROM accounts_account")
        accounts = cur.fetchone()[0]
        cur.execute("TRUNCATE metering_usageevent")
        # Loading without the indexes and building them after is several times faster.
        cur.execute("DROP INDEX IF EXISTS usage_event_aggregation, usage_event_ts_brin")
        cur.execute("ALTER TABLE metering_usageevent DROP CONSTRAINT IF EXISTS uniq_usage_event")
        # Events in arrival order, spread over a month and the accounts, like aggregate.py's.
        cur.execute(
            """
            INSERT INTO metering_usageevent
                (account_id, event_id, meter_id, ts, quantity, properties, received_at,
                 void_reason, voided_by)
            SELECT (%(accounts)s::bigint[])[1 + (g * 7919) %% %(n_acc)s], 'e' || g,
                   (%(meters)s::bigint[])[1 + (g / 7) %% %(n_met)s],
                   %(start)s::timestamptz + (g::float8 / %(n)s) * interval '31 days',
                   ((g %% 1000) / 100.0)::numeric, '{}'::jsonb,
                   %(start)s::timestamptz + (g::float8 / %(n)s) * interval '31 days', '', ''
            FROM generate_series(0::bigint, %(n)s - 1) AS g
            """,
            {
                "accounts": accounts,
                "meters": meters,
                "n_acc": len(accounts),
                "n_met": len(meters),
                "n": total,
                "start": MONTH,
            },
        )
        cur.execute(
            "ALTER TABLE metering_usageevent ADD CONSTRAINT uniq_usage_event "
            "UNIQUE (account_id, event_id)"
        )
        cur.execute(
            "CREATE INDEX usage_event_aggregation ON metering_usageevent "
            "(account_id, meter_id, ts) INCLUDE (quantity) WHERE voided_at IS NULL"
        )
        cur.execute("CREATE INDEX usage_event_ts_brin ON metering_usageevent USING brin (ts)")
        cur.execute("VACUUM ANALYZE metering_usageevent")
    print(f"loaded {total:,} usage events in {time.perf_counter() - t0:.0f} s", flush=True)


def load_invoices(total: int) -> None:
    from billing_run import load_invoices as copy_invoices

    from invoices.models import Invoice

    if Invoice.objects.order_by().values("pk")[: total - 1].count() < total - 1:
        copy_invoices(total)


def _timed(fn, runs: int) -> tuple[float, float]:
    fn()  # warm
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, round(len(times) * 0.95) - 1)]


def _raw(sql: str, params=()):
    from django.db import connection

    def run():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.fetchall()

    return run


def bench(runs: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from common.admin import CURSOR_VAR
    from invoices.models import Invoice
    from metering.models import Meter, UsageEvent

    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    deep_invoice = Invoice.objects.order_by("-id").values_list("pk", flat=True)[500_000]
    deep_event = UsageEvent.objects.order_by("-id").values_list("pk", flat=True)[5_000_000]
    meter = Meter.objects.order_by("pk").values_list("pk", flat=True).first()

    raws = [
        ("raw invoices ORDER BY id DESC LIMIT 100 (join account)",
         "SELECT i.*, a.legal_name FROM invoices_invoice i JOIN accounts_account a "
         "ON a.id = i.account_id ORDER BY i.id DESC LIMIT 100"),
        ("raw events ORDER BY id DESC LIMIT 100",
         "SELECT * FROM metering_usageevent ORDER BY id DESC LIMIT 100"),
        ("raw events ORDER BY id DESC OFFSET 5000000 LIMIT 100",
         "SELECT * FROM metering_usageevent ORDER BY id DESC OFFSET 5000000 LIMIT 100"),
        ("raw events COUNT(*)", "SELECT count(*) FROM metering_usageevent"),
        ("raw events reltuples estimate",
         "SELECT reltuples FROM pg_class WHERE oid = 'metering_usageevent'::regclass"),
    ]  # fmt: skip
    for label, sql in raws:
        med, p95 = _timed(_raw(sql), runs if "OFFSET" not in sql and "count" not in sql else 5)
        print(f"{label}: p50 {med:.1f} ms, p95 {p95:.1f} ms", flush=True)

    cases = [
        ("invoices", "first page", {}),
        ("invoices", "filter status=OPEN", {"status__exact": "OPEN"}),
        ("invoices", "search account name prefix", {"q": "Bench Kunde 0042"}),
        ("invoices", "deep page, keyset (500,000 rows down)", {CURSOR_VAR: deep_invoice}),
        ("invoices", "page 5000 by number (OFFSET)", {"p": "5000"}),
        ("invoices", "month 2024-03 with totals", {"issue_date__year": "2024",
                                                  "issue_date__month": "3"}),
        ("usageevents", "first page", {}),
        ("usageevents", "filter meter", {"meter__id__exact": meter}),
        ("usageevents", "search account id", {"q": "42"}),
        ("usageevents", "deep page, keyset (5,000,000 rows down)", {CURSOR_VAR: deep_event}),
    ]  # fmt: skip
    urls = {"invoices": "/admin/invoices/invoice/", "usageevents": "/admin/metering/usageevent/"}
    for table, label, params in cases:

        def get(url=urls[table], p=params):
            response = client.get(url, p)
            assert response.status_code == 200, response.status_code

        captured: list[str] = []

        def capture(execute, sql, params, many, context, log=captured):
            log.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(capture):
            get()
        # A count bounded by an inner LIMIT is the capped count; anything else is a full one.
        bare = [q for q in captured if "COUNT(" in q.upper() and " LIMIT " not in q.upper()]
        count_note = f", full COUNT(*): {len(bare)}" if bare else ""
        med, p95 = _timed(get, runs)
        print(
            f"admin {table} {label}: p50 {med:.1f} ms, p95 {p95:.1f} ms, "
            f"{len(captured)} queries{count_note}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--load-only", action="store_true")
    args = parser.parse_args()
    setup()
    seed_accounts()
    load_invoices(args.invoices)
    load_events(args.events)
    if not args.load_only:
        bench(args.runs)


if __name__ == "__main__":
    main()
