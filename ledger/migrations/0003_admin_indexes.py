"""Indexes for the admin's filters, searches and orderings (added only, built concurrently
so the tables stay writable)."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("ledger", "0002_seed_chart"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="journalentry",
            index=models.Index(fields=["document_id"], name="journal_entry_document_id"),
        ),
        AddIndexConcurrently(
            model_name="journalline",
            index=models.Index(fields=["open_item"], name="journal_line_open_item"),
        ),
    ]
