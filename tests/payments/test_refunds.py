import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone

from payments.choices import RefundReason, RefundStatus
from payments.exceptions import RefundExceedsRefundable, RefundNotAllowed
from payments.models import Refund
from payments.refunds import refund_execute, refund_request, refundable_minor
from payments.sync import sync_unknown
from staff.services import approval_approve

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_concurrent_refunds_of_60_on_100_one_wins(paid_payment, support_lead, stripe_psp):
    payment = paid_payment(100_00)
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def refund():
        try:
            barrier.wait(timeout=10)
            outcomes.append(
                refund_request(
                    payment=payment,
                    amount_minor=60_00,
                    reason=RefundReason.REQUESTED_BY_CUSTOMER,
                    actor=support_lead,
                )
            )
        except Exception as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=refund) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    refunds = [o for o in outcomes if isinstance(o, Refund)]
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(refunds) == 1 and refunds[0].status == RefundStatus.SUCCEEDED
    assert len(errors) == 1 and isinstance(errors[0], RefundExceedsRefundable)
    assert errors[0].code == "refund_exceeds_refundable"
    assert "40.00" in str(errors[0]) or "4000" in str(errors[0])
    assert len(stripe_psp.requests_to("POST", "/v1/refunds")) == 1
    assert len(stripe_psp.refunds) == 1
    payment.refresh_from_db()
    assert payment.amount_refunded_minor == 60_00


def test_partial_refunds_up_to_the_amount_then_refused(paid_payment, support_lead, stripe_psp):
    payment = paid_payment(100_00)
    for amount in (30_00, 50_00, 20_00):
        refund = refund_request(
            payment=payment,
            amount_minor=amount,
            reason=RefundReason.SERVICE_ISSUE,
            actor=support_lead,
        )
        assert refund.status == RefundStatus.SUCCEEDED
    with pytest.raises(RefundExceedsRefundable):
        refund_request(
            payment=payment, amount_minor=1, reason=RefundReason.SERVICE_ISSUE, actor=support_lead
        )
    payment.refresh_from_db()
    assert payment.amount_refunded_minor == 100_00
    assert stripe_psp.charges[next(iter(stripe_psp.charges))]["amount_refunded"] == 100_00


def test_role_without_refund_permission_is_refused(paid_payment, accountant):
    payment = paid_payment()
    with pytest.raises(RefundNotAllowed):
        refund_request(
            payment=payment, amount_minor=1_00, reason=RefundReason.DUPLICATE, actor=accountant
        )


def test_above_limit_waits_for_approval_then_reaches_psp_once(
    paid_payment, support, support_lead, stripe_psp
):
    payment = paid_payment(500_00)
    refund = refund_request(
        payment=payment,
        amount_minor=250_00,
        reason=RefundReason.REQUESTED_BY_CUSTOMER,
        note="goodwill",
        actor=support,
    )
    assert refund.status == RefundStatus.AWAITING_APPROVAL
    assert refund.approval.approver_roles == ["Support lead", "Finance admin"]
    assert stripe_psp.requests_to("POST", "/v1/refunds") == []
    # the waiting refund holds its amount
    assert refundable_minor(payment) == 250_00

    from staff.exceptions import SelfApprovalRefused

    with pytest.raises(SelfApprovalRefused):
        approval_approve(approval_id=refund.approval_id, actor=support)
    approval_approve(approval_id=refund.approval_id, actor=support_lead)
    # the approval's executor runs again when asked twice (idempotent)
    from payments.approvals import execute_refund_approval

    execute_refund_approval(refund.approval)
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert len(stripe_psp.refunds) == 1
    refund.approval.refresh_from_db()
    assert refund.approval.status == "EXECUTED"


