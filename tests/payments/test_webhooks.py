import threading

import pytest
from django.db import connection
from django.test import Client

from payments.choices import PaymentStatus, RefundOrigin, WebhookStatus
from payments.models import Payment, PaymentEvent, Refund, WebhookDelivery
from payments.services import payment_start
from payments.webhooks.processing import drain

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.payments.urls")]


def _post(body: bytes, headers: dict, client=None):
    client = client or Client()
    return client.post(
        "/webhooks/stripe",
        data=body,
        content_type="application/json",
        headers={k: v for k, v in headers.items()},
    )


@pytest.fixture
def processing_payment(account, stripe_psp):
    """Our attempt, whose PaymentIntent the PSP created but whose answer we never got."""
    payment = payment_start(
        account=account,
        amount_minor=25_00,
        currency="EUR",
        provider="stripe",
        payment_method_id="pm_card_visa",
    )
    from payments.gateways import get_gateway
    from payments.gateways.base import ChargeRequest

    result = get_gateway("stripe", stripe_psp.config).charge(
        ChargeRequest(
            idempotency_key=payment.attempt_key,
            psp_customer_id="",
            payment_method_id="pm_card_visa",
            amount_minor=25_00,
            currency="EUR",
        )
    )
    pi = stripe_psp.payment_intents[result.psp_payment_id]
    return payment, pi


def test_same_event_five_times_including_concurrently_is_processed_once(
    processing_payment, stripe_psp
):
    payment, pi = processing_payment
    body, headers = stripe_psp.build_event("payment_intent.succeeded", dict(pi))
    statuses: list[int] = []

    def deliver():
        try:
            statuses.append(_post(body, headers).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    statuses.append(_post(body, headers).status_code)

    assert statuses == [200] * 5
    assert WebhookDelivery.objects.filter(signature_valid=True).count() == 1
    drain()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookStatus.PROCESSED
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.psp_payment_id == pi["id"]
    psp_events = PaymentEvent.objects.filter(payment=payment, source="psp")
    assert psp_events.count() == 1
    from ledger.models import JournalEntry

    assert (
        JournalEntry.objects.filter(idempotency_key=f"payment:{payment.pk}:received").count() == 1
    )


def test_bad_signature_is_stored_invalid_answered_400_and_changes_nothing(
    processing_payment, stripe_psp
):
    payment, pi = processing_payment
    body, headers = stripe_psp.build_event(
        "payment_intent.succeeded", dict(pi), secret="whsec_wrong"
    )
    response = _post(body, headers)
    assert response.status_code == 400
    delivery = WebhookDelivery.objects.get()
    assert delivery.signature_valid is False
    assert delivery.body == body.decode()
    drain()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert not PaymentEvent.objects.filter(payment=payment, source="psp").exists()
    # the genuine event still goes through afterwards
    body, headers = stripe_psp.build_event("payment_intent.succeeded", dict(pi))
    assert _post(body, headers).status_code == 200


def test_out_of_order_event_never_moves_status_backwards(processing_payment, stripe_psp):
    payment, pi = processing_payment
    ok_body, ok_headers = stripe_psp.build_event("payment_intent.succeeded", dict(pi))
    old = {**pi, "status": "processing"}
    late_body, late_headers = stripe_psp.build_event("payment_intent.processing", old)
    assert _post(ok_body, ok_headers).status_code == 200
    assert _post(late_body, late_headers).status_code == 200
    drain()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.events.filter(kind__endswith="_not_applied").exists()


def test_dashboard_refund_arrives_by_webhook(paid_payment, stripe_psp):
    payment = paid_payment(100_00)
    refund_obj = stripe_psp.refund_outside(payment.psp_payment_id, 30_00)
    body, headers = stripe_psp.build_event("refund.created", refund_obj)
    assert _post(body, headers).status_code == 200
    drain()
    refund = Refund.objects.get(payment=payment)
    assert refund.origin == RefundOrigin.PSP_DASHBOARD
    assert refund.approval_id is None
    assert refund.amount_minor == 30_00 and refund.status == "SUCCEEDED"
    payment.refresh_from_db()
    assert payment.amount_refunded_minor == 30_00
    # the same refund again (as refund.updated) records nothing new
    body, headers = stripe_psp.build_event("refund.updated", refund_obj)
    _post(body, headers)
    drain()
    assert Refund.objects.filter(payment=payment).count() == 1


def test_dispute_event_without_handler_is_ignored_with_a_note(paid_payment, stripe_psp):
    payment = paid_payment(100_00)
    dispute = stripe_psp.create_dispute(payment.psp_payment_id)
    body, headers = stripe_psp.build_event("charge.dispute.created", dispute)
    _post(body, headers)
    drain()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookStatus.IGNORED
    assert "no handler registered" in delivery.note


def test_failing_handler_is_retried_then_failed_and_can_be_reprocessed(
    processing_payment, stripe_psp, monkeypatch
):
    import datetime as dt

    from django.utils import timezone

    from payments.webhooks import processing, registry
    from payments.webhooks.processing import delivery_reprocess

    payment, pi = processing_payment

    def broken(event, *, delivery):
        raise RuntimeError("ledger down")

    monkeypatch.setitem(registry._handlers, "payment.succeeded", [broken])
    body, headers = stripe_psp.build_event("payment_intent.succeeded", dict(pi))
    _post(body, headers)
    now = timezone.now()
    for i in range(processing.MAX_ATTEMPTS):
        drain(now=now + dt.timedelta(hours=i + 1))
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookStatus.FAILED
    assert delivery.attempts == processing.MAX_ATTEMPTS
    assert "ledger down" in delivery.last_error

    monkeypatch.undo()
    delivery_reprocess(delivery_id=delivery.pk)
    drain()
    delivery.refresh_from_db()
    assert delivery.status == WebhookStatus.PROCESSED
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.SUCCEEDED


def test_braintree_settlement_declined_reverses(account, braintree_psp):
    from django.test import Client

    from accounts.models import PspCustomer
    from payments.gateways import get_gateway
    from payments.gateways.base import CustomerRequest
    from payments.services import payment_charge

    gateway = get_gateway("braintree", braintree_psp.config)
    customer = gateway.customer_create(CustomerRequest(idempotency_key="c", email="x@y.example"))
    method = gateway.payment_method_attach(
        psp_customer_id=customer.psp_customer_id, token="fake-valid-visa-nonce"
    )
    PspCustomer.objects.create(
        account=account, provider="braintree", psp_customer_id=customer.psp_customer_id
    )
    payment = payment_charge(
        account=account,
        amount_minor=12_00,
        currency="EUR",
        provider="braintree",
        payment_method_id=method.psp_payment_method_id,
    )
    braintree_psp.settle(payment.psp_payment_id)
    body, headers = braintree_psp.build_webhook("transaction_settled", payment.psp_payment_id)
    response = Client().post(
        "/webhooks/braintree",
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers=headers,
    )
    assert response.status_code == 200
    drain()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookStatus.PROCESSED, delivery.last_error
