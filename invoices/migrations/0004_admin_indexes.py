"""Indexes for the admin's filters, searches and orderings (added only, built concurrently
so the tables stay writable)."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("invoices", "0003_payment_reversal_and_credit_payout"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="invoice",
            index=models.Index(
                fields=["issue_date"],
                include=["status", "currency", "net_minor", "tax_minor", "gross_minor"],
                name="invoice_issue_date_totals",
            ),
        ),
    ]
