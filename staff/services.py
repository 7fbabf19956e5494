"""Staff services: four-eyes approvals, role limits, API keys."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from common.exceptions import InvalidTransition, ValidationFailed
from staff.choices import APPROVAL_TRANSITIONS, ApprovalStatus
from staff.exceptions import (
    ApprovalNotPending,
    ApproverRoleMissing,
    ReasonRequired,
    SelfApprovalRefused,
)
from staff.models import ApiKey, ApprovalEvent, ApprovalRequest, RoleLimit
from staff.roles import APPROVER_ROLES

# ---------------------------------------------------------------------------- limits


def limit_for(*, user: AbstractBaseUser, action: str, currency: str) -> int:
    """The highest amount (minor units) ``user`` may do alone; the best of their roles."""
    if not user.is_active:
        return 0
    amounts = RoleLimit.objects.filter(
        group__user=user, action=action, currency=currency
    ).values_list("amount_minor", flat=True)
    return max(amounts, default=0)


def approval_needed(*, user, action: str, amount_minor: int, currency: str) -> bool:
    return amount_minor > limit_for(user=user, action=action, currency=currency)


# ---------------------------------------------------------------------------- approvals


def _transition(approval: ApprovalRequest, to: str) -> None:
    if to not in APPROVAL_TRANSITIONS[approval.status]:
        if approval.status != ApprovalStatus.PENDING and to in (
            ApprovalStatus.APPROVED,
            ApprovalStatus.REJECTED,
            ApprovalStatus.CANCELED,
        ):
            raise ApprovalNotPending(
                f"Request #{approval.pk} is {approval.get_status_display().lower()} already."
            )
        raise InvalidTransition(
            f"Approval #{approval.pk} cannot go from {approval.status} to {to}."
        )
    approval.status = to


def approval_request(
    *,
    action: str,
    subject_type: str,
    subject_id: str,
    summary: str,
    reason: str,
    requested_by,
    amount_minor: int | None = None,
    currency: str = "",
    payload: dict | None = None,
    approver_roles: list[str] | None = None,
    now: datetime | None = None,
) -> ApprovalRequest:
    if not reason or not reason.strip():
        raise ReasonRequired("Say why this needs doing; the approver reads it.")
    roles = approver_roles or APPROVER_ROLES.get(action)
    if not roles:
        raise ValidationFailed(f"No approver roles are declared for the action '{action}'.")
    now = now or timezone.now()
    with transaction.atomic():
        approval = ApprovalRequest.objects.create(
            action=action,
            subject_type=subject_type,
            subject_id=str(subject_id),
            summary=summary[:300],
            reason=reason.strip(),
            amount_minor=amount_minor,
            currency=currency,
            payload=payload or {},
            approver_roles=list(roles),
            requested_by=requested_by,
            requested_at=now,
        )
        ApprovalEvent.objects.create(
            request=approval, kind="requested", actor=requested_by, at=now, note=reason.strip()
        )
    return approval


def can_decide(*, approval: ApprovalRequest, user) -> bool:
    if user.pk == approval.requested_by_id or not user.is_active:
        return False
    return user.groups.filter(name__in=approval.approver_roles).exists()


def _decide(*, approval_id: int, actor, to: str, reason: str, now: datetime | None):
    now = now or timezone.now()
    with transaction.atomic():
        approval = ApprovalRequest.objects.select_for_update().get(pk=approval_id)
        if actor.pk == approval.requested_by_id:
            raise SelfApprovalRefused(
                "You asked for this yourself; another person with the right role must decide."
            )
        if not actor.groups.filter(name__in=approval.approver_roles).exists():
            raise ApproverRoleMissing(
                "Only " + " or ".join(approval.approver_roles) + " may decide on this request."
            )
        if to == ApprovalStatus.REJECTED and not (reason or "").strip():
            raise ReasonRequired("Say why you reject it; the requester reads it.")
        _transition(approval, to)
        approval.decided_by = actor
        approval.decided_at = now
        approval.decision_reason = (reason or "").strip()
        approval.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
        ApprovalEvent.objects.create(
            request=approval, kind=to.lower(), actor=actor, at=now, note=approval.decision_reason
        )
    return approval


def approval_approve(*, approval_id: int, actor, reason: str = "", now=None) -> ApprovalRequest:
    """Approve. The owning app then carries the action out and calls ``approval_mark_executed``."""
    approval = _decide(
        approval_id=approval_id, actor=actor, to=ApprovalStatus.APPROVED, reason=reason, now=now
    )
    from staff.approvals import run_executor

    run_executor(approval)
    return approval


def approval_reject(*, approval_id: int, actor, reason: str, now=None) -> ApprovalRequest:
    return _decide(
        approval_id=approval_id, actor=actor, to=ApprovalStatus.REJECTED, reason=reason, now=now
    )


def approval_cancel(*, approval_id: int, actor, reason: str = "", now=None) -> ApprovalRequest:
    now = now or timezone.now()
    with transaction.atomic():
        approval = ApprovalRequest.objects.select_for_update().get(pk=approval_id)
        if actor.pk != approval.requested_by_id:
            raise SelfApprovalRefused("Only the requester can withdraw a request.")
        _transition(approval, ApprovalStatus.CANCELED)
        approval.save(update_fields=["status"])
        ApprovalEvent.objects.create(
            request=approval, kind="canceled", actor=actor, at=now, note=reason
        )
    return approval


def approval_mark_executed(
    *, approval_id: int, ok: bool, note: str = "", now=None
) -> ApprovalRequest:
    now = now or timezone.now()
    with transaction.atomic():
        approval = ApprovalRequest.objects.select_for_update().get(pk=approval_id)
        _transition(approval, ApprovalStatus.EXECUTED if ok else ApprovalStatus.FAILED)
        approval.save(update_fields=["status"])
        ApprovalEvent.objects.create(
            request=approval,
            kind="executed" if ok else "failed",
            actor_id=approval.decided_by_id,
            at=now,
            note=note,
        )
    return approval


# ---------------------------------------------------------------------------- API keys

KEY_PREFIX = "pd_"


def _hash(raw_key: str) -> str:
    # Keys carry 256 bits of randomness, so a plain digest is enough (no slow KDF needed).
    return hashlib.sha256(raw_key.encode()).hexdigest()


def apikey_create(*, name: str, scopes: list[str], created_by=None) -> tuple[ApiKey, str]:
    """Create a key. The raw key is returned once and never stored."""
    from staff.scopes import validate_scopes

    if not name.strip():
        raise ValidationFailed("Give the key a name that says who uses it.")
    validate_scopes(scopes)
    prefix = secrets.token_hex(4)
    raw = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        name=name.strip(),
        prefix=prefix,
        key_hash=_hash(raw),
        scopes=sorted(set(scopes)),
        created_by=created_by,
    )
    return key, raw


def apikey_revoke(*, api_key: ApiKey, now=None) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = now or timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


LAST_USE_RESOLUTION = timedelta(minutes=1)


def apikey_authenticate(*, raw_key: str, now=None) -> ApiKey | None:
    if not raw_key.startswith(KEY_PREFIX):
        return None
    key = ApiKey.objects.filter(key_hash=_hash(raw_key), revoked_at__isnull=True).first()
    if key is None:
        return None
    now = now or timezone.now()
    # Record last use at minute resolution: one write per key per minute, not per request.
    if key.last_used_at is None or now - key.last_used_at >= LAST_USE_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
