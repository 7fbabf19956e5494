"""The journal as CSV for an accountant's bookkeeping import.

One row per booking with a single amount and a debit and a credit account, the way DATEV's
"Buchungsstapel" and most bookkeeping imports expect it. An entry with more than two lines is
split per currency by pairing its debit lines with its credit lines in line order: each row
takes the smaller of the two amounts still open, and whichever line is used up moves on. So an
invoice (receivables 119.00 against revenue 100.00 and VAT 19.00) becomes two rows: 1400/8400
100.00 and 1400/1776 19.00, and a split can never change the totals.

Rows stream from a server-side cursor, entry by entry, so memory stays flat for any period.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import groupby

from common.money import Money
from ledger.models import JournalLine

COLUMNS = [
    "date",
    "document_number",
    "debit_account",
    "credit_account",
    "amount",
    "currency",
    "tax_code",
    "text",
]
CHUNK_SIZE = 2000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class _Open:
    account: str
    amount: int
    text: str
    tax_code: str


def _safe(text: str) -> str:
    # A spreadsheet would run a cell starting with "=" as a formula.
    return "'" + text if text.startswith(_FORMULA_START) else text


def pair_lines(lines: Iterable[JournalLine]) -> Iterator[tuple[str, str, int, str, str, str]]:
    """(debit account, credit account, amount, currency, tax code, text) per booking row."""
    by_currency: dict[str, tuple[list[_Open], list[_Open]]] = {}
    for line in lines:
        debits, credits = by_currency.setdefault(line.currency, ([], []))
        side = debits if line.debit_minor else credits
        side.append(
            _Open(
                line.account.code,
                line.debit_minor or line.credit_minor,
                line.text,
                line.tax_code,
            )
        )
    for currency, (debits, credits) in by_currency.items():
        di = ci = 0
        d_left = debits[0].amount if debits else 0
        c_left = credits[0].amount if credits else 0
        while di < len(debits) and ci < len(credits):
            debit, credit = debits[di], credits[ci]
            amount = min(d_left, c_left)
            yield (
                debit.account,
                credit.account,
                amount,
                currency,
                credit.tax_code or debit.tax_code,
                credit.text or debit.text,
            )
            d_left -= amount
            c_left -= amount
            if d_left == 0:
                di += 1
                d_left = debits[di].amount if di < len(debits) else 0
            if c_left == 0:
                ci += 1
                c_left = credits[ci].amount if ci < len(credits) else 0


def journal_rows(*, start: dt.date, end: dt.date) -> Iterator[list[str]]:
    """Booking rows for entries dated ``start`` to ``end`` inclusive, header first."""
    yield list(COLUMNS)
    lines = (
        JournalLine.objects.filter(entry__entry_date__gte=start, entry__entry_date__lte=end)
        .select_related("entry", "account")
        .order_by("entry__entry_date", "entry_id", "id")
        .iterator(chunk_size=CHUNK_SIZE)
    )
    for _entry_id, entry_lines in groupby(lines, key=lambda line: line.entry_id):
        entry_lines = list(entry_lines)
        entry = entry_lines[0].entry
        for debit, credit, amount, currency, tax_code, text in pair_lines(entry_lines):
            yield [
                entry.entry_date.isoformat(),
                _safe(entry.document_number),
                debit,
                credit,
                str(Money(amount, currency).to_decimal()),
                currency,
                _safe(tax_code),
                _safe(text or entry.memo),
            ]


def journal_csv(*, start: dt.date, end: dt.date) -> Iterator[str]:
    """The export as CSV text, one chunk per row (for ``StreamingHttpResponse``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in journal_rows(start=start, end=end):
        writer.writerow(row)
        chunk = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        yield chunk
