"""Document numbers: per series and year, sequential, from a counter row locked until commit.

The counter is locked with ``SELECT ... FOR UPDATE`` inside the transaction that finalizes the
document, so a rolled-back finalization also rolls back its number: no gaps, no duplicates.
"""

from __future__ import annotations

from django.db import transaction

from invoices.models import NumberCounter, NumberSeries

INVOICE_SERIES = "RE"
CREDIT_NOTE_SERIES = "CN"


def series_get(code: str) -> NumberSeries:
    return NumberSeries.objects.get(code=code)


def number_next(*, series: NumberSeries, year: int) -> tuple[str, int]:
    """Take the next number of ``series`` in ``year``; the caller's transaction holds the lock."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("number_next must run inside the finalizing transaction")
    locked = NumberCounter.objects.select_for_update()
    counter = locked.filter(series=series, year=year).first()
    if counter is None:
        # The year's first document creates the row; concurrent creators meet on the unique
        # constraint and then all queue on the row lock.
        NumberCounter.objects.bulk_create(
            [NumberCounter(series=series, year=year, last_value=0)], ignore_conflicts=True
        )
        counter = locked.get(series=series, year=year)
    counter.last_value += 1
    counter.save(update_fields=["last_value"])
    return series.render(year=year, seq=counter.last_value), counter.last_value
