"""The journal refuses every change and deletion in the database, whatever the path."""

import pytest
from django.db import DatabaseError, connection, transaction

from ledger.models import JournalEntry, JournalLine


@pytest.fixture
def entry(post, codes):
    return post(
        "inv-1",
        [
            (codes["receivables"], 11900, 0, "EUR"),
            (codes["revenue"], 0, 10000, "EUR"),
            (codes["vat"], 0, 1900, "EUR"),
        ],
    )


def _refused(action):
    with pytest.raises(DatabaseError), transaction.atomic():
        action()


def _line_row(line_id):
    with connection.cursor() as cur:
        cur.execute(
            "SELECT debit_minor, credit_minor, text FROM ledger_journalline WHERE id = %s",
            [line_id],
        )
        return cur.fetchone()


def _entry_row(entry_id):
    with connection.cursor() as cur:
        cur.execute("SELECT memo, entry_date FROM ledger_journalentry WHERE id = %s", [entry_id])
        return cur.fetchone()


@pytest.mark.django_db
def test_journal_line_cannot_be_changed_or_deleted(entry):
    line = entry.lines.order_by("id").first()
    before = _line_row(line.pk)

    def orm_save():
        line.text = "edited"
        line.save()

    _refused(orm_save)
    _refused(lambda: JournalLine.objects.filter(pk=line.pk).update(debit_minor=1))
    _refused(lambda: JournalLine.objects.filter(pk=line.pk).delete())
    _refused(lambda: JournalLine.objects.get(pk=line.pk).delete())

    def raw(sql):
        def run():
            with connection.cursor() as cur:
                cur.execute(sql, [line.pk])

        return run

    _refused(raw("UPDATE ledger_journalline SET debit_minor = 1 WHERE id = %s"))
    _refused(raw("DELETE FROM ledger_journalline WHERE id = %s"))
    assert _line_row(line.pk) == before == (11900, 0, "")


@pytest.mark.django_db
def test_journal_entry_cannot_be_changed_or_deleted(entry):
    before = _entry_row(entry.pk)

    def orm_save():
        entry.memo = "edited"
        entry.save()

    _refused(orm_save)
    _refused(lambda: JournalEntry.objects.filter(pk=entry.pk).update(memo="edited"))
    _refused(lambda: JournalEntry.objects.filter(pk=entry.pk).delete())

    def raw_update():
        with connection.cursor() as cur:
            cur.execute("UPDATE ledger_journalentry SET memo = 'x' WHERE id = %s", [entry.pk])

    def raw_delete():
        with connection.cursor() as cur:
            cur.execute("DELETE FROM ledger_journalentry WHERE id = %s", [entry.pk])

    _refused(raw_update)
    _refused(raw_delete)
    assert _entry_row(entry.pk) == before
    assert entry.lines.count() == 3


@pytest.mark.django_db
def test_database_refuses_an_unbalanced_entry_at_commit(entry, codes):
    """Lines written around the service are still checked when the transaction commits."""
    with pytest.raises(DatabaseError, match="does not balance in EUR"), transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(
                "INSERT INTO ledger_journalline (entry_id, account_id, debit_minor, credit_minor,"
                " currency, text, tax_code, open_item)"
                " SELECT %s, id, 500, 0, 'EUR', '', '', '' FROM ledger_ledgeraccount"
                " WHERE code = %s",
                [entry.pk, codes["bank"]],
            )
            # Inside the test's transaction "commit" never comes; ask for the check now.
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert entry.lines.count() == 3


@pytest.mark.django_db
def test_database_refuses_an_entry_without_lines():
    with pytest.raises(DatabaseError, match="fewer than two lines"), transaction.atomic():
        JournalEntry.objects.create(
            entry_date="2026-03-01",
            posted_at="2026-03-01T10:00:00Z",
            memo="empty",
            document_type="invoice",
            document_id="x",
            idempotency_key="empty-1",
        )
        with connection.cursor() as cur:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert not JournalEntry.objects.filter(idempotency_key="empty-1").exists()
