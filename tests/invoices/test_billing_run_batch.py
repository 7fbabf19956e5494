"""The billing run writes invoices a wave at a time: the same invoices, usage billed once,
gap-free numbers, whole waves or nothing, and one bad invoice does not stop the others."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection

from invoices import billing, billing_batch
from invoices.models import CustomerCreditTransaction, Invoice, InvoiceLine
from invoices.services import billing_run
from ledger.models import JournalEntry, JournalLine
from metering.models import BilledPeriod, UsageBilled, UsageRecheck
from tests.invoices import test_billing_run as single

# The fixtures of the one-at-a-time tests: five subscriptions, January usage for each.
plan, subscriptions = single.plan, single.subscriptions
RUN_NOW = single.RUN_NOW
FEB = dt.date(2026, 2, 1)
JAN = (dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 2, 1, tzinfo=dt.UTC))
FEB_PERIOD = (JAN[1], dt.datetime(2026, 3, 1, tzinfo=dt.UTC))


def _sequences():
    return sorted(Invoice.objects.values_list("sequence", flat=True))


def _comparable(line):
    aggregation = {k: v for k, v in line.aggregation.items() if k != "computed_at"}
    return (
        line.description,
        line.price_id,
        line.meter_code,
        line.period_start,
        line.period_end,
        line.quantity,
        line.unit_amount,
        line.amount_minor,
        line.event_count,
        line.is_adjustment,
        aggregation,
    )


def test_usage_for_many_subscriptions_matches_one_at_a_time(subscriptions):
    from metering.services import (
        usage_events_ingest,
        usage_events_void,
        usage_lines_for,
        usage_lines_for_many,
        usage_mark_billed_many,
    )

    january = usage_lines_for_many(items=[(sub, *JAN) for sub in subscriptions])
    assert [[_comparable(ln) for ln in lines] for lines in january] == [
        [
            _comparable(ln)
            for ln in usage_lines_for(subscription=sub, period_start=JAN[0], period_end=JAN[1])
        ]
        for sub in subscriptions
    ]
    usage_mark_billed_many(
        items=[
            (sub, lines, 100 + i)
            for i, (sub, lines) in enumerate(zip(subscriptions, january, strict=True))
        ]
    )
    assert UsageBilled.objects.count() == 5
    assert BilledPeriod.objects.filter(period_start=JAN[0]).count() == 5
    assert UsageRecheck.objects.filter(period_start=JAN[0], hits=0).count() == 5

    # January changes after it was billed: a late event for one customer, a void for another.
    late, voided = subscriptions[0].account, subscriptions[3].account
    usage_events_ingest(
        events=[
            {
                "id": "late",
                "account": late.pk,
                "meter": "cluster_hours",
                "timestamp": "2026-01-31T23:00:00Z",
                "properties": {"hours": "7"},
            },
            {
                "id": "feb",
                "account": late.pk,
                "meter": "cluster_hours",
                "timestamp": "2026-02-03T10:00:00Z",
                "properties": {"hours": "2"},
            },
        ]
    )
    usage_events_void(events=[{"account": voided.pk, "id": "e3-0"}], reason="duplicate", actor="t")

    february = usage_lines_for_many(items=[(sub, *FEB_PERIOD) for sub in subscriptions])
    single = [
        usage_lines_for(subscription=sub, period_start=FEB_PERIOD[0], period_end=FEB_PERIOD[1])
        for sub in subscriptions
    ]
    assert [[_comparable(ln) for ln in lines] for lines in february] == [
        [_comparable(ln) for ln in lines] for lines in single
    ]
    adjustments = {
        sub.account_id: [(ln.quantity, ln.amount_minor) for ln in lines if ln.is_adjustment]
        for sub, lines in zip(subscriptions, february, strict=True)
    }
    assert adjustments[late.pk] == [(Decimal(7), 70)]
    assert adjustments[voided.pk] == [(Decimal(-40), -400)]
    assert sum(len(a) for a in adjustments.values()) == 2

    usage_mark_billed_many(
        items=[
            (sub, lines, 200 + i)
            for i, (sub, lines) in enumerate(zip(subscriptions, february, strict=True))
        ]
    )
    # January matches what was billed now for everyone: its markers are gone, February's set.
    assert not UsageRecheck.objects.filter(period_start=JAN[0]).exists()
    assert UsageRecheck.objects.filter(period_start=FEB_PERIOD[0]).count() == 5
    again = usage_lines_for_many(
        items=[
            (sub, FEB_PERIOD[1], dt.datetime(2026, 4, 1, tzinfo=dt.UTC)) for sub in subscriptions
        ]
    )
    assert not [ln for lines in again for ln in lines if ln.is_adjustment]


def test_usage_for_many_takes_each_subscription_once(subscriptions):
    from metering.services import usage_lines_for_many

    with pytest.raises(ValueError, match="once"):
        usage_lines_for_many(items=[(subscriptions[0], *JAN), (subscriptions[0], *FEB_PERIOD)])


def test_a_crash_while_writing_a_wave_leaves_nothing_of_it(subscriptions, monkeypatch):
    class Crash(BaseException):
        pass

    def crashing(**kwargs):
        raise Crash

    monkeypatch.setattr(billing_batch, "_history_record", lambda ids: crashing())
    with pytest.raises(Crash):
        billing_run(as_of=FEB, now=RUN_NOW)
    # The first wave (January's invoices) was rolled back as a whole, numbers included.
    assert not Invoice.objects.exists() and not InvoiceLine.objects.exists()
    assert not JournalEntry.objects.exists() and not UsageBilled.objects.exists()
    monkeypatch.undo()

    result = billing_run(as_of=FEB, now=RUN_NOW)
    assert (result.created, result.skipped, result.errors) == (10, 0, [])
    assert _sequences() == list(range(1, 11))
    assert UsageBilled.objects.count() == 5


def test_a_wave_that_cannot_be_written_is_written_one_by_one(subscriptions, monkeypatch):
    broken = subscriptions[1]
    real = billing.bill_boundary

    def bad_currency(boundary, **kwargs):
        prepared = real(boundary, **kwargs)
        if boundary.subscription.pk == broken.pk:
            prepared.invoice.currency = "eur"  # refused by the database's check constraint
        return prepared

    monkeypatch.setattr(billing, "bill_boundary", bad_currency)
    result = billing_run(as_of=FEB, now=RUN_NOW)
    assert result.created == 8
    assert [(e["subscription"], e["code"]) for e in result.errors] == [
        (broken.pk, "integrity_error"),
        (broken.pk, "integrity_error"),
    ]
    assert _sequences() == list(range(1, 9))
    assert not Invoice.objects.filter(subscription=broken).exists()
    assert UsageBilled.objects.count() == 4

    monkeypatch.undo()
    rerun = billing_run(as_of=FEB, now=RUN_NOW)
    assert (rerun.created, rerun.skipped, rerun.errors) == (2, 8, [])
    assert _sequences() == list(range(1, 11))


def test_customer_credit_is_used_once_across_a_customers_invoices(subscriptions):
    from invoices.choices import CreditTransactionKind

    account = subscriptions[2].account
    CustomerCreditTransaction.objects.create(
        account=account,
        currency="EUR",
        amount_minor=7000,
        kind=CreditTransactionKind.CREDIT_NOTE,
        created_at=RUN_NOW,
    )
    billing_run(as_of=FEB, now=RUN_NOW)
    jan, feb = Invoice.objects.filter(account=account).order_by("issue_date", "sequence")
    # January: 49.00 + 19 % = 58.31, paid by credit; February gets the 11.69 left.
    assert (jan.credit_applied_minor, jan.status) == (5831, "PAID")
    assert feb.credit_applied_minor == 7000 - 5831 and feb.status == "OPEN"
    used = CustomerCreditTransaction.objects.filter(account=account, kind="APPLIED")
    assert sorted(used.values_list("amount_minor", flat=True)) == [-5831, -1169]
    assert not Invoice.objects.exclude(account=account).exclude(credit_applied_minor=0).exists()
    for invoice in (jan, feb):
        lines = JournalLine.objects.filter(entry__idempotency_key=f"invoice:{invoice.pk}:finalize")
        debit = sum(lines.values_list("debit_minor", flat=True))
        assert (
            debit
            == sum(lines.values_list("credit_minor", flat=True))
            == (invoice.gross_minor + invoice.credit_applied_minor)
        )
    assert jan.history.get().history_type == "~" and jan.history.get().status == "PAID"


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_bill_everyone_once(subscriptions):
    errors = []
    start = threading.Barrier(2)

    def run():
        try:
            start.wait(timeout=10)
            billing_run(as_of=FEB, now=RUN_NOW)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    keys = list(Invoice.objects.values_list("billing_key", flat=True))
    assert len(keys) == len(set(keys)) == 10
    assert _sequences() == list(range(1, 11))
    assert UsageBilled.objects.count() == 5
    assert JournalEntry.objects.count() == 10
