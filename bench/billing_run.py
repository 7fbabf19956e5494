"""Billing run throughput and the admin invoice list on 1,000,000 invoices, beside raw limits.

1. 10,000 subscriptions (flat fee in advance + metered cluster hours in arrears, usage events
   ingested through metering), billed by ``billing_run`` for the period boundary 2026-02-01:
   each invoice holds February's fee and January's usage; invoices/s. PDFs are deferred to the
   render task, whose rate is measured separately.
   Raw limit: pgbench TPC-B, 8 clients, 2 threads, 15 s, scale 10, on the same server.
2. The admin invoice changelist, a number search, a name search and a status filter with
   1,000,000 invoices (bulk-loaded with COPY), beside ``SELECT ... ORDER BY id DESC LIMIT 100``.

Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/paydesk .venv/bin/python bench/billing_run.py
(the script uses its own databases ``paydesk_bench_billing`` and ``paydesk_bench_pgbench``;
BENCH_DB and BENCH_PGBENCH_DB name others).
Options: --subscriptions N (10000), --invoices N (1000000), --skip-admin, --skip-pgbench.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = os.environ.get("BENCH_DB", "paydesk_bench_billing")
PGBENCH_DB = os.environ.get("BENCH_PGBENCH_DB", "paydesk_bench_pgbench")
JAN = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _recreate(name: str) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _attach() -> None:
    os.environ["DATABASE_URL"] = f"{SERVER}/{DB}"
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_site.settings.test")
    import django

    django.setup()


def setup() -> None:
    _recreate(DB)
    os.environ["DATABASE_URL"] = f"{SERVER}/{DB}"
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_site.settings.test")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, skip_checks=True)


def seed(n: int) -> None:
    from accounts.models import Account
    from catalog.models import Subscription
    from catalog.services import plan_create, price_create, product_create
    from metering.services import meter_create, usage_events_ingest

    t0 = time.perf_counter()
    created = dt.datetime(2025, 12, 1, tzinfo=dt.UTC)
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
                created_at=created,
            )
            for i in range(n)
        ],
        batch_size=2000,
    )
    product = product_create(code="clusters", name="Managed clusters")
    plan = plan_create(
        code="TEAM-EUR", name="Team", product=product, billing_period="MONTHLY", currency="EUR"
    )
    price_create(
        plan=plan,
        code="base",
        description="Team plan",
        charge_model="FLAT",
        timing="IN_ADVANCE",
        unit_amount=Decimal("49.00"),
    )
    hours = price_create(
        plan=plan,
        code="cluster_hours",
        description="Cluster hours",
        charge_model="PER_UNIT",
        timing="IN_ARREARS",
        unit_amount=Decimal("0.0825"),
    )
    meter_create(
        code="cluster_hours",
        name="Cluster hours",
        unit="hour",
        aggregation="SUM",
        value_property="hours",
        price=hours,
    )
    accounts = list(Account.objects.order_by("pk").values_list("pk", flat=True))
    Subscription.objects.bulk_create(
        [
            Subscription(
                account_id=a,
                plan=plan,
                status="ACTIVE",
                started_at=JAN,
                billing_anchor=JAN,
                created_at=JAN,
            )
            for a in accounts
        ],
        batch_size=2000,
    )
    events = []
    for a in accounts:
        for k in range(3):
            events.append(
                {
                    "id": f"{a}-{k}",
                    "account": a,
                    "meter": "cluster_hours",
                    "timestamp": f"2026-01-{5 + 7 * k:02d}T12:00:00Z",
                    "properties": {"hours": str(17 + (a + k) % 50)},
                }
            )
    for i in range(0, len(events), 1000):
        usage_events_ingest(events=events[i : i + 1000])
    print(
        f"seeded {n} accounts and subscriptions, {len(events)} usage events "
        f"in {time.perf_counter() - t0:.1f} s"
    )


def bench_billing(n: int) -> float:
    from django.db import connection

    from invoices.services import billing_run, invoices_render_pending

    t0 = time.perf_counter()
    first = billing_run(as_of=dt.date(2026, 1, 1), now=JAN + dt.timedelta(hours=6))
    t_first = time.perf_counter() - t0
    print(
        f"first period (fee only): {first.created} invoices in {t_first:.1f} s = "
        f"{first.created / t_first:.0f} invoices/s, errors {len(first.errors)}"
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    t0 = time.perf_counter()
    result = billing_run(as_of=dt.date(2026, 2, 1), now=dt.datetime(2026, 2, 1, 6, tzinfo=dt.UTC))
    elapsed = time.perf_counter() - t0
    rate = result.created / elapsed
    print(
        f"billing run (Feb fee + Jan usage): {result.created} invoices in {elapsed:.1f} s = "
        f"{rate:.0f} invoices/s, errors {len(result.errors)}"
    )
    _check_integrity()
    t0 = time.perf_counter()
    again = billing_run(as_of=dt.date(2026, 2, 1), now=dt.datetime(2026, 2, 1, 7, tzinfo=dt.UTC))
    print(
        f"rerun: {again.created} created, {again.skipped} skipped in "
        f"{time.perf_counter() - t0:.1f} s"
    )
    t0 = time.perf_counter()
    rendered = invoices_render_pending(limit=100)
    pdf_rate = rendered / (time.perf_counter() - t0)
    print(f"PDF rendering (deferred task): {pdf_rate:.1f} PDFs/s")
    return rate


def _check_integrity() -> None:
    """What the speed must not cost: gap-free numbers, one invoice per key, usage billed once,
    every invoice's journal entry balanced."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*), COUNT(DISTINCT sequence), MIN(sequence), MAX(sequence), "
            "COUNT(DISTINCT billing_key) FROM invoices_invoice WHERE status <> 'DRAFT'"
        )
        count, distinct, low, high, keys = cursor.fetchone()
        cursor.execute(
            "SELECT COUNT(*) FROM (SELECT subscription_id, period_start FROM metering_usagebilled "
            "WHERE NOT is_adjustment GROUP BY 1, 2 HAVING COUNT(*) > 1) d"
        )
        (twice,) = cursor.fetchone()
        cursor.execute(
            "SELECT COUNT(*) FROM (SELECT e.id FROM ledger_journalentry e "
            "JOIN ledger_journalline l ON l.entry_id = e.id WHERE e.document_type = 'invoice' "
            "GROUP BY e.id HAVING SUM(l.debit_minor) <> SUM(l.credit_minor)) u"
        )
        (unbalanced,) = cursor.fetchone()
        cursor.execute(
            "SELECT COUNT(*) FROM invoices_invoice i WHERE NOT EXISTS (SELECT 1 FROM "
            "ledger_journalentry e WHERE e.idempotency_key = 'invoice:' || i.id || ':finalize')"
        )
        (unposted,) = cursor.fetchone()
    gap_free = count == distinct == (high or 0) and (low or 1) == 1
    print(
        f"integrity: {count} invoices, numbers 1..{high} gap-free: {gap_free}, "
        f"{keys} distinct billing keys, usage periods billed twice: {twice}, "
        f"unbalanced entries: {unbalanced}, invoices without entry: {unposted}"
    )