def test_rejected_approval_releases_the_reservation(paid_payment, support, support_lead):
    from staff.services import approval_reject

    payment = paid_payment(500_00)
    refund = refund_request(
        payment=payment, amount_minor=400_00, reason=RefundReason.SERVICE_ISSUE, actor=support
    )
    approval_reject(approval_id=refund.approval_id, actor=support_lead, reason="not justified")
    again = refund_request(
        payment=payment, amount_minor=90_00, reason=RefundReason.SERVICE_ISSUE, actor=support
    )
    assert again.status == RefundStatus.SUCCEEDED
    refund.refresh_from_db()
    assert refund.status == RefundStatus.CANCELED
    assert refundable_minor(payment) == 410_00


def test_refund_refused_by_psp_fails_cleanly_and_releases(paid_payment, support_lead, stripe_psp):
    payment = paid_payment(100_00)
    stripe_psp.refund_outside(payment.psp_payment_id, 80_00)  # we do not know about it yet
    refund = refund_request(
        payment=payment, amount_minor=50_00, reason=RefundReason.DUPLICATE, actor=support_lead
    )
    assert refund.status == RefundStatus.FAILED
    assert "amount_too_large" in refund.failure_reason
    assert refund.posted_at is None
    payment.refresh_from_db()
    assert payment.amount_refunded_minor == 0
    assert refundable_minor(payment) == 100_00


def test_redelivered_refund_task_sends_once(paid_payment, support_lead, stripe_psp, monkeypatch):
    """Worker killed after the PSP call, before the result was recorded; then redelivered."""
    from payments import refunds, tasks

    payment = paid_payment(100_00)
    refund = refund_request(
        payment=payment,
        amount_minor=20_00,
        execute=False,
        reason=RefundReason.DUPLICATE,
        actor=support_lead,
    )
    real = refunds.refund_record_result

    def crash(**kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(refunds, "refund_record_result", crash)
    with pytest.raises(SystemExit):
        tasks.refund_execute.run(refund.pk)
    monkeypatch.setattr(refunds, "refund_record_result", real)
    assert len(stripe_psp.refunds) == 1

    assert tasks.refund_execute.run(refund.pk) == RefundStatus.PENDING  # state guard: no-op
    assert len(stripe_psp.requests_to("POST", "/v1/refunds")) == 1

    sync_unknown(now=timezone.now() + dt.timedelta(minutes=11))  # the janitor replays the key
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert refund.psp_refund_id == next(iter(stripe_psp.refunds))
    assert len(stripe_psp.refunds) == 1
    payment.refresh_from_db()
    assert payment.amount_refunded_minor == 20_00
    assert refund_execute(refund_id=refund.pk).status == RefundStatus.SUCCEEDED
    assert len(stripe_psp.refunds) == 1


def test_refund_on_braintree(account, braintree_psp, support_lead):
    from accounts.models import PspCustomer
    from payments.gateways import get_gateway
    from payments.services import payment_charge

    gateway = get_gateway("braintree", braintree_psp.config)
    from payments.gateways.base import CustomerRequest

    customer = gateway.customer_create(CustomerRequest(idempotency_key="c1", email="a@b.example"))
    method = gateway.payment_method_attach(
        psp_customer_id=customer.psp_customer_id, token="fake-valid-visa-nonce"
    )
    PspCustomer.objects.create(
        account=account, provider="braintree", psp_customer_id=customer.psp_customer_id
    )
    payment = payment_charge(
        account=account,
        amount_minor=80_00,
        currency="EUR",
        provider="braintree",
        payment_method_id=method.psp_payment_method_id,
    )
    assert payment.status == "SUCCEEDED"
    braintree_psp.settle(payment.psp_payment_id)
    refund = refund_request(
        payment=payment,
        amount_minor=30_00,
        reason=RefundReason.REQUESTED_BY_CUSTOMER,
        actor=support_lead,
    )
    assert refund.status == RefundStatus.PENDING  # a credit waits for settlement
    assert refund.posted_at is not None
    payment.refresh_from_db()
    assert payment.amount_refunded_minor == 30_00
