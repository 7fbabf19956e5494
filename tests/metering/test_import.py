"""``usage_import``: per-line report, the API's rules, exactly once, dry run, CSV and NDJSON."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command

from metering import importer
from metering.importer import usage_import
from metering.ingest import Rejected, accounts_resolve, meters_resolve, validate_event
from metering.models import BilledPeriod, Meter, UsageEvent, UsageRecheck

NOW = datetime(2026, 10, 10, tzinfo=UTC)


def ndjson(tmp_path, lines, name="usage.ndjson"):
    path = tmp_path / name
    path.write_bytes(
        b"".join((x if isinstance(x, bytes) else json.dumps(x).encode()) + b"\n" for x in lines)
    )
    return path


def ev(n, account="ext:org_1", meter="cluster_hours", ts="2026-10-05T10:00:00Z", **props):
    return {
        "id": f"evt-{n}",
        "account": account,
        "meter": meter,
        "timestamp": ts,
        "properties": props or {"hours": "1.5"},
    }


@pytest.fixture
def setup_usage(make_account, make_meter):
    account = make_account("org_1")
    make_meter("cluster_hours")
    make_meter("api_calls", aggregation="COUNT")
    make_meter("active_users", aggregation="UNIQUE_COUNT", unique_property="user")
    return account


def stored(account):
    return {e.event_id: e for e in UsageEvent.objects.filter(account=account).order_by("event_id")}


def test_ndjson_reports_each_rejected_line_with_its_reason(tmp_path, setup_usage):
    path = ndjson(
        tmp_path,
        [
            ev(1),
            ev(2, account="ext:nobody"),
            ev(3, meter="no_such_meter"),
            ev(4, other="x"),
            ev(5, hours="lots"),
            ev(6, ts="2026-10-11T00:00:00Z"),
            ev(7, ts="2026-08-01T00:00:00Z"),
            b'{"id": "evt-8", "account": ',
            b"",
            ev(10, hours=2),
        ],
    )

    report = usage_import(path=path, now=NOW)

    assert report.rejected == [
        (2, "unknown_account", "no account 'ext:nobody'"),
        (3, "unknown_meter", "no meter 'no_such_meter'"),
        (4, "missing_quantity", "property 'hours'"),
        (5, "invalid_quantity", "quantity is not a number"),
        (6, "timestamp_in_future", "more than 5 minutes ahead of our clock"),
        (7, "timestamp_before_account", "before the account was created"),
        (8, "invalid_event", "the line is not a JSON object"),
    ]
    assert (report.lines, report.accepted, report.duplicate) == (9, 2, 0)
    events = stored(setup_usage)
    assert sorted(events) == ["evt-1", "evt-10"]
    assert events["evt-1"].quantity == Decimal("1.5")
    assert events["evt-10"].quantity == Decimal(2)
    assert events["evt-1"].ts == datetime(2026, 10, 5, 10, tzinfo=UTC)
    assert events["evt-1"].properties == {"hours": "1.5"}


# Events at the edges of what the SQL check decides itself; each must end exactly as the API's
# validator says: same code and detail, or stored with the same quantity and timestamp.
EDGE_CASES = [
    {"hours": 0.1},
    {"hours": 1.5e-13},
    {"hours": 123456789.123456789},
    {"hours": 12345678901234567},
    {"hours": "1e3"},
    {"hours": " 2.5 "},
    {"hours": "1_000"},
    {"hours": "NaN"},
    {"hours": "Infinity"},
    {"hours": "-1"},
    {"hours": -0.0},
    {"hours": "1e18"},
    {"hours": True},
    {"hours": None},
    {"hours": [1]},
    {"hours": "0.0000000000005"},
]
EDGE_EVENTS = [
    ev("ts-hour-only", ts="2026-10-05T10Z"),
    ev("ts-basic", ts="20261005T100000Z"),
    ev("ts-offset", ts="2026-10-05T10:00:00.1234567+05:30"),
    ev("ts-comma", ts="2026-10-05T10:00:00,5Z"),
    ev("ts-24", ts="2026-10-05T24:00:00Z"),
    ev("ts-leap", ts="2026-10-05T10:00:60Z"),
    ev("ts-feb30", ts="2026-02-30T10:00:00Z"),
    ev("ts-lower-z", ts="2026-10-05T10:00:00z"),
    ev("ts-naive", ts="2026-10-05T10:00:00"),
    ev("ts-number", ts=1760000000),
    ev("ts-space", ts="2026-10-05 10:00:00+02"),
    {**ev("props-null"), "properties": None, "meter": "api_calls"},
    {**ev("props-list"), "properties": [1]},
    {**ev("id-int"), "id": 42},
    {**ev("id-float"), "id": 4.5},
    {**ev("id-blank"), "id": " \t"},
    {**ev("id-long"), "id": "x" * 201},
    {**ev("meter-number"), "meter": 5},
    {**ev("account-missing"), "account": ""},
    {**ev("account-ext-empty"), "account": "ext:"},
    ev("count", meter="api_calls", anything="x"),
    ev("unique-missing", meter="active_users", user=""),
    ev("unique", meter="active_users", user="u1"),
    ev("big", hours="1", blob="é" * 9000),
    [1, 2],
    "just a string",
] + [ev(f"q{i}", **props) for i, props in enumerate(EDGE_CASES)]


def test_every_line_ends_as_the_api_validator_says(tmp_path, setup_usage, make_account):
    by_pk = make_account("org_2")
    # A float to the API, a 17-digit integer to jsonb: the API's float rounding must win.
    exponent = json.dumps(ev("exp", hours=0)).replace(
        '"hours": 0', '"hours": 1.2345678901234567e16'
    )
    lines = [*EDGE_EVENTS, ev("pk", account=by_pk.pk), ev("pk-str", account=str(by_pk.pk))]
    lines.append(exponent.encode())
    path = ndjson(tmp_path, lines)
    events = [json.loads(x) if isinstance(x, bytes) else x for x in lines]

    report = usage_import(path=path, now=NOW)

    accounts = accounts_resolve(e.get("account") for e in events if isinstance(e, dict))
    meters = meters_resolve(e.get("meter") for e in events if isinstance(e, dict))
    got_rejected = {line: (code, detail) for line, code, detail in report.rejected}
    stored_events = {(e.account_id, e.event_id): e for e in UsageEvent.objects.all()}
    for line, raw in enumerate(events, start=1):
        try:
            expected = validate_event(raw, accounts=accounts, meters=meters, now=NOW)
        except Rejected as exc:
            assert got_rejected.get(line) == (exc.code, exc.detail), (line, raw)
            continue
        assert line not in got_rejected, (line, raw, got_rejected.get(line))
        event = stored_events[(expected.account_id, expected.event_id)]
        assert (event.quantity, event.ts, event.meter_id) == (
            expected.quantity,
            expected.ts,
            expected.meter_id,
        ), (line, raw)
    assert report.accepted == len(stored_events)
    assert report.accepted + report.rejected_count == len(events)


def test_duplicates_within_the_file_and_against_stored_events(tmp_path, setup_usage):
    usage_import(path=ndjson(tmp_path, [ev(1), ev(2)], "first.ndjson"), now=NOW)
    path = ndjson(
        tmp_path,
        [ev(1, hours="9"), ev(3, hours="3"), ev(3, hours="4"), ev(2), ev(4, hours="x")],
    )

    report = usage_import(path=path, now=NOW)

    assert (report.accepted, report.duplicate, report.rejected_count) == (1, 3, 1)
    events = stored(setup_usage)
    assert sorted(events) == ["evt-1", "evt-2", "evt-3"]
    assert events["evt-1"].quantity == Decimal("1.5")  # the stored event is not replaced
    assert events["evt-3"].quantity == Decimal(3)  # the first line of a repeated id wins


def test_running_the_same_file_again_stores_nothing_twice(tmp_path, setup_usage):
    path = ndjson(tmp_path, [ev(n, hours=str(n)) for n in range(50)])
    first = usage_import(path=path, now=NOW)
    again = usage_import(path=path, now=NOW)

    assert (first.accepted, first.duplicate) == (50, 0)
    assert (again.accepted, again.duplicate) == (0, 50)
    assert UsageEvent.objects.count() == 50


def test_rounds_keep_line_numbers_and_first_line_wins_across_rounds(
    tmp_path, setup_usage, monkeypatch
):
    monkeypatch.setattr(importer, "ROUND_LINES", 3)
    monkeypatch.setattr(importer, "BLOCK_BYTES", 64)
    lines = [ev(n, hours=str(n)) for n in range(1, 8)]
    lines[5] = ev(2, hours="99")  # line 6 repeats the id of line 2, two rounds later
    lines.insert(4, ev(9, meter="nope"))  # line 5
    path = ndjson(tmp_path, lines)

    report = usage_import(path=path, now=NOW)

    assert report.rejected == [(5, "unknown_meter", "no meter 'nope'")]
    assert (report.lines, report.accepted, report.duplicate) == (8, 6, 1)
    assert stored(setup_usage)["evt-2"].quantity == Decimal(2)


def test_dry_run_counts_like_a_real_run_and_stores_nothing(tmp_path, setup_usage):
    usage_import(path=ndjson(tmp_path, [ev(1)], "first.ndjson"), now=NOW)
    path = ndjson(tmp_path, [ev(1), ev(2), ev(2), ev(3, meter="nope")])

    dry = usage_import(path=path, dry_run=True, now=NOW)

    assert (dry.accepted, dry.duplicate, dry.rejected_count) == (1, 2, 1)
    assert sorted(stored(setup_usage)) == ["evt-1"]
    real = usage_import(path=path, now=NOW)
    assert (real.accepted, real.duplicate, real.rejected_count) == (1, 2, 1)


def test_odd_bytes_and_line_ends_keep_line_numbers(tmp_path, setup_usage):
    path = tmp_path / "odd.ndjson"
    path.write_bytes(
        json.dumps(ev(1)).encode()
        + b"\r\n\\.\r\n"
        + b'{"id": "evt-\xff"}\r\n'
        + json.dumps(ev("\x01q\x02")).encode()
        + b"\r"
        + json.dumps(ev(5)).encode()  # no final line end
    )

    report = usage_import(path=path, now=NOW)

    assert report.rejected == [
        (2, "invalid_event", "the line is not a JSON object"),
        (3, "invalid_event", "the line is not a JSON object"),
    ]
    assert (report.lines, report.accepted) == (5, 3)
    assert set(stored(setup_usage)) == {"evt-1", "evt-5", "evt-\x01q\x02"}


def test_csv_with_property_columns(tmp_path, setup_usage):
    path = tmp_path / "usage.csv"
    path.write_text(
        "account,id,meter,timestamp,hours,region\n"
        "ext:org_1,a1,cluster_hours,2026-10-05T10:00:00Z,2.5,eu-west\n"
        "\n"
        "ext:org_1,a2,cluster_hours,2026-10-05T10:00:00Z,,eu-west\n"
        'ext:org_1,a3,cluster_hours,2026-10-05T10:00:00Z,"1,5",\n'
        "ext:org_1,a1,cluster_hours,2026-10-05T11:00:00Z,7,\n"
        "ext:org_1,a4,api_calls,2026-10-05T10:00:00Z\n"
        "ext:org_9,a5,cluster_hours,2026-10-05T10:00:00Z,1,\n",
        encoding="utf-8",
    )

    report = usage_import(path=path, now=NOW)

    assert report.rejected == [
        (4, "missing_quantity", "property 'hours'"),
        (5, "invalid_quantity", "quantity is not a number"),
        (8, "unknown_account", "no account 'ext:org_9'"),
    ]
    assert (report.lines, report.accepted, report.duplicate) == (6, 2, 1)
    events = stored(setup_usage)
    assert events["a1"].properties == {"hours": "2.5", "region": "eu-west"}
    assert events["a1"].quantity == Decimal("2.5")
    assert events["a4"].properties == {}


def test_csv_with_a_properties_column(tmp_path, setup_usage):
    path = tmp_path / "usage.csv"
    path.write_text(
        "id,account,meter,timestamp,properties\n"
        'b1,ext:org_1,cluster_hours,2026-10-05T10:00:00Z,"{""hours"": 3}"\n'
        "b2,ext:org_1,cluster_hours,2026-10-05T10:00:00Z,{not json\n"
        'b3,ext:org_1,cluster_hours,2026-10-05T10:00:00Z,"[1]"\n'
        "b4,ext:org_1,api_calls,2026-10-05T10:00:00Z,\n",
        encoding="utf-8",
    )

    report = usage_import(path=path, now=NOW)

    assert report.rejected == [
        (3, "invalid_event", "properties is not JSON"),
        (4, "invalid_event", "properties must be a JSON object"),
    ]
    assert sorted(stored(setup_usage)) == ["b1", "b4"]
    assert stored(setup_usage)["b1"].quantity == Decimal(3)


def test_late_event_in_a_billed_period_is_marked_for_recheck(tmp_path, setup_usage):
    meter = Meter.objects.get(code="cluster_hours")
    BilledPeriod.objects.create(
        account=setup_usage,
        meter=meter,
        period_start=datetime(2026, 9, 1, tzinfo=UTC),
        period_end=datetime(2026, 10, 1, tzinfo=UTC),
    )
    path = ndjson(tmp_path, [ev(1, ts="2026-09-15T00:00:00Z"), ev(2)])

    usage_import(path=path, now=NOW)

    marker = UsageRecheck.objects.get(account=setup_usage, meter=meter)
    assert marker.period_start == datetime(2026, 9, 1, tzinfo=UTC)


def test_command_prints_rejected_lines_and_the_summary(tmp_path, setup_usage, capsys):
    path = ndjson(tmp_path, [ev(1), ev(2, meter="nope"), ev(1)])

    call_command("usage_import", str(path), "--dry-run")

    out = capsys.readouterr().out
    assert "line 2: rejected unknown_meter: no meter 'nope'" in out
    assert "3 lines: 1 accepted, 1 duplicate, 1 rejected" in out
    assert "(dry run: nothing stored)" in out
    assert not UsageEvent.objects.exists()
