"""The double-entry journal: chart of accounts, entries and their lines.

Entries and lines are append-only. PostgreSQL triggers refuse every UPDATE and DELETE, whatever
path it comes from (ORM save, ``QuerySet.update()``, admin, raw SQL); corrections are reversal
entries. A deferred constraint trigger checks at commit that every entry balances per currency,
so even a line inserted by hand cannot leave the journal unbalanced.
"""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from ledger.choices import AccountType

_APPEND_ONLY = pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)

# Runs at commit (DEFERRABLE INITIALLY DEFERRED), once per inserted line, after all the entry's
# lines are in: a per-row immediate check would see a half-written entry.
_ENTRY_BALANCED = pgtrigger.Trigger(
    name="entry_balanced",
    level=pgtrigger.Row,
    when=pgtrigger.After,
    operation=pgtrigger.Insert,
    timing=pgtrigger.Deferred,
    func=pgtrigger.Func(
        """
        DECLARE
            bad_currency text;
            difference bigint;
        BEGIN
            SELECT currency, SUM(debit_minor) - SUM(credit_minor)
              INTO bad_currency, difference
              FROM {meta.db_table}
             WHERE entry_id = NEW.entry_id
             GROUP BY currency
            HAVING SUM(debit_minor) <> SUM(credit_minor)
             LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'journal entry % does not balance in %: debits - credits = %',
                    NEW.entry_id, bad_currency, difference
                    USING ERRCODE = 'check_violation';
            END IF;
            RETURN NULL;
        END;
        """
    ),
)

# An entry without lines would pass the balance check vacuously; refuse it at commit.
_ENTRY_HAS_LINES = pgtrigger.Trigger(
    name="entry_has_lines",
    level=pgtrigger.Row,
    when=pgtrigger.After,
    operation=pgtrigger.Insert,
    timing=pgtrigger.Deferred,
    func=pgtrigger.Func(
        """
        BEGIN
            IF (SELECT COUNT(*) FROM ledger_journalline WHERE entry_id = NEW.id) < 2 THEN
                RAISE EXCEPTION 'journal entry % has fewer than two lines', NEW.id
                    USING ERRCODE = 'check_violation';
            END IF;
            RETURN NULL;
        END;
        """
    ),
)


class LedgerAccount(models.Model):
    """One account of the chart. Rows are created by ``ledger.chart.code()``, never by hand."""

    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=120)
    type = models.CharField(max_length=10, choices=AccountType.choices)
    kind = models.CharField(max_length=30, help_text="the chart kind, e.g. psp_clearing")
    key = models.CharField(
        max_length=60, blank=True, help_text="provider or product code for per-key kinds"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "key"], name="uniq_ledger_account_kind_key"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class JournalEntry(models.Model):
    entry_date = models.DateField(help_text="the booking date")
    posted_at = models.DateTimeField()
    memo = models.CharField(max_length=300)
    document_type = models.CharField(max_length=40, help_text="e.g. invoice, credit_note")
    document_id = models.CharField(max_length=64)
    document_number = models.CharField(max_length=64, blank=True)
    party = models.CharField(
        max_length=64, blank=True, help_text="whose entry this is, e.g. 'account:42'"
    )
    idempotency_key = models.CharField(max_length=200, unique=True)
    # PROTECT, not SET_NULL: nulling the column would be an UPDATE, which the journal refuses.
    # Staff users are deactivated, not deleted.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reversal_of = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_by",
        help_text="the entry this one cancels",
    )

    class Meta:
        verbose_name_plural = "journal entries"
        ordering = ["-entry_date", "-id"]
        permissions = [("export_journal", "Can export the journal")]
        indexes = [
            models.Index(fields=["entry_date", "id"]),
            models.Index(fields=["document_type", "document_id"]),
            models.Index(fields=["document_number"]),
            models.Index(fields=["party"]),
            models.Index(fields=["document_id"], name="journal_entry_document_id"),
        ]
        triggers = [_APPEND_ONLY, _ENTRY_HAS_LINES]

    def __str__(self) -> str:
        return f"#{self.pk} {self.entry_date} {self.memo}"


class JournalLine(models.Model):
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="lines")
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="lines")
    debit_minor = models.BigIntegerField(default=0)
    credit_minor = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    text = models.CharField(max_length=300, blank=True)
    tax_code = models.CharField(max_length=20, blank=True)
    open_item = models.CharField(
        max_length=110,
        blank=True,
        help_text="for receivables: the document this amount belongs to, 'type:id'",
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(debit_minor__gt=0, credit_minor=0)
                    | models.Q(debit_minor=0, credit_minor__gt=0)
                ),
                name="journal_line_one_side",
            ),
            models.CheckConstraint(
                condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="journal_line_currency"
            ),
        ]
        indexes = [
            models.Index(fields=["account", "currency"]),
            models.Index(fields=["account", "open_item"]),
            models.Index(fields=["open_item"], name="journal_line_open_item"),
        ]
        triggers = [_APPEND_ONLY, _ENTRY_BALANCED]

    def __str__(self) -> str:
        side = f"Dr {self.debit_minor}" if self.debit_minor else f"Cr {self.credit_minor}"
        return f"{self.account.code} {side} {self.currency}"
