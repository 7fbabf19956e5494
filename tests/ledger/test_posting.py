import datetime as dt

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.money import Money
from ledger import chart
from ledger.exceptions import (
    AlreadyReversed,
    IdempotencyKeyReused,
    InvalidJournalLine,
    ReversalOfReversal,
    UnbalancedEntry,
    UnknownChartKind,
    UnknownLedgerAccount,
)
from ledger.models import JournalEntry, JournalLine, LedgerAccount
from ledger.selectors import trial_balance
from ledger.services import LineSpec, journal_post, journal_reverse

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 3, 1)


def _post(lines, key="k-1", **extra):
    return journal_post(
        entry_date=DAY,
        memo="Invoice RE-2026-000001",
        lines=lines,
        document_type="invoice",
        document_id="1",
        idempotency_key=key,
        **extra,
    )


def test_chart_codes_are_skr03_and_created_on_demand():
    assert chart.code("receivables") == "1400"
    assert chart.code("psp_clearing", provider="stripe") == "1361"
    assert chart.code("psp_clearing", provider="braintree") == "1362"
    assert chart.code("revenue") == "8400"
    first = chart.code("revenue", product="storage")
    second = chart.code("revenue", product="compute")
    assert first != second and {first, second} <= {str(n) for n in range(8401, 8500)}
    assert chart.code("revenue", product="storage") == first  # remembered
    assert LedgerAccount.objects.get(code=first).type == "revenue"
    with pytest.raises(UnknownChartKind):
        chart.code("petty_cash")
    with pytest.raises(UnknownChartKind):
        chart.code("psp_clearing")


def test_balanced_entry_is_posted(codes):
    entry = _post(
        [
            LineSpec(codes["receivables"], debit_minor=11900, currency="EUR"),
            LineSpec(codes["revenue"], credit_minor=10000, currency="EUR", tax_code="DE19"),
            LineSpec(codes["vat"], credit_minor=1900, currency="EUR", tax_code="DE19"),
        ],
        document_number="RE-2026-000001",
    )
    assert entry.lines.count() == 3
    assert entry.document_number == "RE-2026-000001"
    assert set(entry.lines.values_list("open_item", flat=True)) == {"invoice:1"}


def test_unbalanced_entry_is_refused_and_nothing_written(codes):
    with pytest.raises(UnbalancedEntry) as info:
        _post(
            [
                LineSpec(codes["receivables"], debit_minor=11900, currency="EUR"),
                LineSpec(codes["revenue"], credit_minor=10000, currency="EUR"),
                LineSpec(codes["bank"], debit_minor=500, currency="USD"),
                LineSpec(codes["revenue"], credit_minor=500, currency="EUR"),
            ]
        )
    assert info.value.extra["differences"] == {"EUR": 1400, "USD": 500}
    assert not JournalEntry.objects.exists() and not JournalLine.objects.exists()


def test_balanced_in_sum_but_not_per_currency_is_refused(codes):
    with pytest.raises(UnbalancedEntry):
        _post(
            [
                LineSpec(codes["bank"], debit_minor=1000, currency="EUR"),
                LineSpec(codes["revenue"], credit_minor=1000, currency="USD"),
            ]
        )
    assert not JournalEntry.objects.exists()


@pytest.mark.parametrize(
    "lines",
    [
        [("1400", -5, 0, "EUR"), ("8400", 0, -5, "EUR")],
        [("1400", 5, 5, "EUR"), ("8400", 5, 5, "EUR")],
        [("1400", 0, 0, "EUR"), ("8400", 0, 0, "EUR")],
        [("1400", 5, 0, "XXY"), ("8400", 0, 5, "XXY")],
        [("1400", 5, 0, "eur"), ("8400", 0, 5, "eur")],
        [("1400", True, 0, "EUR"), ("8400", 0, True, "EUR")],
        [("1400", 5, 0, "EUR")],
    ],
)
def test_malformed_lines_are_refused(codes, lines):
    with pytest.raises(InvalidJournalLine):
        _post([LineSpec(a, debit_minor=d, credit_minor=c, currency=cur) for a, d, c, cur in lines])
    assert not JournalEntry.objects.exists()


def test_unknown_account_is_refused(codes):
    with pytest.raises(UnknownLedgerAccount):
        _post(
            [
                LineSpec("9999", debit_minor=100, currency="EUR"),
                LineSpec(codes["revenue"], credit_minor=100, currency="EUR"),
            ]
        )
    assert not JournalEntry.objects.exists()


