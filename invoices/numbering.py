"""Document numbers: per series and year, sequential, from a counter row locked until commit.

The counter row is locked by ``UPDATE ... RETURNING`` inside the transaction that finalizes the
documents, so a rolled-back finalization also rolls back its numbers: no gaps, no duplicates.
A billing run takes a block of numbers in one statement for the invoices it writes in the same
transaction; each number of the block is used, or the whole block is rolled back with them.
"""

from __future__ import annotations

from django.db import connection, transaction

from invoices.models import NumberCounter, NumberSeries

INVOICE_SERIES = "RE"
CREDIT_NOTE_SERIES = "CN"

_TAKE = (
    f"UPDATE {NumberCounter._meta.db_table} SET last_value = last_value + %s "  # noqa: S608
    "WHERE series_id = %s AND year = %s RETURNING last_value"
)


def series_get(code: str) -> NumberSeries:
    return NumberSeries.objects.get(code=code)


def numbers_take(*, series: NumberSeries, year: int, count: int) -> list[tuple[str, int]]:
    """Take the next ``count`` numbers of ``series`` in ``year``, in order; the caller's
    transaction holds the counter row's lock until it commits or rolls back."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("numbers must be taken inside the finalizing transaction")
    if count < 1:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_TAKE, [count, series.pk, year])
        row = cursor.fetchone()
        if row is None:
            # The year's first document creates the row; concurrent creators meet on the
            # unique constraint and then all queue on the row lock.
            NumberCounter.objects.bulk_create(
                [NumberCounter(series=series, year=year, last_value=0)], ignore_conflicts=True
            )
            cursor.execute(_TAKE, [count, series.pk, year])
            row = cursor.fetchone()
    last = row[0]
    return [(series.render(year=year, seq=seq), seq) for seq in range(last - count + 1, last + 1)]


def number_next(*, series: NumberSeries, year: int) -> tuple[str, int]:
    """Take the next number of ``series`` in ``year``; the caller's transaction holds the lock."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("number_next must run inside the finalizing transaction")
    return numbers_take(series=series, year=year, count=1)[0]
