"""Bulk load of usage files (``manage.py usage_import``): the API's validation at COPY's speed.

The file is streamed into a temporary staging table with COPY in rounds of ``ROUND_LINES``
lines, with next to no Python per line: NDJSON lines go in as raw text, CSV cells as text
columns. One statement per round then parses and checks the staged rows in PostgreSQL, joins
accounts and meters, inserts the valid ones (the first line of an (account, id) repeated in the
file wins) and marks billed periods that a late event lands in, as ``metering.ingest`` does.

Exactly once rests on the unique (account_id, event_id) index. While no event of the file has
met a stored one, rounds use a plain INSERT (a third cheaper than ON CONFLICT's speculative
insertion); the first unique violation rolls that round back to a savepoint and from then on
``ON CONFLICT (account_id, event_id) DO NOTHING`` decides, also against concurrent writers.

The SQL check is deliberately conservative: it accepts only rows it can prove the API would
accept with the same values (plain ISO 8601 timestamps, plain decimal quantities, properties
well under the size limit, ...). Every row it does not accept is handed to the API's own
validator (``metering.ingest.validate_event``), which gives the reason code and detail; the
rare row that the validator accepts after all (an unusual but valid timestamp form, say) is
stored through the API's insert. So reasons and details are the API's by construction, and
Python only works per line on rejected lines.

A round whose data makes a cast fail (a line that is not JSON, 2026-02-30) is rolled back to a
savepoint and run again with casts that turn bad input into NULL; that costs a second pass of
that round only.

Known difference from the API: properties are stored as sent (``1.50`` stays ``1.50`` where the
API's float parsing stores ``1.5``); values compare equal as jsonb.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg
from django.db import transaction
from django.utils import timezone

from metering.exceptions import UsageImportFailed
from metering.ingest import (
    CLOCK_SKEW,
    MARK_LATE_CTE,
    MAX_EVENT_BYTES,
    Rejected,
    _raw_cursor,
    accounts_resolve,
    events_insert,
    meters_resolve,
    validate_event,
)

ROUND_LINES = 200_000
BLOCK_BYTES = 1 << 20
CSV_FIXED = ("account", "id", "meter", "timestamp")
# Python's compact JSON of a property value is at most this many times longer than its source
# text (1e15 becomes 1000000000000000.0; a control character becomes \u00XX): staged rows
# shorter than MAX_EVENT_BYTES / factor cannot exceed the limit, longer ones go to Python.
_NDJSON_SMALL = MAX_EVENT_BYTES * 2 // 9
_CELL_EXPANSION = 6

_SETUP_SQL = """
SET LOCAL work_mem = '256MB';
SET LOCAL extra_float_digits = 1;
CREATE OR REPLACE FUNCTION pg_temp.metering_import_jsonb(text) RETURNS jsonb
    LANGUAGE sql IMMUTABLE AS 'SELECT $1::jsonb';
CREATE OR REPLACE FUNCTION pg_temp.metering_import_tstz(text) RETURNS timestamptz
    LANGUAGE sql STABLE AS 'SELECT $1::timestamptz';
CREATE OR REPLACE FUNCTION pg_temp.metering_import_numeric(text) RETURNS numeric
    LANGUAGE sql IMMUTABLE AS 'SELECT $1::numeric';
CREATE OR REPLACE FUNCTION pg_temp.metering_import_numeric_safe(value text) RETURNS numeric
    LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN RETURN value::numeric; EXCEPTION WHEN data_exception THEN RETURN NULL; END $$;
CREATE OR REPLACE FUNCTION pg_temp.metering_import_jsonb_safe(value text) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN RETURN value::jsonb; EXCEPTION WHEN data_exception THEN RETURN NULL; END $$;
CREATE OR REPLACE FUNCTION pg_temp.metering_import_tstz_safe(value text) RETURNS timestamptz
    LANGUAGE plpgsql STABLE AS $$
