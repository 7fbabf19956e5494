"""Payments, refunds, the per-payment event log, webhook deliveries, payouts and reconciliation.

Idempotency lives in the database: every attempt we send to a PSP has a unique ``attempt_key``,
every PSP object id is unique per provider, and a webhook delivery is unique per (provider,
event key) among the deliveries whose signature verified.
"""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from payments.choices import (
    EventSource,
    PaymentMethod,
    PaymentStatus,
    PayoutStatus,
    ReconciliationKind,
    RefundOrigin,
    RefundReason,
    RefundStatus,
    WebhookStatus,
)


class Payment(models.Model):
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="payments"
    )
    invoice = models.ForeignKey(
        "invoices.Invoice",
        on_delete=models.PROTECT,
        related_name="payment_attempts",
        null=True,
        blank=True,
    )
    provider = models.CharField(max_length=20)
    psp_payment_id = models.CharField(max_length=100, null=True, blank=True)
    attempt_key = models.CharField(
        max_length=100, unique=True, help_text="our idempotency key for the PSP"
    )
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    amount_refunded_minor = models.BigIntegerField(default=0)
    fee_minor = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.PENDING
    )
    decline_code = models.CharField(max_length=100, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    method = models.CharField(
        max_length=20, choices=PaymentMethod.choices, default=PaymentMethod.CARD
    )
    payment_method_id = models.CharField(max_length=100, blank=True, help_text="PSP token")
    reference = models.CharField(
        max_length=140, blank=True, help_text="bank transfer reference (Verwendungszweck)"
    )
    received_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # Set once the success is in the ledger and on the invoice; guards against posting twice.
    posted_at = models.DateTimeField(null=True, blank=True)
    fee_posted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [
            ("issue_refund", "Can issue refunds"),
            ("record_manual_payment", "Can record bank transfers"),
            ("view_reconciliation", "Can see PSP reconciliation"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "psp_payment_id"], name="uniq_payment_psp_id"
            ),
            models.UniqueConstraint(
                fields=["account", "reference"],
                condition=Q(provider="bank") & ~Q(reference=""),
                name="uniq_bank_transfer_reference",
            ),
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="payment_amount_pos"),
            models.CheckConstraint(
                condition=Q(amount_refunded_minor__gte=0)
                & Q(amount_refunded_minor__lte=models.F("amount_minor")),
                name="payment_refunded_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="payment_currency_iso"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "updated_at"]),
            models.Index(fields=["account", "-created_at"]),
            # Admin filters and searches; ``(filter, -id)`` walks in the list's order.
            models.Index(fields=["status", "-id"], name="payment_status_id"),
            models.Index(fields=["provider", "-id"], name="payment_provider_id"),
            models.Index(fields=["currency", "-id"], name="payment_currency_id"),
            models.Index(fields=["method", "-id"], name="payment_method_id"),
            models.Index(fields=["psp_payment_id"], name="payment_psp_payment_id"),
            models.Index(fields=["reference"], name="payment_reference"),
        ]

    def __str__(self) -> str:
        return f"Payment #{self.pk} {self.amount_minor} {self.currency} {self.status}"