def test_same_key_returns_the_first_entry_and_posts_nothing(codes):
    lines = [
        LineSpec(codes["receivables"], debit_minor=500, currency="EUR"),
        LineSpec(codes["revenue"], credit_minor=500, currency="EUR"),
    ]
    first = _post(lines, key="invoice-finalized:1")
    again = _post(lines, key="invoice-finalized:1")
    assert again.pk == first.pk
    assert JournalEntry.objects.count() == 1 and JournalLine.objects.count() == 2
    with pytest.raises(IdempotencyKeyReused):
        _post(
            [
                LineSpec(codes["receivables"], debit_minor=600, currency="EUR"),
                LineSpec(codes["revenue"], credit_minor=600, currency="EUR"),
            ],
            key="invoice-finalized:1",
        )
    assert JournalLine.objects.count() == 2


def test_reversal_mirrors_the_entry_once(codes):
    entry = _post(
        [
            LineSpec(codes["receivables"], debit_minor=11900, currency="EUR"),
            LineSpec(codes["revenue"], credit_minor=10000, currency="EUR", tax_code="DE19"),
            LineSpec(codes["vat"], credit_minor=1900, currency="EUR", tax_code="DE19"),
        ]
    )
    reversal = journal_reverse(entry=entry, memo="Invoice voided")
    assert reversal.reversal_of == entry
    assert sorted(reversal.lines.values_list("account__code", "debit_minor", "credit_minor")) == [
        (codes["receivables"], 0, 11900),
        (codes["vat"], 1900, 0),
        (codes["revenue"], 10000, 0),
    ]
    assert journal_reverse(entry=entry).pk == reversal.pk  # retried: same reversal
    with pytest.raises(AlreadyReversed):
        journal_reverse(entry=entry, idempotency_key="another")
    with pytest.raises(ReversalOfReversal):
        journal_reverse(entry=reversal)
    tb = trial_balance()
    assert all(row.balance_minor == 0 for row in tb.rows)


# --------------------------------------------------------------------------- property

ACCOUNT_KINDS = ["receivables", "bank", "vat_payable", "customer_credit", "psp_fees", "refunds"]
CURRENCIES = ["EUR", "JPY", "KWD", "USD"]


@st.composite
def balanced_postings(draw):
    currency_count = draw(st.integers(1, 2))
    currencies = draw(
        st.lists(
            st.sampled_from(CURRENCIES),
            min_size=currency_count,
            max_size=currency_count,
            unique=True,
        )
    )
    lines = []
    for currency in currencies:
        debits = draw(st.lists(st.integers(1, 10**9), min_size=1, max_size=3))
        ratios = draw(st.lists(st.integers(1, 100), min_size=1, max_size=3))
        credits = [p.minor for p in Money(sum(debits), currency).allocate(ratios) if p.minor]
        for amount in debits:
            lines.append((draw(st.sampled_from(ACCOUNT_KINDS)), amount, 0, currency))
        for amount in credits:
            lines.append((draw(st.sampled_from(ACCOUNT_KINDS)), 0, amount, currency))
    return draw(st.permutations(lines)), draw(st.booleans())


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(balanced_postings(), min_size=1, max_size=6))
def test_random_balanced_postings_keep_the_books_balanced(codes, postings):
    with transaction.atomic():
        expected: dict[tuple[str, str], int] = {}
        entries = []
        for index, (lines, reverse) in enumerate(postings):
            specs = [
                LineSpec(chart.code(kind), debit_minor=d, credit_minor=c, currency=cur)
                for kind, d, c, cur in lines
            ]
            entry = journal_post(
                entry_date=DAY,
                memo="random",
                lines=specs,
                document_type="test",
                document_id=str(index),
                idempotency_key=f"prop:{index}",
            )
            entries.append(entry)
            for spec in specs:
                key = (spec.account, spec.currency)
                expected[key] = expected.get(key, 0) + spec.debit_minor - spec.credit_minor
            if reverse:
                entries.append(journal_reverse(entry=entry))
                for spec in specs:
                    key = (spec.account, spec.currency)
                    expected[key] -= spec.debit_minor - spec.credit_minor

        for entry in entries:
            per_currency: dict[str, int] = {}
            for line in entry.lines.all():
                per_currency[line.currency] = (
                    per_currency.get(line.currency, 0) + line.debit_minor - line.credit_minor
                )
            assert set(per_currency.values()) == {0}

        tb = trial_balance()
        assert tb.is_balanced
        for currency, totals in tb.totals.items():
            assert totals.difference_minor == 0, currency
            assert sum(r.balance_minor for r in tb.rows if r.currency == currency) == 0
        assert {(r.account_code, r.currency): r.balance_minor for r in tb.rows} == expected
        # The database's own commit-time balance check agrees.
        with connection.cursor() as cur:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        transaction.set_rollback(True)
