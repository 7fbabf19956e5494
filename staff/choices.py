from django.db import models


class ApprovalStatus(models.TextChoices):
    PENDING = "PENDING", "Waiting for approval"
    APPROVED = "APPROVED", "Approved"
    REJECTED = "REJECTED", "Rejected"
    CANCELED = "CANCELED", "Withdrawn"
    EXECUTED = "EXECUTED", "Carried out"
    FAILED = "FAILED", "Failed when carried out"


APPROVAL_TRANSITIONS: dict[str, set[str]] = {
    ApprovalStatus.PENDING: {
        ApprovalStatus.APPROVED,
        ApprovalStatus.REJECTED,
        ApprovalStatus.CANCELED,
    },
    ApprovalStatus.APPROVED: {ApprovalStatus.EXECUTED, ApprovalStatus.FAILED},
    ApprovalStatus.REJECTED: set(),
    ApprovalStatus.CANCELED: set(),
    ApprovalStatus.EXECUTED: set(),
    ApprovalStatus.FAILED: set(),
}