BEGIN RETURN value::timestamptz; EXCEPTION WHEN data_exception THEN RETURN NULL; END $$;
"""

# ``{fields}`` yields, per staged row: line, source (returned for rows that are not stored),
# small (cannot exceed the size limit), id_type/event_id, account_pk/account_ext, meter_code,
# ts_text and props (NULL when not a JSON object). ``OFFSET 0`` keeps each layer a separate
# plan node so that its expressions (the JSON parse above all) are evaluated once per row.
_SETTLE_SQL = (
    """
WITH f AS (
    {fields}
    OFFSET 0
), r AS (
    SELECT f.line, f.source, f.small, f.props, f.event_id,
           coalesce(a1.id, a2.id) AS account_id,
           coalesce(a1.created_at, a2.created_at) AS account_created_at,
           m.id AS meter_id, m.aggregation, m.value_property, m.unique_property,
           CASE f.id_type
               -- Not blank to Python's str.strip() either: a visible ASCII character first.
               WHEN 'string' THEN ascii(ltrim(f.event_id, e' \t\n\r\f\v')) BETWEEN 33 AND 126
                                  AND length(f.event_id) <= 200
               WHEN 'number' THEN strpos(f.event_id, '.') = 0 AND length(f.event_id) <= 200
               ELSE false
           END AS id_ok,
           -- Shapes that PostgreSQL and Python's datetime.fromisoformat read alike (digits
           -- shown as 9), less 24:00 and leap seconds that only PostgreSQL takes.
           CASE WHEN translate(f.ts_text, '0123456789', '9999999999') = ANY(%(ts_shapes)s)
                THEN CASE WHEN substr(f.ts_text, 12, 2)::int <= 23
                               AND (substr(f.ts_text, 17, 1) <> ':'
                                    OR substr(f.ts_text, 18, 2)::int <= 59)
                          THEN {tstz}(f.ts_text) END
           END AS ts,
           jsonb_typeof(f.props -> m.value_property) AS v_kind,
           f.props ->> m.value_property AS v_text
    FROM f
    LEFT JOIN accounts_account a1 ON a1.id = f.account_pk
    LEFT JOIN accounts_account a2 ON a2.external_id = f.account_ext
    LEFT JOIN metering_meter m ON m.code = f.meter_code
    OFFSET 0
), q AS (
    SELECT r.*,
           CASE r.aggregation
               WHEN 'COUNT' THEN 1
               WHEN 'UNIQUE_COUNT' THEN
                   CASE WHEN coalesce(r.props -> r.unique_property, 'null')
                             NOT IN ('null'::jsonb, '""'::jsonb) THEN 1 END
               -- JSON numbers are floats to the API: integers up to 15 digits are exact
               -- either way, other numbers go through float8, whose shortest text is
               -- Python's repr. Longer integers are left to Python.
               ELSE CASE
                   WHEN r.v_kind = 'number' AND strpos(r.v_text, '.') = 0
                        AND length(r.v_text) <= 15 THEN r.v_text::numeric
                   WHEN r.v_kind = 'number' AND strpos(r.v_text, '.') > 0
                        AND length(r.v_text) <= 40 THEN r.v_text::float8::text::numeric
                   -- What numeric reads, Decimal reads alike (Decimal reads more: "1_000");
                   -- NaN and infinities fail the bounds below.
                   WHEN r.v_kind = 'string' AND length(r.v_text) <= 100
                       THEN {numeric}(r.v_text)
               END
           END AS quantity
    FROM r
    OFFSET 0
), checked AS MATERIALIZED (
    SELECT line, account_id, event_id, meter_id, ts, round(quantity, 12) AS quantity, props,
           ok, CASE WHEN NOT ok THEN source END AS source
    FROM (
        SELECT q.*,
               coalesce(id_ok AND small AND jsonb_typeof(props) = 'object'
                        AND account_id IS NOT NULL
                        AND meter_id IS NOT NULL AND ts IS NOT NULL AND quantity >= 0
                        AND round(quantity, 12) < 1e18 AND ts <= %(latest)s
                        AND ts >= account_created_at, false) AS ok
        FROM q
        OFFSET 0
    ) o
), ins AS (
    INSERT INTO metering_usageevent
        (account_id, event_id, meter_id, ts, quantity, properties, received_at,
         void_reason, voided_by)
    -- In key order (like the API) so that concurrent writers lock rows in the same order; the
    -- first line of a repeated key wins. "C" equality is the index's; its order is cheaper.
    SELECT DISTINCT ON (account_id, event_id COLLATE "C")
           account_id, event_id, meter_id, ts, quantity, props, %(now)s, '', ''
    FROM checked WHERE ok
    ORDER BY account_id, event_id COLLATE "C", line
    {on_conflict}
    RETURNING account_id, meter_id, ts
), """  # noqa: S608 - constant SQL pieces, no input
    + MARK_LATE_CTE
    + """