def pgbench() -> float:
    _recreate(PGBENCH_DB)
    url = urlparse(SERVER)
    base = [
        "-h",
        url.hostname or "127.0.0.1",
        "-p",
        str(url.port or 5432),
        "-U",
        url.username or "postgres",
    ]
    subprocess.run(
        ["pgbench", *base, "-i", "-s", "10", "-q", PGBENCH_DB], check=True, capture_output=True
    )
    out = subprocess.run(
        ["pgbench", *base, "-c", "8", "-j", "2", "-T", "15", PGBENCH_DB],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    print(f"pgbench TPC-B, 8 clients, 15 s: {tps:.0f} tps")
    return tps


def load_invoices(total: int) -> None:
    from django.db import connection

    from invoices.models import Invoice, NumberSeries

    have = Invoice.objects.count()
    todo = max(0, total - have)
    series = NumberSeries.objects.get(code="RE").pk
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM accounts_account ORDER BY id")
        accounts = [r[0] for r in cursor.fetchall()]
    t0 = time.perf_counter()
    cols = (
        "account_id, series_id, number, sequence, status, kind, currency, issue_date, "
        "due_date, language, customer_snapshot, seller_snapshot, net_minor, tax_minor, "
        "gross_minor, tax_breakdown, tax_note, credit_applied_minor, amount_paid_minor, "
        "amount_credited_minor, memo, pdf, pdf_sha256, finalized_at, void_reason, "
        "created_at, updated_at"
    )
    statuses = ("PAID", "PAID", "PAID", "OPEN", "VOID", "UNCOLLECTIBLE")
    start = dt.date(2019, 1, 1)
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY invoices_invoice ({cols}) FROM STDIN") as copy:
            for i in range(todo):
                day = start + dt.timedelta(days=i * 2500 // max(todo, 1))
                net = 1000 + (i * 7919) % 90000
                tax = (net * 19 + 50) // 100
                status = statuses[i % len(statuses)]
                ts = dt.datetime.combine(day, dt.time(6), tzinfo=dt.UTC)
                copy.write_row(
                    (
                        accounts[i % len(accounts)],
                        series,
                        f"BL-{day.year}-{i:07d}",
                        i + 1,
                        status,
                        "SUBSCRIPTION",
                        "EUR",
                        day,
                        day + dt.timedelta(days=14),
                        "de",
                        "{}",
                        "{}",
                        net,
                        tax,
                        net + tax,
                        "[]",
                        "",
                        0,
                        net + tax if status == "PAID" else 0,
                        0,
                        "",
                        "",
                        "0" * 64,
                        ts,
                        "",
                        ts,
                        ts,
                    )
                )
        cursor.execute("VACUUM ANALYZE invoices_invoice")
    print(f"loaded {todo} invoices with COPY in {time.perf_counter() - t0:.1f} s")


def _timed(fn, runs: int = 15) -> tuple[float, float]:
    fn()  # warm
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def bench_admin() -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from invoices.models import Invoice

    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    some = Invoice.objects.order_by("-id").values_list("number", flat=True)[5000]

    def get(params=None):
        response = client.get("/admin/invoices/invoice/", params or {})
        assert response.status_code == 200, response.status_code

    def raw():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT i.*, a.legal_name FROM invoices_invoice i "
                "JOIN accounts_account a ON a.id = i.account_id ORDER BY i.id DESC LIMIT 100"
            )
            cursor.fetchall()

    cases = [
        ("changelist, first page", {}),
        ("search by number", {"q": some}),
        ("search by account name prefix", {"q": "Bench Kunde 0042"}),
        ("filter status=OPEN", {"status__exact": "OPEN"}),
        (
            "date hierarchy 2024-03 (with totals)",
            {"issue_date__year": "2024", "issue_date__month": "3"},
        ),
    ]
    raw_med, raw_p95 = _timed(raw)
    print(
        f"raw SELECT ... ORDER BY id DESC LIMIT 100 (join account): median {raw_med:.1f} ms, "
        f"p95 {raw_p95:.1f} ms"
    )
    for label, params in cases:
        queries = []
        with connection.execute_wrapper(
            lambda ex, sql, *a, q=queries: (q.append(sql), ex(sql, *a))[1]
        ):
            get(params)
        med, p95 = _timed(lambda p=params: get(p))
        print(f"admin {label}: median {med:.1f} ms, p95 {p95:.1f} ms, {len(queries)} queries")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--skip-admin", action="store_true")
    parser.add_argument("--skip-pgbench", action="store_true")
    parser.add_argument("--admin-only", action="store_true", help="reuse the loaded database")
    args = parser.parse_args()
    if args.admin_only:
        _attach()
        bench_admin()
        return
    setup()
    seed(args.subscriptions)
    rate = bench_billing(args.subscriptions)
    if not args.skip_pgbench:
        tps = pgbench()
        print(
            f"billing run / pgbench: {rate:.0f} / {tps:.0f} = {100 * rate / tps:.0f} % "
            f"(target >= 20 %)"
        )
    if not args.skip_admin:
        load_invoices(args.invoices)
        bench_admin()


if __name__ == "__main__":
    main()
