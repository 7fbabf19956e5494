import pytest
from django.db import IntegrityError

from staff import roles
from staff.choices import ApprovalStatus
from staff.exceptions import (
    ApprovalNotPending,
    ApproverRoleMissing,
    ReasonRequired,
    SelfApprovalRefused,
)
from staff.models import ApprovalRequest, RoleLimit
from staff.services import (
    approval_approve,
    approval_needed,
    approval_reject,
    approval_request,
    limit_for,
)

pytestmark = pytest.mark.django_db


def _request(user, amount=250_00):
    return approval_request(
        action="refund",
        subject_type="payments.payment",
        subject_id="42",
        summary="Refund 250.00 EUR to ACME GmbH",
        reason="Customer was billed twice for October",
        requested_by=user,
        amount_minor=amount,
        currency="EUR",
    )


def test_requester_cannot_approve_own_request(make_staff):
    lead = make_staff("lena2", roles.SUPPORT_LEAD)
    approval = _request(lead)
    with pytest.raises(SelfApprovalRefused):
        approval_approve(approval_id=approval.pk, actor=lead)
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    assert approval.decided_by is None


def test_approver_without_the_role_is_refused(support, make_staff):
    approval = _request(support)
    accountant = make_staff("anna2", roles.ACCOUNTANT)
    other_support = make_staff("sam2", roles.SUPPORT)
    for actor in (accountant, other_support):
        with pytest.raises(ApproverRoleMissing):
            approval_approve(approval_id=approval.pk, actor=actor)
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


def test_history_shows_who_did_what(support, support_lead, monkeypatch):
    from staff import approvals

    executed = []
    monkeypatch.setitem(approvals._executors, "refund", lambda a: executed.append(a.pk))
    approval = _request(support)
    approval_approve(approval_id=approval.pk, actor=support_lead, reason="Checked the invoices")
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.APPROVED
    assert approval.decided_by == support_lead
    trail = [(e.kind, e.actor.username, e.note) for e in approval.events.all()]
    assert trail == [
        ("requested", "sam", "Customer was billed twice for October"),
        ("approved", "lena", "Checked the invoices"),
    ]
    assert executed == [approval.pk]
    # simple-history keeps every version of the row, with the user who changed it.
    statuses = [h.status for h in approval.history.order_by("history_date")]
    assert statuses == [ApprovalStatus.PENDING, ApprovalStatus.APPROVED]


def test_decided_request_cannot_be_decided_again(support, support_lead, finance_admin):
    approval = _request(support)
    approval_reject(approval_id=approval.pk, actor=support_lead, reason="Not a duplicate")
    with pytest.raises(ApprovalNotPending):
        approval_approve(approval_id=approval.pk, actor=finance_admin)


def test_reject_needs_a_reason_and_request_needs_a_reason(support, support_lead):
    approval = _request(support)
    with pytest.raises(ReasonRequired):
        approval_reject(approval_id=approval.pk, actor=support_lead, reason="  ")
    with pytest.raises(ReasonRequired):
        approval_request(
            action="refund",
            subject_type="x",
            subject_id="1",
            summary="s",
            reason="",
            requested_by=support,
        )


def test_database_refuses_self_decision_even_bypassing_services(support):
    approval = _request(support)
    with pytest.raises(IntegrityError):
        ApprovalRequest.objects.filter(pk=approval.pk).update(decided_by=support)


def test_limits_are_data_per_role(support, support_lead, make_staff):
    assert limit_for(user=support, action="refund", currency="EUR") == 100_00
    assert not approval_needed(user=support, action="refund", amount_minor=100_00, currency="EUR")
    assert approval_needed(user=support, action="refund", amount_minor=100_01, currency="EUR")
    RoleLimit.objects.filter(group__name=roles.SUPPORT, action="refund", currency="EUR").update(
        amount_minor=300_00
    )
    assert not approval_needed(user=support, action="refund", amount_minor=250_00, currency="EUR")
    # Someone with two roles gets the larger limit; no row for a currency means no own authority.
    both = make_staff("bo", roles.SUPPORT, roles.SUPPORT_LEAD)
    assert limit_for(user=both, action="refund", currency="EUR") == 1_000_00
    assert limit_for(user=support, action="refund", currency="JPY") == 0