SELECT NULL::bigint, (SELECT count(*) FROM ins), (SELECT count(*) FROM checked WHERE ok), NULL
UNION ALL
(SELECT line, NULL, NULL, source FROM checked WHERE NOT ok ORDER BY line)
"""
)


def _timestamp_shapes() -> list[str]:
    shapes = []
    for separator in "Tt ":
        for seconds in ["", ":99", *(":99." + "9" * n for n in range(1, 7))]:
            for offset in ("Z", "+99:99", "-99:99", "+9999", "-9999", "+99", "-99"):
                shapes.append(f"9999-99-99{separator}99:99{seconds}{offset}")
    return shapes


_TS_SHAPES = _timestamp_shapes()

_NDJSON_STAGING = """
DROP TABLE IF EXISTS metering_import_lines;
CREATE TEMP TABLE metering_import_lines (
    n bigint GENERATED ALWAYS AS IDENTITY, raw text
) ON COMMIT DROP
"""
# CSV mode with quote and delimiter bytes that JSON text never holds: lines go in verbatim.
_NDJSON_COPY = (
    "COPY metering_import_lines (raw) FROM STDIN (FORMAT csv, DELIMITER e'\\x02', QUOTE e'\\x01')"
)
_NDJSON_FIELDS = """
    SELECT line, source, small, id_type, event_id,
           CASE WHEN ascii(account) BETWEEN 48 AND 57 AND account_type IN ('string', 'number')
                     AND length(account) <= 18 AND ltrim(account, '0123456789') = ''
                THEN account::bigint END AS account_pk,
           CASE WHEN account_type = 'string' AND account LIKE 'ext:_%%'
                THEN substr(account, 5) END AS account_ext,
           CASE WHEN meter_type = 'string' THEN meter END AS meter_code,
           CASE WHEN ts_type = 'string' THEN ts END AS ts_text,
           CASE WHEN coalesce(props_type, 'null') = 'null' THEN '{}'::jsonb
                ELSE doc -> 'properties' END AS props
    FROM (
        SELECT line, source, small, doc,
               jsonb_typeof(doc -> 'id') AS id_type, doc ->> 'id' AS event_id,
               jsonb_typeof(doc -> 'account') AS account_type, doc ->> 'account' AS account,
               jsonb_typeof(doc -> 'meter') AS meter_type, doc ->> 'meter' AS meter,
               jsonb_typeof(doc -> 'timestamp') AS ts_type, doc ->> 'timestamp' AS ts,
               jsonb_typeof(doc -> 'properties') AS props_type
        FROM (
            SELECT %(base)s + n AS line, raw AS source,
                   octet_length(raw) <= {small} AS small,
                   {jsonb}(raw) AS doc
            FROM metering_import_lines
            OFFSET 0
        ) s
        OFFSET 0
    ) k
"""

_CSV_FIELDS = """
    SELECT line, ARRAY[{cells}] AS source, {small} AS small,
           'string' AS id_type, {id} AS event_id,
           CASE WHEN ascii({account}) BETWEEN 48 AND 57 AND length({account}) <= 18
                     AND ltrim({account}, '0123456789') = ''
                THEN {account}::bigint END AS account_pk,
           CASE WHEN {account} LIKE 'ext:_%%' THEN substr({account}, 5) END AS account_ext,
           {meter} AS meter_code, {timestamp} AS ts_text, {props} AS props
    FROM metering_import_rows
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