class PaymentEvent(models.Model):
    """Append-only log of what happened to a payment (and its refunds), by us or the PSP."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="events")
    refund = models.ForeignKey(
        "Refund", on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    source = models.CharField(max_length=10, choices=EventSource.choices)
    kind = models.CharField(max_length=60)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "pk"]
        triggers = [
            pgtrigger.Protect(
                name="payment_event_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_status}→{self.to_status}"


class Refund(models.Model):
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    provider = models.CharField(max_length=20)
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=30, choices=RefundReason.choices)
    note = models.TextField(blank=True)
    status = models.CharField(
        max_length=20, choices=RefundStatus.choices, default=RefundStatus.REQUESTED
    )
    attempt_key = models.CharField(max_length=100, unique=True)
    psp_refund_id = models.CharField(max_length=100, null=True, blank=True)
    failure_reason = models.CharField(max_length=500, blank=True)
    origin = models.CharField(
        max_length=20, choices=RefundOrigin.choices, default=RefundOrigin.OURS
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    approval = models.ForeignKey(
        "staff.ApprovalRequest",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    credit_note_requested = models.BooleanField(default=False)
    credit_note_ref = models.CharField(max_length=64, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # The PSP accepted the refund and it is in the ledger; a later failure reverses it.
    posted_at = models.DateTimeField(null=True, blank=True)
    reversed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "psp_refund_id"], name="uniq_refund_psp_id"
            ),
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="refund_amount_pos"),
        ]
        indexes = [
            models.Index(fields=["status", "updated_at"]),
            # Admin filters and searches; ``(filter, -id)`` walks in the list's order.
            models.Index(fields=["status", "-id"], name="refund_status_id"),
            models.Index(fields=["origin", "-id"], name="refund_origin_id"),
            models.Index(fields=["reason", "-id"], name="refund_reason_id"),
            models.Index(fields=["provider", "-id"], name="refund_provider_id"),
            models.Index(fields=["currency", "-id"], name="refund_currency_id"),
            models.Index(fields=["psp_refund_id"], name="refund_psp_refund_id"),
        ]

    def __str__(self) -> str:
        return f"Refund #{self.pk} {self.amount_minor} {self.currency} {self.status}"


class WebhookDelivery(models.Model):
    """One HTTP delivery of a PSP webhook, stored raw whether or not its signature verified."""

    provider = models.CharField(max_length=20)
    dedup_key = models.CharField(max_length=255)
    event_type = models.CharField(max_length=100, blank=True, help_text="the PSP's type")
    kind = models.CharField(max_length=60, blank=True, help_text="normalised kind")
    object_id = models.CharField(max_length=100, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    body = models.TextField()
    headers = models.JSONField(default=dict, blank=True)
    payload = models.JSONField(default=dict, blank=True, help_text="the event's object")
    signature_valid = models.BooleanField()
    received_at = models.DateTimeField()
    status = models.CharField(
        max_length=20, choices=WebhookStatus.choices, default=WebhookStatus.RECEIVED
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    note = models.CharField(max_length=300, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker's lease on the delivery; an expired lease lets another worker take it over.
    claimed_until = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "dedup_key"],
                condition=Q(signature_valid=True),
                name="uniq_webhook_delivery_valid",
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(status="RECEIVED"),
                name="webhook_pending_idx",
            ),
            models.Index(fields=["status", "-received_at"]),
            models.Index(fields=["object_id"]),
            # Admin filters and searches.
            models.Index(fields=["provider", "-id"], name="webhook_provider_id"),
            models.Index(fields=["kind", "-id"], name="webhook_kind_id"),
            models.Index(fields=["dedup_key"], name="webhook_dedup_key"),
            models.Index(
                fields=["-id"], condition=Q(signature_valid=False), name="webhook_bad_signature"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type or '?'} {self.dedup_key}"


class Payout(models.Model):
    """Money a PSP sent to our bank: a Stripe payout or a Braintree settlement batch."""

    provider = models.CharField(max_length=20)
    psp_payout_id = models.CharField(max_length=150)
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    fee_minor = models.BigIntegerField(default=0)
    arrival_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=PayoutStatus.choices)
    imported_at = models.DateTimeField()
    posted_at = models.DateTimeField(null=True, blank=True)
    arrived_posted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-arrival_date", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "psp_payout_id"], name="uniq_payout")
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.psp_payout_id}"


Settlement = Payout


class PayoutLine(models.Model):
    payout = models.ForeignKey(Payout, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=20)
    psp_object_id = models.CharField(max_length=100)
    psp_payment_id = models.CharField(max_length=100, blank=True)
    gross_minor = models.BigIntegerField()
    fee_minor = models.BigIntegerField(default=0)
    net_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    payment = models.ForeignKey(
        Payment, on_delete=models.SET_NULL, null=True, blank=True, related_name="payout_lines"
    )
    refund = models.ForeignKey(
        Refund, on_delete=models.SET_NULL, null=True, blank=True, related_name="payout_lines"
    )

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["payout", "kind", "psp_object_id"], name="uniq_payout_line"
            )
        ]
        indexes = [models.Index(fields=["psp_payment_id"])]


class ReconciliationReport(models.Model):
    payout = models.OneToOneField(Payout, on_delete=models.CASCADE, related_name="report")
    currency = models.CharField(max_length=3)
    expected_minor = models.BigIntegerField(help_text="net of what Paydesk recorded")
    received_minor = models.BigIntegerField(help_text="the payout amount")
    matched_count = models.PositiveIntegerField(default=0)
    difference_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Reconciliation of {self.payout}"

    @property
    def difference_minor(self) -> int:
        return self.received_minor - self.expected_minor


class ReconciliationLine(models.Model):
    report = models.ForeignKey(ReconciliationReport, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=20, choices=ReconciliationKind.choices)
    psp_object_id = models.CharField(max_length=100, blank=True)
    payment = models.ForeignKey(
        Payment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    refund = models.ForeignKey(
        Refund, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ours_minor = models.BigIntegerField(null=True, blank=True)
    psp_minor = models.BigIntegerField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["pk"]
