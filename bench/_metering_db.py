"""Shared set-up for the metering benchmarks: a database of their own, migrated, with Django."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = os.environ.get("BENCH_DB", "paydesk_bench_metering")
DATABASE_URL = f"{SERVER}/{DB}"


def setup() -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{DB}"')
    os.environ["DATABASE_URL"] = DATABASE_URL
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_site.settings.test")
    import django

    django.setup()
    from django.core.management import call_command

    for app in ("staff", "metering"):
        call_command("migrate", app, verbosity=0, skip_checks=True)


def median(values):
    values = sorted(values)
    return values[len(values) // 2]
