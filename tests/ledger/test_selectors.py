import datetime as dt

import pytest
import time_machine

from ledger.selectors import account_statement, receivables_aging, trial_balance

pytestmark = pytest.mark.django_db


def _invoice(post, codes, doc, amount, day, party="account:1", currency="EUR"):
    return post(
        doc,
        [(codes["receivables"], amount, 0, currency), (codes["revenue"], 0, amount, currency)],
        entry_date=day,
        party=party,
    )


def _payment(post, codes, doc, invoice, amount, day, currency="EUR"):
    return post(
        doc,
        [(codes["stripe"], amount, 0, currency), (codes["receivables"], 0, amount, currency)],
        entry_date=day,
        document_type="payment",
        open_item=f"invoice:{invoice}",
    )


def test_aging_buckets_by_days_since_invoice(post, codes):
    today = dt.date(2026, 6, 30)
    _invoice(post, codes, "a", 10000, today - dt.timedelta(days=0))
    _invoice(post, codes, "b", 20000, today - dt.timedelta(days=30))  # edge: still 0-30
    _invoice(post, codes, "c", 30000, today - dt.timedelta(days=31))
    _invoice(post, codes, "d", 40000, today - dt.timedelta(days=61))
    _invoice(post, codes, "e", 50000, today - dt.timedelta(days=90))  # edge: 61-90
    _invoice(post, codes, "f", 60000, today - dt.timedelta(days=91))
    _invoice(post, codes, "g", 70000, today - dt.timedelta(days=200), party="account:2")
    # f is half paid, c fully paid, a payment for another currency's invoice does not mix in
    _payment(post, codes, "p1", "f", 25000, today - dt.timedelta(days=5))
    _payment(post, codes, "p2", "c", 30000, today - dt.timedelta(days=1))
    _invoice(post, codes, "h", 900, today - dt.timedelta(days=45), currency="JPY")

    with time_machine.travel(dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC), tick=False):
        aging = receivables_aging()  # as_of defaults to today

    rows = {(r.party, r.currency): r.buckets for r in aging.rows}
    assert rows[("account:1", "EUR")] == {
        "0-30": 30000,
        "31-60": 0,
        "61-90": 90000,
        "90+": 35000,
    }
    assert rows[("account:2", "EUR")] == {"0-30": 0, "31-60": 0, "61-90": 0, "90+": 70000}
    assert rows[("account:1", "JPY")]["31-60"] == 900
    assert "invoice:c" not in {i.open_item for i in aging.items}


def test_aging_as_of_a_past_date_ignores_later_postings(post, codes):
    _invoice(post, codes, "a", 10000, dt.date(2026, 1, 1))
    _payment(post, codes, "p", "a", 10000, dt.date(2026, 3, 1))
    before = receivables_aging(as_of=dt.date(2026, 2, 15))
    assert [(i.open_item, i.outstanding_minor, i.bucket) for i in before.items] == [
        ("invoice:a", 10000, "31-60")
    ]
    assert receivables_aging(as_of=dt.date(2026, 3, 1)).items == []


def test_aging_uses_due_dates_when_given(post, codes):
    _invoice(post, codes, "a", 10000, dt.date(2026, 1, 1))
    aging = receivables_aging(
        as_of=dt.date(2026, 3, 1), due_dates={"invoice:a": dt.date(2026, 2, 15)}
    )
    assert aging.items[0].days == 14 and aging.items[0].bucket == "0-30"


def test_statement_running_balance(post, codes):
    _invoice(post, codes, "old", 5000, dt.date(2026, 1, 10))
    _invoice(post, codes, "a", 10000, dt.date(2026, 2, 1))
    _payment(post, codes, "p", "a", 4000, dt.date(2026, 2, 10))
    _invoice(post, codes, "later", 999, dt.date(2026, 3, 5))
    statement = account_statement(
        account_code=codes["receivables"], start=dt.date(2026, 2, 1), end=dt.date(2026, 2, 28)
    )
    assert statement.opening == {"EUR": 5000}
    assert [(ln.debit_minor, ln.credit_minor, ln.balance_minor) for ln in statement.lines] == [
        (10000, 0, 15000),
        (0, 4000, 11000),
    ]
    assert statement.closing == {"EUR": 11000}
    revenue = account_statement(
        account_code=codes["revenue"], start=dt.date(2026, 1, 1), end=dt.date(2026, 12, 31)
    )
    assert revenue.closing == {"EUR": 15999}  # a credit-normal account grows with credits


def test_trial_balance_as_of(post, codes):
    _invoice(post, codes, "a", 10000, dt.date(2026, 1, 10))
    _invoice(post, codes, "b", 700, dt.date(2026, 2, 10), currency="KWD")
    january = trial_balance(as_of=dt.date(2026, 1, 31))
    assert set(january.totals) == {"EUR"}
    full = trial_balance()
    assert full.totals["KWD"].debit_minor == full.totals["KWD"].credit_minor == 700
    assert full.is_balanced
