import csv
import datetime as dt
import io

import pytest
from django.urls import reverse

from ledger.export import journal_rows
from ledger.models import LedgerAccount

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.urls("tests.ledger.urls"),
    pytest.mark.usefixtures("roles_with_ledger"),
]


@pytest.fixture
def books(post, codes):
    post(
        "1",
        [
            (codes["receivables"], 11900, 0, "EUR"),
            (codes["revenue"], 0, 10000, "EUR"),
            (codes["vat"], 0, 1900, "EUR"),
        ],
        number="RE-2026-000001",
        entry_date=dt.date(2026, 3, 2),
    )
    post(
        "2",
        [(codes["receivables"], 120000, 0, "JPY"), (codes["revenue"], 0, 120000, "JPY")],
        number="RE-2026-000002",
        entry_date=dt.date(2026, 3, 3),
    )
    post(
        "3",
        [(codes["receivables"], 12345, 0, "KWD"), (codes["revenue"], 0, 12345, "KWD")],
        number="RE-2026-000003",
        entry_date=dt.date(2026, 3, 4),
    )
    # A PSP payout: gross settles receivables, the fee goes to 4970, net to clearing.
    post(
        "pay-1",
        [
            (codes["stripe"], 11543, 0, "EUR"),
            (codes["fees"], 357, 0, "EUR"),
            (codes["receivables"], 0, 11900, "EUR"),
        ],
        document_type="payment",
        number="=SUM(A1)",
        entry_date=dt.date(2026, 3, 5),
    )
    # Outside the period
    post(
        "4",
        [(codes["receivables"], 100, 0, "EUR"), (codes["revenue"], 0, 100, "EUR")],
        entry_date=dt.date(2026, 4, 1),
    )


def _csv(response):
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_export_streams_one_row_per_debit_credit_pair(client, accountant, books, codes):
    client.force_login(accountant)
    response = client.get(
        reverse("ledger:journal_export"), {"start": "2026-03-01", "end": "2026-03-31"}
    )
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "journal_2026-03-01_2026-03-31.csv" in response["Content-Disposition"]
    rows = _csv(response)
    assert rows[0] == [
        "date",
        "document_number",
        "debit_account",
        "credit_account",
        "amount",
        "currency",
        "tax_code",
        "text",
    ]
    booked = [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows[1:]]
    r, rev, vat = codes["receivables"], codes["revenue"], codes["vat"]
    assert booked == [
        ("2026-03-02", "RE-2026-000001", r, rev, "100.00", "EUR"),
        ("2026-03-02", "RE-2026-000001", r, vat, "19.00", "EUR"),
        ("2026-03-03", "RE-2026-000002", r, rev, "120000", "JPY"),
        ("2026-03-04", "RE-2026-000003", r, rev, "12.345", "KWD"),
        ("2026-03-05", "'=SUM(A1)", codes["stripe"], r, "115.43", "EUR"),
        ("2026-03-05", "'=SUM(A1)", codes["fees"], r, "3.57", "EUR"),
    ]


def test_export_pairs_many_to_many_without_changing_totals(post, codes):
    post(
        "x",
        [
            (codes["bank"], 700, 0, "EUR"),
            (codes["fees"], 300, 0, "EUR"),
            (codes["revenue"], 0, 400, "EUR"),
            (codes["vat"], 0, 600, "EUR"),
        ],
    )
    rows = list(journal_rows(start=dt.date(2026, 1, 1), end=dt.date(2026, 12, 31)))[1:]
    assert [(r[2], r[3], r[4]) for r in rows] == [
        (codes["bank"], codes["revenue"], "4.00"),
        (codes["bank"], codes["vat"], "3.00"),
        (codes["fees"], codes["vat"], "3.00"),
    ]


def test_export_needs_the_permission_and_valid_dates(client, support, accountant):
    client.force_login(support)
    url = reverse("ledger:journal_export")
    assert client.get(url, {"start": "2026-03-01", "end": "2026-03-31"}).status_code == 403
    client.force_login(accountant)
    assert client.get(url).status_code == 200  # the form
    bad = client.get(url, {"start": "2026-03-31", "end": "2026-03-01"})
    assert bad.status_code == 400
    assert b"before the start date" in bad.content
    assert client.get(url, {"start": "yesterday", "end": "2026-03-01"}).status_code == 400


def test_trial_balance_page(client, accountant, support, books):
    client.force_login(support)
    assert client.get(reverse("ledger:trial_balance")).status_code == 403
    client.force_login(accountant)
    response = client.get(reverse("ledger:trial_balance"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Does not balance" not in html
    assert "12.345" in html and "120000" in html and "239.00" in html  # KWD, JPY, EUR totals
    assert "/admin/ledger/journalline/?account__id__exact=" in html
    march = client.get(reverse("ledger:trial_balance"), {"as_of": "2026-03-02"})
    assert "KWD" not in march.content.decode()


def test_admin_lists_entries_read_only(client, accountant, books, codes):
    client.force_login(accountant)
    listing = client.get("/admin/ledger/journalentry/")
    assert listing.status_code == 200
    assert b"RE-2026-000001" in listing.content
    assert client.get("/admin/ledger/journalentry/add/").status_code == 403
    lines = client.get(
        "/admin/ledger/journalline/",
        {
            "account__id__exact": LedgerAccount.objects.get(code=codes["revenue"]).pk,
            "currency__exact": "JPY",
        },
    )
    assert lines.status_code == 200
    assert lines.context["cl"].result_count == 1