def usage_import(*, path: str | Path, dry_run: bool = False, now: datetime | None = None):
    """Load a CSV or NDJSON file (by extension). Valid rows are stored; the report says which
    lines were rejected and why. ``dry_run`` does everything, then rolls back."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".ndjson", ".jsonl"):
        raise UsageImportFailed("the file must end in .csv, .ndjson or .jsonl")
    now = now or timezone.now()
    report = ImportReport()
    with transaction.atomic():
        with _raw_cursor() as cursor:
            cursor.execute(_SETUP_SQL)
            run = _Run(cursor, report, now)
            if suffix == ".csv":
                with path.open(newline="", encoding="utf-8") as handle:
                    _load_csv(handle, run)
            else:
                with path.open("rb") as handle:
                    _load_ndjson(handle, run)
        if dry_run:
            transaction.set_rollback(True)
    return report


@dataclass
class _Run:
    cursor: psycopg.Cursor
    report: ImportReport
    now: datetime
    plain: bool = True  # no event of the file has met a stored one yet: no ON CONFLICT needed


# --- NDJSON ------------------------------------------------------------------------------------


def _load_ndjson(handle, run: _Run) -> None:
    cursor = run.cursor
    cursor.execute(_NDJSON_STAGING)
    fields = _NDJSON_FIELDS.replace("{small}", str(_NDJSON_SMALL))
    blocks = _ndjson_blocks(handle)
    base = 0
    while True:
        cursor.execute("TRUNCATE metering_import_lines RESTART IDENTITY")
        written = 0
        with cursor.copy(_NDJSON_COPY) as copy:
            for payload, count in blocks:
                copy.write(payload)
                written += count
                if written >= ROUND_LINES:
                    break
        if not written:
            return
        _check_staged(cursor, written, base)
        _settle(run, fields, {"base": base}, decode=_ndjson_event)
        run.report.lines += written
        base += written


def _ndjson_blocks(handle) -> Iterator[tuple[bytes, int]]:
    """COPY-ready pieces of whole lines and their line counts; a last unterminated line counts."""
    tail = b""
    while data := handle.read(BLOCK_BYTES):
        data = tail + data
        cut = data.rfind(b"\n") + 1
        tail = data[cut:]
        if cut:
            yield _copy_ready(data[:cut])
    if tail:
        yield _copy_ready(tail + b"\n")


_SPECIAL = (b"\r", b"\x00", b"\x01", b"\x02", b"\\.")
_NEWLINE = re.compile(rb"\r\n|\r|\n")


def _copy_ready(block: bytes) -> tuple[bytes, int]:
    if not any(s in block for s in _SPECIAL) and _is_utf8(block):
        return block, block.count(b"\n")
    # Rare: line ends Python reads as such (\r), bytes COPY would take as syntax (the quote and
    # delimiter, a line "\."), or text PostgreSQL cannot hold. Each line is quoted; a line that
    # is not UTF-8 or holds NUL becomes U+FFFD, which is not JSON, so it is reported as such.
    lines = _NEWLINE.split(block)[:-1]
    out = []
    for line in lines:
        try:
            text = line.decode()
        except UnicodeDecodeError:
            text = "\ufffd"
        if "\x00" in text:
            text = "\ufffd"
        out.append("\x01" + text.replace("\x01", "\x01\x01") + "\x01\n")
    return "".join(out).encode(), len(lines)


def _is_utf8(block: bytes) -> bool:
    if block.isascii():
        return True
    try:
        block.decode()
    except UnicodeDecodeError:
        return False
    return True


def _ndjson_event(source: str | None):
    """The API's view of one line: (event, parse error), or None for a blank line."""
    if source is None or not source.strip():
        return None
    try:
        return json.loads(source), None
    except ValueError:
        return None, "the line is not a JSON object"


