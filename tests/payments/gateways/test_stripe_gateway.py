"""The Stripe adapter through the real ``stripe`` SDK against the local fake Stripe."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from payments.gateways import get_gateway
from payments.gateways.base import (
    ATTEMPT_METADATA_KEY,
    ChargeRequest,
    CustomerRequest,
    GatewayNotFound,
    GatewayRequestError,
    PspDisputeStatus,
    PspPaymentStatus,
    PspRefundStatus,
    RefundRequest,
    SettlementLineKind,
    WebhookSignatureError,
)
from payments.gateways.stripe import (
    DISPUTE_STATUS_MAP,
    StripeGateway,
    dispute_result_from_dispute,
    payment_result_from_intent,
    refund_result_from_refund,
)


@pytest.fixture
def gateway(fake_stripe):
    return StripeGateway(fake_stripe.config)


@pytest.fixture
def customer_id(gateway):
    return gateway.customer_create(CustomerRequest(idempotency_key="cust-1")).psp_customer_id


def charge_req(customer_id, key="attempt-1", amount=1000, pm="pm_card_visa", **kw):
    return ChargeRequest(
        idempotency_key=key,
        psp_customer_id=customer_id,
        payment_method_id=pm,
        amount_minor=amount,
        currency="EUR",
        description="Invoice INV-1",
        **kw,
    )


def test_get_gateway_builds_the_stripe_adapter(fake_stripe):
    assert isinstance(get_gateway("stripe", fake_stripe.config), StripeGateway)


def test_attach_returns_token_and_display_data_only(gateway, customer_id):
    pm = gateway.payment_method_attach(psp_customer_id=customer_id, token="pm_card_visa")

    assert pm.psp_payment_method_id.startswith("pm_")
    assert (pm.brand, pm.last4, pm.exp_month, pm.exp_year) == ("visa", "4242", 12, 2034)


def test_charge_succeeds_with_fee_and_sends_attempt_key(gateway, customer_id, fake_stripe):
    pm = gateway.payment_method_attach(psp_customer_id=customer_id, token="pm_card_visa")

    result = gateway.charge(charge_req(customer_id, pm=pm.psp_payment_method_id))

    assert result.status == PspPaymentStatus.SUCCEEDED
    assert (result.amount_minor, result.currency) == (1000, "EUR")
    assert result.amount_captured_minor == 1000
    assert result.fee_minor == 39  # 1.4 % + 25
    [sent] = fake_stripe.requests_to("POST", "/v1/payment_intents")
    assert sent.headers["Idempotency-Key"] == "attempt-1"
    assert sent.params["metadata"][ATTEMPT_METADATA_KEY] == "attempt-1"
    assert sent.params["off_session"] == "true"


def test_card_decline_is_a_failed_result_with_decline_code(gateway, customer_id):
    result = gateway.charge(charge_req(customer_id, pm="pm_card_chargeDeclined"))

    assert result.status == PspPaymentStatus.FAILED
    assert result.decline_code == "generic_decline"
    assert result.psp_payment_id.startswith("pi_")
    assert result.amount_captured_minor == 0


def test_decline_next_gives_its_decline_code(gateway, customer_id, fake_stripe):
    fake_stripe.decline_next(decline_code="insufficient_funds")

    declined = gateway.charge(charge_req(customer_id, key="a-1"))
    fetched = gateway.payment_fetch(declined.psp_payment_id)
    succeeded = gateway.charge(charge_req(customer_id, key="a-2"))

    assert declined.decline_code == "insufficient_funds"
    assert fetched.status == PspPaymentStatus.FAILED
    assert fetched.decline_code == "insufficient_funds"
    assert succeeded.status == PspPaymentStatus.SUCCEEDED


def test_off_session_charge_needing_authentication_requires_action(gateway, customer_id):
    result = gateway.charge(charge_req(customer_id, pm="pm_card_authenticationRequired"))

    assert result.status == PspPaymentStatus.REQUIRES_ACTION
    assert result.decline_code == "authentication_required"


def test_timeout_is_unknown_and_the_charge_is_found_by_its_key(fake_stripe, customer_id):
    impatient = StripeGateway(dataclasses.replace(fake_stripe.config, timeout_s=0.5))
    fake_stripe.timeout_next(path="/v1/payment_intents$")

    result = impatient.charge(charge_req(customer_id, key="attempt-lost"))
    found = impatient.payment_find_by_idempotency_key("attempt-lost")

    assert result.status == PspPaymentStatus.UNKNOWN
    assert result.psp_payment_id is None
    assert found is not None
    assert found.status == PspPaymentStatus.SUCCEEDED
    assert found.amount_minor == 1000
    assert list(fake_stripe.payment_intents) == [found.psp_payment_id]


def test_retry_after_timeout_with_same_key_does_not_charge_twice(fake_stripe, customer_id):
    impatient = StripeGateway(dataclasses.replace(fake_stripe.config, timeout_s=0.5))
    fake_stripe.timeout_next(path="/v1/payment_intents$")
    impatient.charge(charge_req(customer_id, key="attempt-lost"))

    retried = impatient.charge(charge_req(customer_id, key="attempt-lost"))

    assert retried.status == PspPaymentStatus.SUCCEEDED
    assert len(fake_stripe.payment_intents) == 1


def test_server_error_is_unknown_and_nothing_was_charged(gateway, customer_id, fake_stripe):
    fake_stripe.fail_next(500)

    result = gateway.charge(charge_req(customer_id, key="attempt-500"))

    assert result.status == PspPaymentStatus.UNKNOWN
    assert (result.amount_minor, result.currency) == (1000, "EUR")
    assert gateway.payment_find_by_idempotency_key("attempt-500") is None
    assert fake_stripe.payment_intents == {}


def test_find_by_unknown_key_is_none(gateway):
    assert gateway.payment_find_by_idempotency_key("never-sent") is None


def test_idempotent_replay_returns_same_payment(gateway, customer_id, fake_stripe):
    first = gateway.charge(charge_req(customer_id, key="attempt-7"))
    second = gateway.charge(charge_req(customer_id, key="attempt-7"))

    assert second.psp_payment_id == first.psp_payment_id
    assert len(fake_stripe.payment_intents) == 1


def test_same_key_with_other_parameters_is_refused(gateway, customer_id):
    gateway.charge(charge_req(customer_id, key="attempt-8", amount=1000))

    with pytest.raises(GatewayRequestError) as exc:
        gateway.charge(charge_req(customer_id, key="attempt-8", amount=2000))

    assert exc.value.code == "idempotency_error"


def refund_req(payment_id, key, amount):
    return RefundRequest(
        idempotency_key=key,
        psp_payment_id=payment_id,
        amount_minor=amount,
        currency="EUR",
        reason="requested_by_customer",
    )


def test_partial_refunds_then_over_refund_is_refused(gateway, customer_id, fake_stripe):
    payment = gateway.charge(charge_req(customer_id))

    first = gateway.refund(refund_req(payment.psp_payment_id, "r-1", 300))
    second = gateway.refund(refund_req(payment.psp_payment_id, "r-2", 500))
    with pytest.raises(GatewayRequestError) as exc:
        gateway.refund(refund_req(payment.psp_payment_id, "r-3", 201))

    assert exc.value.code == "amount_too_large"
    assert not isinstance(exc.value, GatewayNotFound)
    assert [first.status, second.status] == [PspRefundStatus.SUCCEEDED] * 2
    assert first.psp_payment_id == payment.psp_payment_id
    assert gateway.payment_fetch(payment.psp_payment_id).amount_refunded_minor == 800
    assert gateway.refund_fetch(first.psp_refund_id).amount_minor == 300
    assert len(fake_stripe.refunds) == 2


def test_refund_timeout_is_unknown_and_retry_with_key_refunds_once(fake_stripe, customer_id):
    impatient = StripeGateway(dataclasses.replace(fake_stripe.config, timeout_s=0.5))
    payment = impatient.charge(charge_req(customer_id))
    fake_stripe.timeout_next(path="/v1/refunds$")

    lost = impatient.refund(refund_req(payment.psp_payment_id, "r-lost", 400))
    retried = impatient.refund(refund_req(payment.psp_payment_id, "r-lost", 400))

    assert lost.status == PspRefundStatus.UNKNOWN
    assert lost.psp_refund_id is None
    assert retried.status == PspRefundStatus.SUCCEEDED
    assert len(fake_stripe.refunds) == 1
    assert len(fake_stripe.requests_to("POST", "/v1/refunds")) == 2


def test_dashboard_refund_shows_on_fetch(gateway, customer_id, fake_stripe):
    payment = gateway.charge(charge_req(customer_id))

    fake_stripe.refund_outside(payment.psp_payment_id, 250)

    assert gateway.payment_fetch(payment.psp_payment_id).amount_refunded_minor == 250


@pytest.mark.parametrize(
    "call",
    [
        lambda g: g.payment_fetch("pi_missing"),
        lambda g: g.refund_fetch("re_missing"),
        lambda g: g.dispute_fetch("dp_missing"),
        lambda g: g.refund(refund_req("pi_missing", "r-x", 100)),
        lambda g: g.capture(psp_payment_id="pi_missing", amount_minor=None, idempotency_key="c"),
    ],
)
def test_unknown_ids_raise_not_found(gateway, call):
    with pytest.raises(GatewayNotFound) as exc:
        call(gateway)
    assert exc.value.code == "resource_missing"


def test_authorise_then_capture_part(gateway, customer_id):
    auth = gateway.charge(charge_req(customer_id, capture=False))

    captured = gateway.capture(
        psp_payment_id=auth.psp_payment_id, amount_minor=600, idempotency_key="cap-1"
    )

    assert auth.status == PspPaymentStatus.PENDING
    assert auth.amount_captured_minor == 0
    assert captured.status == PspPaymentStatus.SUCCEEDED
    assert captured.amount_captured_minor == 600


def test_void_authorisation_then_capture_is_refused(gateway, customer_id):
    auth = gateway.charge(charge_req(customer_id, capture=False))

    voided = gateway.void(psp_payment_id=auth.psp_payment_id, idempotency_key="void-1")

    assert voided.status == PspPaymentStatus.CANCELED
    with pytest.raises(GatewayRequestError) as exc:
        gateway.capture(
            psp_payment_id=auth.psp_payment_id, amount_minor=None, idempotency_key="cap-2"
        )
    assert exc.value.code == "payment_intent_unexpected_state"


def test_dispute_fetch(gateway, customer_id, fake_stripe):
    payment = gateway.charge(charge_req(customer_id))
    dispute = fake_stripe.create_dispute(payment.psp_payment_id, 1000, "fraudulent")

    result = gateway.dispute_fetch(dispute["id"])

    assert result.status == PspDisputeStatus.NEEDS_RESPONSE
    assert result.psp_payment_id == payment.psp_payment_id
    assert (result.amount_minor, result.currency, result.reason) == (1000, "EUR", "fraudulent")
    assert result.evidence_due_by is not None and result.evidence_due_by.tzinfo is not None


def test_payouts_list_returns_lines_with_fees(gateway, customer_id, fake_stripe):
    since = datetime.now(UTC) - timedelta(minutes=5)
    p1 = gateway.charge(charge_req(customer_id, key="a-1", amount=1000))
    p2 = gateway.charge(charge_req(customer_id, key="a-2", amount=2000))
    refund = gateway.refund(refund_req(p1.psp_payment_id, "r-1", 500))
    fake_stripe.create_payout("eur")

    [payout] = gateway.payouts_list(since=since)

    by_kind = {(line.kind, line.psp_payment_id): line for line in payout.lines}
    assert set(by_kind) == {
        (SettlementLineKind.CHARGE, p1.psp_payment_id),
        (SettlementLineKind.CHARGE, p2.psp_payment_id),
        (SettlementLineKind.REFUND, p1.psp_payment_id),
    }
    charge2 = by_kind[(SettlementLineKind.CHARGE, p2.psp_payment_id)]
    assert (charge2.gross_minor, charge2.fee_minor, charge2.net_minor) == (2000, 53, 1947)
    refund_line = by_kind[(SettlementLineKind.REFUND, p1.psp_payment_id)]
    assert refund_line.psp_object_id == refund.psp_refund_id
    assert (refund_line.gross_minor, refund_line.fee_minor) == (-500, 0)
    assert payout.fee_minor == 39 + 53
    assert payout.amount_minor == 1000 + 2000 - 500 - 39 - 53
    assert (payout.currency, payout.status) == ("EUR", "paid")
    assert payout.arrival_date is not None


def test_payouts_before_since_are_left_out(gateway, customer_id, fake_stripe):
    gateway.charge(charge_req(customer_id))
    fake_stripe.create_payout("eur")

    assert gateway.payouts_list(since=datetime.now(UTC) + timedelta(days=30)) == []


# --- webhooks ---------------------------------------------------------------------------------


def test_webhook_with_good_signature_is_parsed(gateway, customer_id, fake_stripe):
    payment = gateway.charge(charge_req(customer_id))
    body, headers = fake_stripe.build_event("payment_intent.succeeded", payment.raw)

    event = gateway.webhook_parse(body=body, headers={k.lower(): v for k, v in headers.items()})

    assert event.provider == "stripe"
    assert event.event_id == json.loads(body)["id"]
    assert (event.kind, event.psp_type) == ("payment.succeeded", "payment_intent.succeeded")
    assert event.object_id == payment.psp_payment_id
    assert event.data["amount"] == 1000
    assert event.occurred_at.tzinfo is not None


def test_webhook_of_unmapped_type_is_other(gateway, fake_stripe):
    body, headers = fake_stripe.build_event("customer.created", {"id": "cus_1"})

    assert gateway.webhook_parse(body=body, headers=headers).kind == "other"


def test_webhook_signed_with_another_secret_is_rejected(gateway, fake_stripe):
    body, headers = fake_stripe.build_event("charge.refunded", {"id": "ch_1"}, secret="whsec_x")

    with pytest.raises(WebhookSignatureError):
        gateway.webhook_parse(body=body, headers=headers)


def test_webhook_with_tampered_body_is_rejected(gateway, fake_stripe):
    body, headers = fake_stripe.build_event("charge.refunded", {"id": "ch_1", "amount": 100})

    with pytest.raises(WebhookSignatureError):
        gateway.webhook_parse(body=body.replace(b"100", b"900"), headers=headers)


def test_webhook_without_signature_is_rejected(gateway, fake_stripe):
    body, _ = fake_stripe.build_event("charge.refunded", {"id": "ch_1"})

    with pytest.raises(WebhookSignatureError):
        gateway.webhook_parse(body=body, headers={})


def test_webhook_with_expired_timestamp_is_rejected(gateway, fake_stripe):
    stale = int(time.time()) - fake_stripe.config.webhook_tolerance_s - 60
    body, headers = fake_stripe.build_event("charge.refunded", {"id": "ch_1"}, timestamp=stale)

    with pytest.raises(WebhookSignatureError):
        gateway.webhook_parse(body=body, headers=headers)


# --- status maps ------------------------------------------------------------------------------


def _pi(status, **extra):
    return {"id": "pi_1", "amount": 100, "currency": "eur", "status": status, **extra}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("succeeded", PspPaymentStatus.SUCCEEDED),
        ("processing", PspPaymentStatus.PROCESSING),
        ("requires_action", PspPaymentStatus.REQUIRES_ACTION),
        ("requires_capture", PspPaymentStatus.PENDING),
        ("canceled", PspPaymentStatus.CANCELED),
        ("requires_payment_method", PspPaymentStatus.PENDING),
        ("brand_new_status", PspPaymentStatus.UNKNOWN),
        (None, PspPaymentStatus.UNKNOWN),
    ],
)
def test_payment_status_map(status, expected):
    assert payment_result_from_intent(_pi(status)).status == expected


def test_intent_waiting_for_a_new_method_after_an_error_is_failed():
    error = {"code": "card_declined", "decline_code": "expired_card", "message": "Expired"}
    result = payment_result_from_intent(_pi("requires_payment_method", last_payment_error=error))

    assert result.status == PspPaymentStatus.FAILED
    assert result.decline_code == "expired_card"


def test_unmapped_refund_status_is_unknown():
    refund = {"id": "re_1", "amount": 1, "currency": "eur", "status": "mystery"}
    assert refund_result_from_refund(refund).status == PspRefundStatus.UNKNOWN


def test_unmapped_dispute_status_is_unknown():
    dispute = {"id": "dp_1", "amount": 1, "currency": "eur", "status": "prevented"}
    assert "prevented" not in DISPUTE_STATUS_MAP
    assert dispute_result_from_dispute(dispute).status == PspDisputeStatus.UNKNOWN
