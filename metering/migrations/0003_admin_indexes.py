"""Indexes for the admin's filters, searches and orderings (added only, built concurrently
so the tables stay writable)."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("metering", "0002_billing"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="usageevent",
            index=models.Index(fields=["meter", "-id"], name="usage_event_meter_id"),
        ),
    ]
