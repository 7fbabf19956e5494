"""Posting to the journal. Every write to the ledger goes through ``journal_post``."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import KW_ONLY, dataclass

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from common.money import is_known_currency
from ledger.exceptions import (
    AlreadyReversed,
    IdempotencyKeyReused,
    InvalidJournalLine,
    ReversalOfReversal,
    UnbalancedEntry,
    UnknownLedgerAccount,
)
from ledger.models import JournalEntry, JournalLine, LedgerAccount

__all__ = ["LineSpec", "journal_post", "journal_post_many", "journal_reverse"]


@dataclass(frozen=True)
class LineSpec:
    """One line to post: an account code and exactly one positive side, in minor units.

    ``open_item`` ties a receivables line to the document it settles ("invoice:42") so that a
    payment entry can reduce the invoice's open amount; it defaults to the entry's own document.
    """

    account: str
    _: KW_ONLY
    debit_minor: int = 0
    credit_minor: int = 0
    currency: str
    text: str = ""
    tax_code: str = ""
    open_item: str = ""


def _check_line(index: int, line: LineSpec) -> None:
    where = f"line {index + 1} ({line.account})"
    for side in ("debit_minor", "credit_minor"):
        value = getattr(line, side)
        if type(value) is not int:
            raise InvalidJournalLine(f"{where}: {side} must be an int, not {type(value).__name__}.")
        if value < 0:
            raise InvalidJournalLine(f"{where}: {side} must not be negative ({value}).")
    if (line.debit_minor > 0) == (line.credit_minor > 0):
        raise InvalidJournalLine(f"{where}: give exactly one of debit or credit, above zero.")
    if not is_known_currency(line.currency):
        raise InvalidJournalLine(f"{where}: {line.currency!r} is not a known currency.")


def _check_balanced(lines: list[LineSpec]) -> None:
    totals: dict[str, int] = defaultdict(int)
    for line in lines:
        totals[line.currency] += line.debit_minor - line.credit_minor
    off = {currency: diff for currency, diff in sorted(totals.items()) if diff}
    if off:
        detail = ", ".join(f"{c}: debits - credits = {d}" for c, d in off.items())
        raise UnbalancedEntry(
            f"The entry does not balance per currency ({detail}).", differences=off
        )


def _signature(document_type: str, document_id: str, lines) -> tuple:
    return (
        document_type,
        document_id,
        sorted((ln.account, ln.debit_minor, ln.credit_minor, ln.currency) for ln in lines),
    )


def journal_post(
    *,
    entry_date: dt.date,
    memo: str,
    lines: list[LineSpec],
    document_type: str,
    document_id: str,
    document_number: str = "",
    idempotency_key: str,
    actor=None,
    now: dt.datetime | None = None,
    party: str = "",
    reversal_of: JournalEntry | None = None,
) -> JournalEntry:
    """Post one balanced entry. The same ``idempotency_key`` returns the entry posted before.

    Refuses (and writes nothing) when a line is malformed, an account code is unknown, or the
    lines do not balance per currency. Reusing a key for a different entry is refused too.
    """
    if not idempotency_key:
        raise InvalidJournalLine("An idempotency key is required.")
    if not isinstance(entry_date, dt.date) or isinstance(entry_date, dt.datetime):
        raise InvalidJournalLine("entry_date must be a date.")
    if not document_type or not document_id:
        raise InvalidJournalLine("An entry must name the document that caused it.")
    lines = list(lines)
    if len(lines) < 2:
        raise InvalidJournalLine("An entry needs at least two lines.")
    for index, line in enumerate(lines):
        _check_line(index, line)
    _check_balanced(lines)

    existing = _existing(idempotency_key, document_type, str(document_id), lines)
    if existing is not None:
        return existing

    codes = {line.account for line in lines}
    accounts = {a.code: a for a in LedgerAccount.objects.filter(code__in=codes)}
    missing = sorted(codes - set(accounts))
    if missing:
        raise UnknownLedgerAccount(
            f"No ledger account with code {', '.join(missing)}; use ledger.chart.code().",
            codes=missing,
        )
    own_item = f"{document_type}:{document_id}"
    try:
        with transaction.atomic():
            entry = JournalEntry.objects.create(
                entry_date=entry_date,
                posted_at=now or timezone.now(),
                memo=memo[:300],
                document_type=document_type,
                document_id=str(document_id),
                document_number=document_number,
                party=party,
                idempotency_key=idempotency_key,
                # An API key's principal is not a user; the key is in the memo or document.
                actor=actor if isinstance(actor, get_user_model()) else None,
                reversal_of=reversal_of,
            )
            JournalLine.objects.bulk_create(
                JournalLine(
                    entry=entry,
                    account=accounts[line.account],
                    debit_minor=line.debit_minor,
                    credit_minor=line.credit_minor,
                    currency=line.currency,
                    text=line.text[:300],
                    tax_code=line.tax_code,
                    open_item=line.open_item or own_item,
                )
                for line in lines
            )
    except IntegrityError:
        # A concurrent post with the same key won the unique constraint.
        existing = _existing(idempotency_key, document_type, str(document_id), lines)
        if existing is None:
            raise
        return existing
    return entry


def journal_post_many(*, entries: list[dict]) -> list[JournalEntry]:
    """Post many entries (each a dict of ``journal_post``'s arguments) in three statements.

    Every entry is checked as ``journal_post`` checks it before anything is written; one bad
    entry refuses them all. An entry whose idempotency key exists already, or a concurrent
    post of the same key, takes ``journal_post``'s path (the entry posted before is returned).
    """
    prepared = []
    for kwargs in entries:
        kwargs = dict(kwargs)
        key = kwargs.get("idempotency_key")
        if not key:
            raise InvalidJournalLine("An idempotency key is required.")
        entry_date = kwargs["entry_date"]
        if not isinstance(entry_date, dt.date) or isinstance(entry_date, dt.datetime):
            raise InvalidJournalLine("entry_date must be a date.")
        if not kwargs.get("document_type") or not kwargs.get("document_id"):
            raise InvalidJournalLine("An entry must name the document that caused it.")
        kwargs["lines"] = lines = list(kwargs["lines"])
        if len(lines) < 2:
            raise InvalidJournalLine("An entry needs at least two lines.")
        for index, line in enumerate(lines):
            _check_line(index, line)
        _check_balanced(lines)
        prepared.append(kwargs)
    keys = [kwargs["idempotency_key"] for kwargs in prepared]
    if (
        len(set(keys)) != len(keys)
        or JournalEntry.objects.filter(idempotency_key__in=keys).exists()
    ):
        return [journal_post(**kwargs) for kwargs in prepared]
    codes = {line.account for kwargs in prepared for line in kwargs["lines"]}
    accounts = {a.code: a.pk for a in LedgerAccount.objects.filter(code__in=codes)}
    missing = sorted(codes - set(accounts))
    if missing:
        raise UnknownLedgerAccount(
            f"No ledger account with code {', '.join(missing)}; use ledger.chart.code().",
            codes=missing,
        )
    user_model = get_user_model()
    try:
        with transaction.atomic():
            created = JournalEntry.objects.bulk_create(
                [
                    JournalEntry(
                        entry_date=kwargs["entry_date"],
                        posted_at=kwargs.get("now") or timezone.now(),
                        memo=kwargs["memo"][:300],
                        document_type=kwargs["document_type"],
                        document_id=str(kwargs["document_id"]),
                        document_number=kwargs.get("document_number", ""),
                        party=kwargs.get("party", ""),
                        idempotency_key=kwargs["idempotency_key"],
                        actor=kwargs.get("actor")
                        if isinstance(kwargs.get("actor"), user_model)
                        else None,
                        reversal_of=kwargs.get("reversal_of"),
                    )
                    for kwargs in prepared
                ]
            )
            JournalLine.objects.bulk_create(
                JournalLine(
                    entry_id=entry.pk,
                    account_id=accounts[line.account],
                    debit_minor=line.debit_minor,
                    credit_minor=line.credit_minor,
                    currency=line.currency,
                    text=line.text[:300],
                    tax_code=line.tax_code,
                    open_item=line.open_item or f"{entry.document_type}:{entry.document_id}",
                )
                for entry, kwargs in zip(created, prepared, strict=True)
                for line in kwargs["lines"]
            )
    except IntegrityError:
        # A concurrent post took one of the keys: settle entry by entry.
        return [journal_post(**kwargs) for kwargs in prepared]
    return created


def _existing(key: str, document_type: str, document_id: str, lines) -> JournalEntry | None:
    entry = JournalEntry.objects.filter(idempotency_key=key).first()
    if entry is None:
        return None
    posted = [
        LineSpec(
            ln.account.code,
            debit_minor=ln.debit_minor,
            credit_minor=ln.credit_minor,
            currency=ln.currency,
        )
        for ln in entry.lines.select_related("account")
    ]
    if _signature(entry.document_type, entry.document_id, posted) != _signature(
        document_type, document_id, lines
    ):
        raise IdempotencyKeyReused(
            f"Idempotency key {key!r} was used for entry #{entry.pk} with other lines.",
            entry_id=entry.pk,
        )
    return entry


def journal_reverse(
    *,
    entry: JournalEntry,
    memo: str = "",
    entry_date: dt.date | None = None,
    idempotency_key: str | None = None,
    actor=None,
    now: dt.datetime | None = None,
) -> JournalEntry:
    """Cancel ``entry`` with a mirror entry (debits and credits swapped). Never edits it.

    Reversing twice with the default key returns the first reversal; an entry can be reversed
    only once, and a reversal cannot be reversed.
    """
    now = now or timezone.now()
    key = idempotency_key or f"reversal:{entry.pk}"
    if entry.reversal_of_id is not None:
        raise ReversalOfReversal(f"Entry #{entry.pk} is a reversal of #{entry.reversal_of_id}.")
    prior = JournalEntry.objects.filter(reversal_of=entry).first()
    if prior is not None:
        if prior.idempotency_key == key:
            return prior
        raise AlreadyReversed(f"Entry #{entry.pk} was reversed by #{prior.pk}.", by=prior.pk)
    lines = [
        LineSpec(
            ln.account.code,
            debit_minor=ln.credit_minor,
            credit_minor=ln.debit_minor,
            currency=ln.currency,
            text=ln.text,
            tax_code=ln.tax_code,
            open_item=ln.open_item,
        )
        for ln in entry.lines.select_related("account")
    ]
    try:
        return journal_post(
            entry_date=entry_date or timezone.localdate(now),
            memo=memo or f"Reversal of #{entry.pk}: {entry.memo}",
            lines=lines,
            document_type=entry.document_type,
            document_id=entry.document_id,
            document_number=entry.document_number,
            idempotency_key=key,
            actor=actor,
            now=now,
            party=entry.party,
            reversal_of=entry,
        )
    except IntegrityError:
        # Another key raced us to the one-reversal-per-entry constraint.
        raise AlreadyReversed(f"Entry #{entry.pk} has been reversed already.") from None
