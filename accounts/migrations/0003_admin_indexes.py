"""Indexes for the admin's ordering and name searches (added only, built concurrently so the
table stays writable).

The trigram index serves ``UPPER(legal_name) LIKE '%…%'`` (the admin's account search) and
``LIKE '…%'`` (invoice and payment search by the start of the account name). It is SQL only:
Django cannot render an operator class on an expression without django.contrib.postgres.
"""

from django.contrib.postgres.operations import AddIndexConcurrently, TrigramExtension
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("accounts", "0002_status_reason_and_indexes"),
    ]

    operations = [
        TrigramExtension(),
        AddIndexConcurrently(
            model_name="account",
            index=models.Index(fields=["legal_name", "id"], name="account_legal_name_id"),
        ),
        migrations.RunSQL(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS account_legal_name_trgm "
            "ON accounts_account USING gin ((upper(legal_name::text)) gin_trgm_ops)",
            reverse_sql="DROP INDEX CONCURRENTLY IF EXISTS account_legal_name_trgm",
        ),
    ]
