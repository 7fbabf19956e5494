"""Ledger errors. Each has a stable ``code``."""

from common.exceptions import Conflict, NotFound, ValidationFailed


class UnbalancedEntry(ValidationFailed):
    code = "unbalanced_entry"
    title = "The journal entry does not balance."


class InvalidJournalLine(ValidationFailed):
    code = "invalid_journal_line"
    title = "A journal line is not valid."


class UnknownLedgerAccount(NotFound):
    code = "unknown_ledger_account"
    title = "The ledger account does not exist."
    status = 422


class UnknownChartKind(ValidationFailed):
    code = "unknown_chart_kind"
    title = "The chart of accounts has no such kind of account."


class IdempotencyKeyReused(Conflict):
    code = "journal_key_reused"
    title = "This idempotency key was used for a different journal entry."


class AlreadyReversed(Conflict):
    code = "entry_already_reversed"
    title = "This journal entry has been reversed already."


class ReversalOfReversal(Conflict):
    code = "reversal_of_reversal"
    title = "A reversal cannot itself be reversed; post a new entry instead."
