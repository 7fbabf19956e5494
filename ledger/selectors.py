"""Reads over the journal: trial balance, account statement, receivables aging."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Min, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from ledger import chart
from ledger.choices import DEBIT_NORMAL
from ledger.exceptions import UnknownLedgerAccount
from ledger.models import JournalLine, LedgerAccount

# ------------------------------------------------------------------------- trial balance


@dataclass(frozen=True)
class TrialBalanceRow:
    account_id: int
    account_code: str
    account_name: str
    account_type: str
    currency: str
    debit_minor: int
    credit_minor: int

    @property
    def balance_minor(self) -> int:
        """Debits minus credits: positive is a debit balance."""
        return self.debit_minor - self.credit_minor


@dataclass(frozen=True)
class CurrencyTotals:
    currency: str
    debit_minor: int
    credit_minor: int

    @property
    def difference_minor(self) -> int:
        return self.debit_minor - self.credit_minor


@dataclass(frozen=True)
class TrialBalance:
    as_of: dt.date | None
    rows: list[TrialBalanceRow]
    totals: dict[str, CurrencyTotals]

    @property
    def is_balanced(self) -> bool:
        return all(t.difference_minor == 0 for t in self.totals.values())


def trial_balance(*, as_of: dt.date | None = None) -> TrialBalance:
    """Total debits and credits per account and currency, of entries dated on/before ``as_of``."""
    lines = JournalLine.objects.all()
    if as_of is not None:
        lines = lines.filter(entry__entry_date__lte=as_of)
    grouped = (
        lines.values("account_id", "account__code", "account__name", "account__type", "currency")
        .annotate(debit=Coalesce(Sum("debit_minor"), 0), credit=Coalesce(Sum("credit_minor"), 0))
        .order_by("account__code", "currency")
    )
    rows = [
        TrialBalanceRow(
            account_id=g["account_id"],
            account_code=g["account__code"],
            account_name=g["account__name"],
            account_type=g["account__type"],
            currency=g["currency"],
            debit_minor=int(g["debit"]),
            credit_minor=int(g["credit"]),
        )
        for g in grouped
    ]
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        sums[row.currency][0] += row.debit_minor
        sums[row.currency][1] += row.credit_minor
    totals = {c: CurrencyTotals(c, d, k) for c, (d, k) in sorted(sums.items())}
    return TrialBalance(as_of=as_of, rows=rows, totals=totals)


# ---------------------------------------------------------------------- account statement


@dataclass(frozen=True)
class StatementLine:
    entry_id: int
    entry_date: dt.date
    document_number: str
    memo: str
    text: str
    currency: str
    debit_minor: int
    credit_minor: int
    balance_minor: int  # running, in the account's normal direction


@dataclass(frozen=True)
class AccountStatement:
    account: LedgerAccount
    start: dt.date
    end: dt.date
    opening: dict[str, int]
    closing: dict[str, int]
    lines: list[StatementLine] = field(default_factory=list)


def account_statement(
    *, account_code: str, start: dt.date, end: dt.date, currency: str | None = None
) -> AccountStatement:
    """Lines of one account between ``start`` and ``end`` (inclusive) with a running balance.

    Balances are per currency and signed the way the account grows: for an asset or expense
    a debit raises the balance, for a liability, equity or revenue account a credit does.
    """
    account = LedgerAccount.objects.filter(code=account_code).first()
    if account is None:
        raise UnknownLedgerAccount(f"No ledger account with code {account_code}.")
    sign = 1 if account.type in DEBIT_NORMAL else -1
    lines = JournalLine.objects.filter(account=account)
    if currency:
        lines = lines.filter(currency=currency)
    before = (
        lines.filter(entry__entry_date__lt=start)
        .values("currency")
        .annotate(d=Coalesce(Sum("debit_minor"), 0), c=Coalesce(Sum("credit_minor"), 0))
        .order_by("currency")
    )
    opening = {b["currency"]: sign * int(b["d"] - b["c"]) for b in before}
    running = dict(opening)
    out: list[StatementLine] = []
    period = (
        lines.filter(entry__entry_date__gte=start, entry__entry_date__lte=end)
        .select_related("entry")
        .order_by("entry__entry_date", "entry_id", "id")
    )
    for line in period.iterator(chunk_size=2000):
        running[line.currency] = running.get(line.currency, 0) + sign * (
            line.debit_minor - line.credit_minor
        )
        out.append(
            StatementLine(
                entry_id=line.entry_id,
                entry_date=line.entry.entry_date,
                document_number=line.entry.document_number,
                memo=line.entry.memo,
                text=line.text,
                currency=line.currency,
                debit_minor=line.debit_minor,
                credit_minor=line.credit_minor,
                balance_minor=running[line.currency],
            )
        )
    return AccountStatement(
        account=account, start=start, end=end, opening=opening, closing=running, lines=out
    )


# ----------------------------------------------------------------------- receivables aging

BUCKETS = ("0-30", "31-60", "61-90", "90+")


def _bucket(days: int) -> str:
    if days <= 30:
        return "0-30"
    if days <= 60:
        return "31-60"
    if days <= 90:
        return "61-90"
    return "90+"


@dataclass(frozen=True)
class OpenItem:
    open_item: str  # "invoice:42"
    party: str
    currency: str
    outstanding_minor: int
    since: dt.date  # the due date if given, else the first receivable debit's entry date
    days: int
    bucket: str


@dataclass(frozen=True)
class AgingRow:
    party: str
    currency: str
    buckets: dict[str, int]  # bucket label -> outstanding minor units

    @property
    def total_minor(self) -> int:
        return sum(self.buckets.values())


@dataclass(frozen=True)
class ReceivablesAging:
    as_of: dt.date
    rows: list[AgingRow]
    items: list[OpenItem]


def receivables_aging(
    *, as_of: dt.date | None = None, due_dates: dict[str, dt.date] | None = None
) -> ReceivablesAging:
    """Open receivables per party and currency in the buckets 0-30, 31-60, 61-90, 90+ days.

    An open item is the set of receivables lines sharing ``open_item`` (e.g. "invoice:42") and
    currency; it is open while its debits exceed its credits on ``as_of``. The ledger does not
    know payment terms, so an item ages from its first receivable debit's entry date (the
    invoice date) unless ``due_dates`` maps its open item to a due date; an item not yet due
    sits in 0-30. ``as_of`` defaults to today. Items with a credit balance (overpaid) are
    customer credit, not aging. The party is the one on the entry that first debited the item.
    """
    as_of = as_of or timezone.localdate()
    due_dates = due_dates or {}
    receivables = LedgerAccount.objects.filter(code=chart.code("receivables")).first()
    per_item = (
        JournalLine.objects.filter(account=receivables, entry__entry_date__lte=as_of)
        .values("open_item", "currency")
        .annotate(
            d=Coalesce(Sum("debit_minor"), 0),
            c=Coalesce(Sum("credit_minor"), 0),
            first_debit=Min("entry__entry_date", filter=Q(debit_minor__gt=0)),
            first_entry=Min("entry_id", filter=Q(debit_minor__gt=0)),
        )
        .order_by("open_item", "currency")
    )
    open_rows = [r for r in per_item if r["d"] - r["c"] > 0]
    parties = dict(
        JournalLine.objects.filter(entry_id__in={r["first_entry"] for r in open_rows})
        .values_list("entry_id", "entry__party")
        .distinct()
    )
    items: list[OpenItem] = []
    totals: dict[tuple[str, str], dict[str, int]] = {}
    for r in open_rows:
        since = due_dates.get(r["open_item"], r["first_debit"])
        days = (as_of - since).days
        item = OpenItem(
            open_item=r["open_item"],
            party=parties.get(r["first_entry"], ""),
            currency=r["currency"],
            outstanding_minor=int(r["d"] - r["c"]),
            since=since,
            days=days,
            bucket=_bucket(days),
        )
        items.append(item)
        row = totals.setdefault((item.party, item.currency), dict.fromkeys(BUCKETS, 0))
        row[item.bucket] += item.outstanding_minor
    rows = [AgingRow(party=p, currency=c, buckets=b) for (p, c), b in sorted(totals.items())]
    return ReceivablesAging(as_of=as_of, rows=rows, items=items)