# --- CSV ---------------------------------------------------------------------------------------


def _load_csv(handle, run: _Run) -> None:
    cursor = run.cursor
    reader = csv.reader(handle)
    try:
        header = next(reader, [])
    except UnicodeDecodeError as exc:
        raise UsageImportFailed("the file is not UTF-8 text") from exc
    missing = [c for c in CSV_FIXED if c not in header]
    if missing:
        raise UsageImportFailed(f"the CSV header lacks the column(s): {', '.join(missing)}")
    width = len(header)
    # As with csv.DictReader, a repeated column name means its last column.
    index = {name: i for i, name in enumerate(header)}
    columns = [f"c{i}" for i in range(width)]
    cursor.execute(
        "DROP TABLE IF EXISTS metering_import_rows; "
        f"CREATE TEMP TABLE metering_import_rows (line bigint, "
        f"{', '.join(c + ' text' for c in columns)}) ON COMMIT DROP"
    )
    copy_sql = (
        f"COPY metering_import_rows (line, {', '.join(columns)}) FROM STDIN "
        f"(FORMAT csv, FORCE_NOT_NULL ({', '.join(columns)}))"
    )
    fields, params = _csv_fields(header, index)
    pad = [""] * width
    while True:
        cursor.execute("TRUNCATE metering_import_rows")
        written = 0
        with cursor.copy(copy_sql) as copy:
            buffer = io.StringIO()
            writerow = csv.writer(buffer, lineterminator="\n").writerow
            try:
                for row in reader:
                    if not row:
                        continue  # csv.DictReader skips blank lines too
                    if len(row) != width:
                        row = (row + pad)[:width]
                    writerow((reader.line_num, *row))
                    written += 1
                    if written % 10_000 == 0:
                        copy.write(_csv_payload(buffer))
                        buffer = io.StringIO()
                        writerow = csv.writer(buffer, lineterminator="\n").writerow
                    if written >= ROUND_LINES:
                        break
            except UnicodeDecodeError as exc:
                raise UsageImportFailed(
                    f"the file is not UTF-8 text (after line {reader.line_num})"
                ) from exc
            copy.write(_csv_payload(buffer))
        if not written:
            return
        _check_staged(cursor, written, None)
        _settle(run, fields, params, decode=lambda cells: _csv_event(cells, index))
        run.report.lines += written


