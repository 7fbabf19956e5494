"""Monthly usage aggregation over 10,000,000 events for 10,000 accounts, against raw SQL.

    .venv/bin/python bench/aggregate.py [--events 10000000] [--runs 3]

Generates the events once with ``INSERT … SELECT generate_series`` (indexes dropped during the
load and rebuilt after), then times, alternately, the raw ``GROUP BY`` over the month and
``metering.selectors.usage_aggregates_bulk`` (the billing run's bulk read), each fetching all
groups into Python. Prints seconds (median of the runs) and the ratio.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from _metering_db import median, setup

MONTH = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
METERS = [
    ("b_cluster_hours", "SUM", "hours"),
    ("b_storage_gb_hours", "SUM", "gb_hours"),
    ("b_egress_gb", "SUM", "gb"),
    ("b_api_calls", "COUNT", ""),
    ("b_peak_nodes", "MAX", "nodes"),
]

RAW_SQL = (
    "SELECT account_id, meter_id, sum(quantity), count(*) FROM metering_usageevent "
    "WHERE ts >= %s AND ts < %s GROUP BY account_id, meter_id"
)


def generate(n_events: int, n_accounts: int) -> None:
    from django.db import connection

    from accounts.models import Account
    from metering.models import Meter

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM metering_usageevent")
        if cur.fetchone()[0] == n_events:
            return
    print(f"generating {n_events:,} events for {n_accounts:,} accounts …", flush=True)
    started = time.monotonic()
    have = Account.objects.filter(external_id__startswith="bench_").count()
    Account.objects.bulk_create(
        [
            Account(
                legal_name=f"Bench {i}",
                billing_email=f"b{i}@bench.example",
                country="DE",
                currency="EUR",
                tax_status="DOMESTIC",
                external_id=f"bench_{i}",
                created_at=datetime(2020, 1, 1, tzinfo=UTC),
            )
            for i in range(have, n_accounts)
        ],
        batch_size=5000,
    )
    for code, agg, prop in METERS:
        Meter.objects.get_or_create(
            code=code,
            defaults={"name": code, "unit": "u", "aggregation": agg, "value_property": prop},
        )
    meter_ids = list(
        Meter.objects.filter(code__in=[m[0] for m in METERS]).values_list("pk", flat=True)
    )
    account_ids = list(
        Account.objects.filter(external_id__startswith="bench_").values_list("pk", flat=True)
    )
    with connection.cursor() as cur:
        cur.execute("TRUNCATE metering_usageevent")
        cur.execute("DROP INDEX IF EXISTS usage_event_aggregation, usage_event_ts_brin")
        cur.execute("ALTER TABLE metering_usageevent DROP CONSTRAINT IF EXISTS uniq_usage_event")
        # Events in time order (as they arrive), spread over the month and the accounts.
        cur.execute(
            """
            INSERT INTO metering_usageevent
                (account_id, event_id, meter_id, ts, quantity, properties, received_at,
                 void_reason, voided_by)
            SELECT (%(accounts)s::bigint[])[1 + (g * 7919) %% %(n_acc)s],
                   'e' || g,
                   (%(meters)s::bigint[])[1 + (g / 7) %% %(n_met)s],
                   %(start)s::timestamptz + (g::float8 / %(n)s) * interval '31 days',
                   ((g %% 1000) / 100.0)::numeric,
                   jsonb_build_object('region', CASE WHEN g %% 3 = 0 THEN 'eu-west' ELSE 'us-east' END),
                   %(start)s::timestamptz, '', ''
            FROM generate_series(0::bigint, %(n)s - 1) AS g
            """,
            {
                "accounts": account_ids,
                "meters": meter_ids,
                "n_acc": len(account_ids),
                "n_met": len(meter_ids),
                "n": n_events,
                "start": MONTH[0],
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
    from django.db import connection as c2

    c2.cursor().execute("VACUUM ANALYZE metering_usageevent")
    print(f"generated in {time.monotonic() - started:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    setup()
    from django.db import connection

    from metering.models import Meter
    from metering.selectors import usage_aggregates_bulk

    connection.ensure_connection()
    connection.connection.autocommit = True
    generate(args.events, args.accounts)
    meters = list(Meter.objects.filter(code__in=[m[0] for m in METERS]))
    raw, ours = [], []
    for _ in range(args.runs):
        started = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute(RAW_SQL, list(MONTH))
            raw_groups = len(cur.fetchall())
        raw.append(time.perf_counter() - started)
        started = time.perf_counter()
        result = usage_aggregates_bulk(period_start=MONTH[0], period_end=MONTH[1], meters=meters)
        ours.append(time.perf_counter() - started)
        assert len(result) == raw_groups, (len(result), raw_groups)
    print(f"groups: {raw_groups:,}")
    print(f"raw GROUP BY:          median {median(raw):.2f} s  runs {[round(x, 2) for x in raw]}")
    print(f"usage_aggregates_bulk: median {median(ours):.2f} s  runs {[round(x, 2) for x in ours]}")
    print(f"ratio (ours / raw): {median(ours) / median(raw):.2f}  (target ≤ 1.5)")


if __name__ == "__main__":
    main()
