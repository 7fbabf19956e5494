import pytest
from django.test import Client

from payments.choices import RefundStatus
from payments.models import Refund

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.payments.urls")]


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_refund_form_prefills_refundable_and_says_the_limit(paid_payment, support):
    payment = paid_payment(150_00)
    page = _login(support).get(f"/payments/{payment.pk}/refund").content.decode()
    assert 'value="150.00"' in page
    assert "€150.00" in page  # refundable, formatted
    assert "You can refund up to €100.00 yourself" in page


def test_refund_above_limit_confirms_then_waits_for_approval(paid_payment, support, stripe_psp):
    payment = paid_payment(150_00)
    client = _login(support)
    form = {"amount": "120.00", "reason": "SERVICE_ISSUE", "note": "outage"}
    confirm = client.post(f"/payments/{payment.pk}/refund", form).content.decode()
    assert "it will wait for approval by a Support lead or Finance admin" in confirm
    assert not Refund.objects.exists()
    done = client.post(f"/payments/{payment.pk}/refund", {**form, "confirmed": "yes"}, follow=True)
    page = done.content.decode()
    assert "Waiting for approval by a Support lead or Finance admin" in page
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.AWAITING_APPROVAL
    assert f"/staff/approvals/{refund.approval_id}/" in page
    assert stripe_psp.requests_to("POST", "/v1/refunds") == []


def test_refund_over_refundable_is_a_field_error(paid_payment, support):
    payment = paid_payment(50_00)
    page = (
        _login(support)
        .post(f"/payments/{payment.pk}/refund", {"amount": "60.00", "reason": "DUPLICATE"})
        .content.decode()
    )
    assert "At most €50.00 can still be refunded." in page
    assert not Refund.objects.exists()


def test_api_refund_with_idempotency_key(paid_payment, support_lead, api_key_factory, stripe_psp):
    from staff.models import ApiKey

    payment = paid_payment(100_00)
    key, raw = api_key_factory("payments:write")
    ApiKey.objects.filter(pk=key.pk).update(created_by=support_lead)
    client = Client()
    headers = {"Authorization": f"Bearer {raw}", "Idempotency-Key": "r-1"}
    body = {"amount_minor": 25_00, "reason": "DUPLICATE"}
    first = client.post(
        f"/api/v1/payments/{payment.pk}/refunds",
        body,
        content_type="application/json",
        headers=headers,
    )
    again = client.post(
        f"/api/v1/payments/{payment.pk}/refunds",
        body,
        content_type="application/json",
        headers=headers,
    )
    assert first.status_code == 201, first.content
    assert first.json()["status"] == "SUCCEEDED"
    assert again.json()["id"] == first.json()["id"]
    assert len(stripe_psp.refunds) == 1
    too_much = client.post(
        f"/api/v1/payments/{payment.pk}/refunds",
        {"amount_minor": 80_00, "reason": "DUPLICATE"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert too_much.status_code == 409
    assert too_much.json()["code"] == "refund_exceeds_refundable"


def test_reconciliation_screen_and_csv(paid_payment, accountant, support, stripe_psp):
    import datetime as dt

    from django.utils import timezone

    from payments.reconciliation import payouts_import

    payment = paid_payment(100_00)
    stripe_psp.create_payout("eur")
    payouts_import(provider="stripe", since=timezone.now() - dt.timedelta(days=1))
    client = _login(accountant)
    listing = client.get("/payments/reconciliation/").content.decode()
    assert "matched" in listing
    from payments.models import ReconciliationReport

    report = ReconciliationReport.objects.get()
    assert report.expected_minor == report.received_minor == 100_00 - payment.fee_minor
    csv = b"".join(client.get(f"/payments/reconciliation/{report.pk}/csv").streaming_content)
    assert b"matched" in csv and f",{payment.pk},,100.00,100.00".encode() in csv
    assert _login(support).get("/payments/reconciliation/").status_code == 403
