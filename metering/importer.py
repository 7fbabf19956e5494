"""Bulk load of usage files (``manage.py usage_import``): the API's validation, COPY's speed.

The file is read in chunks; each chunk's accounts and meters are resolved with one query each,
events are validated by ``metering.ingest.validate_event`` (the API's rules), the valid ones are
COPYed into a temporary staging table, and one ``INSERT … SELECT … ON CONFLICT DO NOTHING
RETURNING line`` moves them into the event table and tells which lines were new. Within one
file, the first line of a repeated (account, id) wins (the SELECT is in line order).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from metering.exceptions import UsageImportFailed
from metering.ingest import (
    Rejected,
    _raw_cursor,
    accounts_resolve,
    meters_resolve,
    validate_event,
)

CHUNK = 20_000
CSV_FIXED = ("account", "id", "meter", "timestamp")

STAGING_SQL = """
CREATE TEMP TABLE IF NOT EXISTS metering_import_staging (
    line bigint NOT NULL, account_id bigint NOT NULL, event_id text NOT NULL,
    meter_id bigint NOT NULL, ts timestamptz NOT NULL, quantity numeric NOT NULL,
    properties jsonb NOT NULL
) ON COMMIT DROP
"""

MOVE_SQL = """
WITH ins AS (
    INSERT INTO metering_usageevent
        (account_id, event_id, meter_id, ts, quantity, properties, received_at,
         void_reason, voided_by)
    SELECT account_id, event_id, meter_id, ts, quantity, properties, %(now)s, '', ''
    FROM metering_import_staging ORDER BY line
    ON CONFLICT (account_id, event_id) DO NOTHING
    RETURNING account_id, event_id, meter_id, ts
), late AS (
    INSERT INTO metering_usagerecheck
        (account_id, meter_id, period_start, period_end, hits, marked_at)
    SELECT DISTINCT b.account_id, b.meter_id, b.period_start, b.period_end, 1, %(now)s
    FROM ins
    JOIN metering_billedperiod b
      ON b.account_id = ins.account_id AND b.meter_id = ins.meter_id
     AND ins.ts >= b.period_start AND ins.ts < b.period_end
    ORDER BY 1, 2, 3
    ON CONFLICT (account_id, meter_id, period_start)
    DO UPDATE SET hits = metering_usagerecheck.hits + 1, marked_at = EXCLUDED.marked_at
)
SELECT count(*) FROM ins
"""


@dataclass
class ImportReport:
    lines: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # line, code, detail

    @property
    def rejected_count(self) -> int:
        return len(self.rejected)


def _csv_rows(handle) -> Iterator[tuple[int, object, str | None]]:
    reader = csv.DictReader(handle)
    missing = [c for c in CSV_FIXED if c not in (reader.fieldnames or [])]
    if missing:
        raise UsageImportFailed(f"the CSV header lacks the column(s): {', '.join(missing)}")
    extra = [c for c in reader.fieldnames if c not in CSV_FIXED]
    for row in reader:
        line = reader.line_num
        if "properties" in extra:
            try:
                properties = json.loads(row["properties"] or "{}")
            except ValueError:
                yield line, {"id": row.get("id"), "properties": None}, "properties is not JSON"
                continue
        else:
            # Every other column is a property; empty cells are absent.
            properties = {c: row[c] for c in extra if row[c] not in (None, "")}
        yield (
            line,
            {
                "account": row["account"],
                "id": row["id"],
                "meter": row["meter"],
                "timestamp": row["timestamp"],
                "properties": properties,
            },
            None,
        )


def _ndjson_rows(handle) -> Iterator[tuple[int, object, str | None]]:
    for line, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        try:
            yield line, json.loads(text), None
        except ValueError:
            yield line, None, "the line is not a JSON object"


def _chunks(rows, size):
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def usage_import(*, path: str | Path, dry_run: bool = False, now: datetime | None = None):
    """Load a CSV or NDJSON file (by extension). Valid rows are stored; the report says which
    lines were rejected and why. ``dry_run`` does everything, then rolls back."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".ndjson", ".jsonl"):
        raise UsageImportFailed("the file must end in .csv, .ndjson or .jsonl")
    now = now or timezone.now()
    report = ImportReport()
    with path.open(newline="" if suffix == ".csv" else None, encoding="utf-8") as handle:
        rows = _csv_rows(handle) if suffix == ".csv" else _ndjson_rows(handle)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(STAGING_SQL)
            for chunk in _chunks(rows, CHUNK):
                _load_chunk(chunk, report=report, now=now)
            if dry_run:
                transaction.set_rollback(True)
    return report


def _load_chunk(chunk, *, report: ImportReport, now: datetime) -> None:
    raws = [raw for _, raw, _ in chunk if isinstance(raw, dict)]
    accounts = accounts_resolve(r.get("account") for r in raws)
    meters = meters_resolve(r.get("meter") for r in raws)
    buffer = io.StringIO()
    write = buffer.write
    valid = 0
    for line, raw, parse_error in chunk:
        report.lines += 1
        if parse_error:
            report.rejected.append((line, "invalid_event", parse_error))
            continue
        try:
            e = validate_event(raw, accounts=accounts, meters=meters, now=now)
        except Rejected as exc:
            report.rejected.append((line, exc.code, exc.detail))
            continue
        valid += 1
        write(
            f"{line}\t{e.account_id}\t{_copy_text(e.event_id)}\t{e.meter_id}\t"
            f"{e.ts.isoformat()}\t{e.quantity}\t{_copy_text(e.properties_json)}\n"
        )
    if not valid:
        return
    with _raw_cursor() as cursor:
        cursor.execute("TRUNCATE metering_import_staging")
        with cursor.copy(
            "COPY metering_import_staging "
            "(line, account_id, event_id, meter_id, ts, quantity, properties) FROM STDIN"
        ) as copy:
            copy.write(buffer.getvalue())
        cursor.execute(MOVE_SQL, {"now": now})
        inserted = cursor.fetchone()[0]
    report.accepted += inserted
    report.duplicate += valid - inserted


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: str) -> str:
    return value.translate(_COPY_ESCAPES)