def _csv_payload(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    if "\x00" in text:
        raise UsageImportFailed("the file holds NUL characters, which cannot be stored")
    return text


def _csv_fields(header: list[str], index: dict[str, int]) -> tuple[str, dict]:
    def col(name):
        return f"c{index[name]}"

    cells = ", ".join(f"c{i}" for i in range(len(header)))
    if "properties" in index:
        # An empty cell means no properties; what is not a JSON object is left to Python.
        props_col = col("properties")
        props = f"{{jsonb}}(CASE WHEN {props_col} = '' THEN '{{}}' ELSE {props_col} END)"
        small = f"octet_length({props_col}) <= {_NDJSON_SMALL}"
        params = {}
    else:
        extra = [name for name in index if name not in CSV_FIXED]
        if extra:
            values = ", ".join(f"nullif({col(name)}, '')" for name in extra)
            props = f"jsonb_strip_nulls(jsonb_object(%(keys)s::text[], ARRAY[{values}]))"
            overhead = len(json.dumps(dict.fromkeys(extra, ""), separators=(",", ":")))
            budget = (MAX_EVENT_BYTES - overhead) // _CELL_EXPANSION
            small = f"({' + '.join(f'octet_length({col(n)})' for n in extra)}) <= {budget}"
        else:
            props, small = "'{}'::jsonb", "true"
        params = {"keys": extra}
    sql = _CSV_FIELDS.format(
        cells=cells,
        small=small,
        id=col("id"),
        account=col("account"),
        meter=col("meter"),
        timestamp=col("timestamp"),
        props=props,
    )
    return sql, params


def _csv_event(cells: list[str], index: dict[str, int]) -> tuple[object, str | None]:
    """The API's view of one CSV row, as the importer has always built it."""
    row = {name: cells[i] for name, i in index.items()}
    if "properties" in index:
        try:
            properties = json.loads(row["properties"] or "{}")
        except ValueError:
            return {"id": row.get("id"), "properties": None}, "properties is not JSON"
    else:
        # Every other column is a property; empty cells are absent.
        properties = {c: v for c, v in row.items() if c not in CSV_FIXED and v != ""}
    event = {
        "account": row["account"],
        "id": row["id"],
        "meter": row["meter"],
        "timestamp": row["timestamp"],
        "properties": properties,
    }
    return event, None


# --- both --------------------------------------------------------------------------------------


def _check_staged(cursor, written: int, base: int | None) -> None:
    if cursor.rowcount != written:
        where = f" after line {base}" if base is not None else ""
        raise UsageImportFailed(
            f"staging took {cursor.rowcount} of {written} lines{where}; nothing was stored"
        )


def _settle(run: _Run, fields: str, params: dict, *, decode) -> None:
    """Check and store the staged round; judge the rows SQL did not accept in Python."""
    params = {
        **params,
        "now": run.now,
        "latest": run.now + CLOCK_SKEW,
        "ts_shapes": _TS_SHAPES,
    }
    # First try: plain casts (a bad value fails the statement) and a plain INSERT, which is
    # cheaper than a speculative ON CONFLICT insertion. A data error means this round needs the
    # NULL-on-error casts; a unique violation means some event exists already (a re-run, or
    # the API storing it meanwhile), and from then on ON CONFLICT DO NOTHING decides.
    safe = False
    while True:
        try:
            with transaction.atomic():
                rows = _run_settle(run.cursor, fields, params, safe=safe, plain=run.plain)
            break
        except psycopg.errors.DataError:
            if safe:
                raise
            safe = True
        except psycopg.errors.UniqueViolation:
            if not run.plain:
                raise
            run.plain = False
    staged = []
    for line, inserted, valid, source in rows:
        if line is None:  # the summary row
            run.report.accepted += inserted
            run.report.duplicate += valid - inserted
        else:
            staged.append((line, source))
    if staged:
        _judge(run, staged, decode)


def _run_settle(cursor, fields: str, params: dict, *, safe: bool, plain: bool) -> list[tuple]:
    suffix = "_safe" if safe else ""
    sql = _SETTLE_SQL.format(
        fields=fields.replace("{jsonb}", f"pg_temp.metering_import_jsonb{suffix}"),
        tstz=f"pg_temp.metering_import_tstz{suffix}",
        numeric=f"pg_temp.metering_import_numeric{suffix}",
        on_conflict="" if plain else "ON CONFLICT (account_id, event_id) DO NOTHING",
    )
    cursor.execute(sql, params)
    return cursor.fetchall()


def _judge(run: _Run, staged, decode) -> None:
    """The API's verdict on rows the SQL check did not accept."""
    report, now = run.report, run.now
    rejected, events = [], []
    for line, source in staged:
        decoded = decode(source)
        if decoded is None:
            report.lines -= 1  # blank
            continue
        raw, error = decoded
        if error:
            rejected.append((line, "invalid_event", error))
        else:
            events.append((line, raw))
    dicts = [raw for _, raw in events if isinstance(raw, dict)]
    accounts = accounts_resolve(r.get("account") for r in dicts)
    meters = meters_resolve(r.get("meter") for r in dicts)
    valid, seen, repeated = [], set(), 0
    for line, raw in events:
        try:
            event = validate_event(raw, accounts=accounts, meters=meters, now=now)
        except Rejected as exc:
            rejected.append((line, exc.code, exc.detail))
            continue
        key = (event.account_id, event.event_id)
        if key in seen:
            repeated += 1
        else:
            seen.add(key)
            valid.append(event)
    report.rejected.extend(sorted(rejected))
    inserted = len(events_insert(valid, now=now))
    report.accepted += inserted
    report.duplicate += len(valid) - inserted + repeated
