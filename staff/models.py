"""Staff access: role limits, four-eyes approvals, API keys for machine clients."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from simple_history.models import HistoricalRecords

from staff.choices import ApprovalStatus


class RoleLimit(models.Model):
    """How far a role may go alone, e.g. the refund amount a Support member may issue.

    Limits are data, edited by the Finance admin; above the limit the four-eyes approval applies.
    A role with no row for an action has no authority of its own for it (limit 0).
    """

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="limits")
    action = models.CharField(max_length=60, help_text="e.g. refund")
    currency = models.CharField(max_length=3)
    amount_minor = models.BigIntegerField(help_text="in the currency's minor unit")
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["group", "action", "currency"], name="uniq_role_limit_per_action_currency"
            ),
            models.CheckConstraint(
                condition=models.Q(amount_minor__gte=0), name="role_limit_non_negative"
            ),
        ]
        ordering = ["action", "group__name", "currency"]

    def __str__(self) -> str:
        return f"{self.group.name}: {self.action} up to {self.amount_minor} {self.currency}"


class ApprovalRequest(models.Model):
    """One action that needs a second person. The owning app executes it once approved."""

    action = models.CharField(max_length=60, db_index=True)
    subject_type = models.CharField(max_length=100)
    subject_id = models.CharField(max_length=64)
    amount_minor = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    summary = models.CharField(max_length=300)
    payload = models.JSONField(default=dict, blank=True)
    reason = models.TextField()
    status = models.CharField(
        max_length=20, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING, db_index=True
    )
    approver_roles = models.JSONField(default=list, help_text="role names that may decide")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="approvals_requested"
    )
    requested_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="approvals_decided",
        null=True,
        blank=True,
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-requested_at"]
        permissions = [("decide_approval", "Can approve or reject requests of others")]
        indexes = [models.Index(fields=["subject_type", "subject_id"])]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(decided_by=models.F("requested_by")),
                name="approval_not_decided_by_requester",
            )
        ]

    def __str__(self) -> str:
        return f"{self.action} #{self.pk} ({self.status})"


class ApprovalEvent(models.Model):
    """Append-only trail: who did what to an approval, when, and why."""

    request = models.ForeignKey(ApprovalRequest, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=20)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    at = models.DateTimeField()
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]


class ApiKey(models.Model):
    """A machine client's credential. Only a hash is stored; the key is shown once."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["last_used_at"])

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes or "*" in self.scopes
