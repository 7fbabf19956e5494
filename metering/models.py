"""Meters, usage events, and what has been billed of them.

Storage of usage events (designed for tens of millions of rows)
----------------------------------------------------------------
One unpartitioned table, ``metering_usageevent``:

* ``UNIQUE (account_id, event_id)`` is the exactly-once guarantee. Ingestion inserts with
  ``ON CONFLICT (account_id, event_id) DO NOTHING RETURNING``: what comes back was new, the rest
  were duplicates, also when identical batches race (the unique index decides, not Python).
* ``(account_id, meter_id, ts) INCLUDE (quantity) WHERE voided_at IS NULL`` serves aggregation
  for one account and period as an index-only scan, and excludes voided events by construction.
* A BRIN index on ``ts`` (a few pages for 10M rows) narrows the all-accounts monthly run, since
  events arrive roughly in time order.

Why not monthly range partitions on ``ts``: a unique constraint on a partitioned table must
contain the partition key, so ``(account_id, event_id)`` could only be unique *per month*; a
re-sent event whose timestamp changed month would be counted twice. Keeping exactly-once would
need a second dedup table written in the same statement, i.e. two unique-index probes per event
on the hot path, to gain faster month drops we never do (nothing is ever deleted here). The
single table keeps one probe per event; the monthly aggregation reads the covering index.
``bench/aggregate.py`` measures it against the raw ``GROUP BY`` over the same table.

Foreign keys of events are not enforced by the database (``db_constraint=False``): an enforced
FK makes every inserted row take a ``FOR KEY SHARE`` row lock on its account, and concurrent
batches for the same accounts then contend on those locks. Ingestion resolves accounts and
meters in the same request, and neither is ever deleted (``PROTECT``; accounts are closed).
"""

from __future__ import annotations

from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from simple_history.models import HistoricalRecords

from metering.choices import Aggregation


def _history_user(instance=None, request=None, **kwargs):
    """The staff member behind a change; an API key is not a user (its name is logged)."""
    user = getattr(request, "user", None)
    return user if getattr(user, "_meta", None) is not None and user.is_authenticated else None


class Meter(models.Model):
    code = models.SlugField(
        max_length=64, unique=True, help_text="what events name, e.g. api_calls"
    )
    name = models.CharField(max_length=200, help_text="shown on invoices, e.g. Cluster hours")
    unit = models.CharField(max_length=40, help_text="e.g. hours, GB, calls")
    aggregation = models.CharField(max_length=20, choices=Aggregation.choices)
    value_property = models.CharField(
        max_length=100, blank=True, help_text="event property carrying the quantity"
    )
    unique_property = models.CharField(
        max_length=100, blank=True, help_text="property counted distinct (UNIQUE_COUNT)"
    )
    filters = models.JSONField(
        default=dict,
        blank=True,
        help_text='only events whose properties match, e.g. {"region": "eu-west"}',
    )
    price = models.ForeignKey(
        "catalog.Price",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="meters",
        help_text="the plan price this meter's usage is billed with",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(get_user=_history_user)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(aggregation__in=["SUM", "MAX", "LATEST"], value_property=""),
                name="meter_value_property_needed",
            ),
            models.CheckConstraint(
                condition=~models.Q(aggregation="UNIQUE_COUNT", unique_property=""),
                name="meter_unique_property_needed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class UsageEvent(models.Model):
    """One usage event as received. Never deleted: a correction voids it (who, when, why)."""

    account = models.ForeignKey(
        "accounts.Account",
        on_delete=models.PROTECT,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    event_id = models.CharField(max_length=200, help_text="the sender's id, unique per account")
    meter = models.ForeignKey(
        Meter, on_delete=models.PROTECT, db_constraint=False, db_index=False, related_name="+"
    )
    ts = models.DateTimeField("timestamp")
    quantity = models.DecimalField(max_digits=30, decimal_places=12)
    properties = models.JSONField(default=dict)
    received_at = models.DateTimeField()
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.TextField(blank=True)
    voided_by = models.CharField(max_length=200, blank=True)

    class Meta:
        permissions = [("void_usageevent", "Can void usage events (remove them from billing)")]
        constraints = [
            models.UniqueConstraint(fields=["account", "event_id"], name="uniq_usage_event"),
            models.CheckConstraint(
                condition=models.Q(quantity__gte=0), name="usage_event_quantity_non_negative"
            ),
        ]
        indexes = [
            models.Index(
                fields=["account", "meter", "ts"],
                include=["quantity"],
                condition=models.Q(voided_at__isnull=True),
                name="usage_event_aggregation",
            ),
            BrinIndex(fields=["ts"], name="usage_event_ts_brin"),
            # The admin's meter filter, in the list's order (costs one more index per insert).
            models.Index(fields=["meter", "-id"], name="usage_event_meter_id"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}/{self.event_id}"


class UsageRecheck(models.Model):
    """An already billed (account, meter, period) whose usage may have changed since.

    Written by ingestion (an event landing in a billed period) and by voids, upserted with
    ``hits = hits + 1``; the billing run re-aggregates only these periods, so the normal run
    never rescans history. A marker is removed only if its ``hits`` did not change while the
    run compared the period (see ``metering.billing``).
    """

    account = models.ForeignKey(
        "accounts.Account", on_delete=models.CASCADE, db_constraint=False, related_name="+"
    )
    meter = models.ForeignKey(Meter, on_delete=models.CASCADE, related_name="+")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    hits = models.IntegerField(default=1)
    marked_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "meter", "period_start"], name="uniq_usage_recheck"
            )
        ]


class BilledPeriod(models.Model):
    """A period of an account's meter that has been invoiced at least once.

    Ingestion and voids look events up here, in the same statement that writes them, to mark
    late changes to billed periods (``UsageRecheck``).
    """

    account = models.ForeignKey(
        "accounts.Account", on_delete=models.CASCADE, db_constraint=False, related_name="+"
    )
    meter = models.ForeignKey(Meter, on_delete=models.CASCADE, related_name="+")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "meter", "period_start"], name="uniq_billed_period"
            ),
            models.CheckConstraint(
                condition=models.Q(period_end__gt=models.F("period_start")),
                name="billed_period_not_empty",
            ),
        ]


class UsageBilled(models.Model):
    """What one invoice billed of one meter for one period (adjustments name their period).

    The sum over a (subscription, meter, period) is what the customer has been charged for it;
    the next run compares the period's current aggregate with that sum.
    """

    subscription = models.ForeignKey(
        "catalog.Subscription", on_delete=models.PROTECT, related_name="+"
    )
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, db_constraint=False, related_name="+"
    )
    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="+")
    price = models.ForeignKey("catalog.Price", on_delete=models.PROTECT, related_name="+")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    billed_quantity = models.DecimalField(max_digits=30, decimal_places=12)
    billed_amount_minor = models.BigIntegerField()
    event_count = models.BigIntegerField(default=0)
    is_adjustment = models.BooleanField(default=False)
    invoice_id = models.BigIntegerField(help_text="invoices.Invoice id (a higher app)")
    billed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "usage billed"
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "meter", "period_start", "invoice_id"],
                name="uniq_usage_billed_per_invoice",
            )
        ]
        indexes = [models.Index(fields=["subscription", "meter", "period_start"])]
