"""The Braintree adapter through the real ``braintree`` SDK against the local fake Braintree."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, urlencode

import pytest

from payments.gateways import get_gateway
from payments.gateways.base import (
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
from payments.gateways.braintree import (
    DISPUTE_STATUS_MAP,
    BraintreeGateway,
    decimal_to_minor,
    dispute_result_from,
    minor_to_decimal_str,
    payment_status_of,
)

SALE_PATH = r"/transactions$"


@pytest.fixture
def gateway(fake_braintree):
    return BraintreeGateway(fake_braintree.config)


@pytest.fixture
def card(gateway):
    customer = gateway.customer_create(CustomerRequest(idempotency_key="c-1", email="a@b.example"))
    pm = gateway.payment_method_attach(
        psp_customer_id=customer.psp_customer_id, token="fake-valid-visa-nonce"
    )
    return SimpleNamespace(customer_id=customer.psp_customer_id, token=pm.psp_payment_method_id)


def charge_req(card, key="attempt-1", amount=1050, currency="EUR", **kw):
    return ChargeRequest(
        idempotency_key=key,
        psp_customer_id=card.customer_id,
        payment_method_id=card.token,
        amount_minor=amount,
        currency=currency,
        **kw,
    )


def refund_req(payment_id, key, amount):
    return RefundRequest(
        idempotency_key=key, psp_payment_id=payment_id, amount_minor=amount, currency="EUR"
    )


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [(1050, "EUR", "10.50"), (5, "eur", "0.05"), (1050, "JPY", "1050"), (1234, "KWD", "1.234")],
)
def test_minor_units_and_decimal_strings_round_trip(minor, currency, text):
    assert minor_to_decimal_str(minor, currency) == text
    assert decimal_to_minor(text, currency) == minor


def test_decimal_with_too_many_places_is_refused():
    with pytest.raises(ValueError):
        decimal_to_minor("10.505", "EUR")


def test_get_gateway_builds_the_braintree_adapter(fake_braintree):
    assert isinstance(get_gateway("braintree", fake_braintree.config), BraintreeGateway)


def test_attach_returns_token_and_display_data(gateway, card, fake_braintree):
    [stored] = fake_braintree.payment_methods.values()
    assert card.token == stored["token"]
    assert (stored["card_type"], stored["last_4"]) == ("Visa", "1881")


def test_sale_succeeds_and_is_submitted_for_settlement(gateway, card, fake_braintree):
    result = gateway.charge(charge_req(card))

    assert result.status == PspPaymentStatus.SUCCEEDED
    assert (result.amount_minor, result.currency) == (1050, "EUR")
    assert result.amount_captured_minor == 1050
    stored = fake_braintree.transactions[result.psp_payment_id]
    assert stored["status"] == "submitted_for_settlement"
    assert (stored["amount"], stored["order_id"]) == ("10.50", "attempt-1")


def test_currency_picks_its_merchant_account(gateway, card, fake_braintree):
    result = gateway.charge(charge_req(card, currency="USD"))

    assert result.currency == "USD"
    assert fake_braintree.transactions[result.psp_payment_id]["merchant_account_id"] == (
        "paydesk_usd"
    )


def test_processor_decline_is_failed_with_response_code(gateway, card):
    result = gateway.charge(charge_req(card, amount=200100))  # sandbox: 2001 Insufficient Funds

    assert result.status == PspPaymentStatus.FAILED
    assert result.decline_code == "2001"
    assert result.failure_message == "Insufficient Funds"
    assert result.amount_captured_minor == 0


def test_decline_next(gateway, card, fake_braintree):
    fake_braintree.decline_next("2046")

    declined = gateway.charge(charge_req(card, key="a-1"))
    approved = gateway.charge(charge_req(card, key="a-2"))

    assert (declined.status, declined.decline_code) == (PspPaymentStatus.FAILED, "2046")
    assert approved.status == PspPaymentStatus.SUCCEEDED


def test_same_key_does_not_sell_twice(gateway, card, fake_braintree):
    first = gateway.charge(charge_req(card, key="attempt-9"))
    second = gateway.charge(charge_req(card, key="attempt-9"))

    assert second.psp_payment_id == first.psp_payment_id
    assert len(fake_braintree.requests_to("POST", "/merchants/paydesk_merchant/transactions")) == 1
    assert len(fake_braintree.transactions) == 1


def test_timeout_is_unknown_then_found_and_not_sold_again(fake_braintree, card):
    impatient = BraintreeGateway(dataclasses.replace(fake_braintree.config, timeout_s=0.5))
    fake_braintree.timeout_next(path=SALE_PATH)

    lost = impatient.charge(charge_req(card, key="attempt-lost"))
    found = impatient.payment_find_by_idempotency_key("attempt-lost")
    retried = impatient.charge(charge_req(card, key="attempt-lost"))

    assert lost.status == PspPaymentStatus.UNKNOWN
    assert lost.psp_payment_id is None
    assert found is not None and found.status == PspPaymentStatus.SUCCEEDED
    assert retried.psp_payment_id == found.psp_payment_id
    assert len(fake_braintree.transactions) == 1


def test_server_error_is_unknown_and_nothing_was_sold(gateway, card, fake_braintree):
    fake_braintree.fail_next(500, path=SALE_PATH)

    result = gateway.charge(charge_req(card, key="attempt-500"))

    assert result.status == PspPaymentStatus.UNKNOWN
    assert gateway.payment_find_by_idempotency_key("attempt-500") is None
    assert fake_braintree.transactions == {}


def test_refund_before_settlement_is_refused(gateway, card):
    payment = gateway.charge(charge_req(card))

    with pytest.raises(GatewayRequestError) as exc:
        gateway.refund(refund_req(payment.psp_payment_id, "r-1", 100))

    assert exc.value.code == "91506"


def test_partial_refunds_after_settlement_then_over_refund_refused(gateway, card, fake_braintree):
    payment = gateway.charge(charge_req(card))
    fake_braintree.settle(payment.psp_payment_id)

    first = gateway.refund(refund_req(payment.psp_payment_id, "r-1", 300))
    second = gateway.refund(refund_req(payment.psp_payment_id, "r-2", 500))
    with pytest.raises(GatewayRequestError) as exc:
        gateway.refund(refund_req(payment.psp_payment_id, "r-3", 251))

    assert exc.value.code == "91521"
    assert [first.status, second.status] == [PspRefundStatus.PENDING] * 2
    assert (first.psp_payment_id, first.amount_minor) == (payment.psp_payment_id, 300)
    assert gateway.payment_fetch(payment.psp_payment_id).amount_refunded_minor == 800
    fake_braintree.settle(first.psp_refund_id)
    assert gateway.refund_fetch(first.psp_refund_id).status == PspRefundStatus.SUCCEEDED


def test_refund_retried_with_same_key_refunds_once(gateway, card, fake_braintree):
    payment = gateway.charge(charge_req(card))
    fake_braintree.settle(payment.psp_payment_id)

    first = gateway.refund(refund_req(payment.psp_payment_id, "r-1", 300))
    again = gateway.refund(refund_req(payment.psp_payment_id, "r-1", 300))

    assert again.psp_refund_id == first.psp_refund_id
    assert len(fake_braintree.transactions[payment.psp_payment_id]["refund_ids"]) == 1


def test_refund_timeout_is_unknown(fake_braintree, card):
    impatient = BraintreeGateway(dataclasses.replace(fake_braintree.config, timeout_s=0.5))
    payment = impatient.charge(charge_req(card))
    fake_braintree.settle(payment.psp_payment_id)
    fake_braintree.timeout_next(path=r"/refund$")

    lost = impatient.refund(refund_req(payment.psp_payment_id, "r-lost", 400))
    retried = impatient.refund(refund_req(payment.psp_payment_id, "r-lost", 400))

    assert lost.status == PspRefundStatus.UNKNOWN
    assert retried.status == PspRefundStatus.PENDING
    assert len(fake_braintree.transactions[payment.psp_payment_id]["refund_ids"]) == 1


def test_authorise_capture_part_and_void(gateway, card):
    auth = gateway.charge(charge_req(card, key="a-1", capture=False))
    other = gateway.charge(charge_req(card, key="a-2", capture=False))

    captured = gateway.capture(
        psp_payment_id=auth.psp_payment_id, amount_minor=600, idempotency_key="cap-1"
    )
    voided = gateway.void(psp_payment_id=other.psp_payment_id, idempotency_key="void-1")

    assert (auth.status, auth.amount_captured_minor) == (PspPaymentStatus.PENDING, 0)
    assert (captured.status, captured.amount_captured_minor) == (PspPaymentStatus.SUCCEEDED, 600)
    assert voided.status == PspPaymentStatus.CANCELED


def test_void_after_settlement_is_refused(gateway, card, fake_braintree):
    payment = gateway.charge(charge_req(card))
    fake_braintree.settle(payment.psp_payment_id)

    with pytest.raises(GatewayRequestError) as exc:
        gateway.void(psp_payment_id=payment.psp_payment_id, idempotency_key="v")

    assert exc.value.code == "91504"


@pytest.mark.parametrize(
    "call",
    [
        lambda g: g.payment_fetch("missing"),
        lambda g: g.refund_fetch("missing"),
        lambda g: g.dispute_fetch("missing"),
        lambda g: g.refund(refund_req("missing", "r-x", 100)),
    ],
)
def test_unknown_ids_raise_not_found(gateway, call):
    with pytest.raises(GatewayNotFound):
        call(gateway)


def test_dispute_fetch(gateway, card, fake_braintree):
    payment = gateway.charge(charge_req(card))
    dispute = fake_braintree.create_dispute(payment.psp_payment_id, "10.50", "fraud")

    result = gateway.dispute_fetch(dispute["id"])

    assert result.status == PspDisputeStatus.NEEDS_RESPONSE
    assert result.psp_payment_id == payment.psp_payment_id
    assert (result.amount_minor, result.currency, result.reason) == (1050, "EUR", "fraud")
    assert result.evidence_due_by is not None


def test_settlement_batch_lists_settled_sales_and_refunds(gateway, card, fake_braintree):
    since = datetime.now(UTC) - timedelta(days=1)
    p1 = gateway.charge(charge_req(card, key="a-1", amount=1000))
    p2 = gateway.charge(charge_req(card, key="a-2", amount=2500))
    gateway.charge(charge_req(card, key="a-3", amount=700))  # never settled
    for txn in (p1, p2):
        fake_braintree.settle(txn.psp_payment_id)
    refund = gateway.refund(refund_req(p1.psp_payment_id, "r-1", 400))
    fake_braintree.settle(refund.psp_refund_id)

    [payout] = gateway.payouts_list(since=since)

    lines = {(line.kind, line.psp_object_id): line for line in payout.lines}
    assert set(lines) == {
        (SettlementLineKind.CHARGE, p1.psp_payment_id),
        (SettlementLineKind.CHARGE, p2.psp_payment_id),
        (SettlementLineKind.REFUND, refund.psp_refund_id),
    }
    assert lines[(SettlementLineKind.REFUND, refund.psp_refund_id)].psp_payment_id == (
        p1.psp_payment_id
    )
    assert payout.amount_minor == 1000 + 2500 - 400
    assert payout.currency == "EUR"


def test_no_settlement_no_payout(gateway, card):
    gateway.charge(charge_req(card))

    assert gateway.payouts_list(since=datetime.now(UTC) - timedelta(days=1)) == []


# --- webhooks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bt_kind", "kind"),
    [
        ("transaction_settled", "transaction.settled"),
        ("transaction_settlement_declined", "transaction.settlement_declined"),
        ("dispute_opened", "dispute.created"),
        ("dispute_won", "dispute.closed"),
        ("disbursement", "disbursement"),
        ("subscription_charged_unsuccessfully", "subscription.charged_unsuccessfully"),
        ("subscription_went_active", "other"),
    ],
)
def test_webhook_sample_notifications_are_parsed(gateway, fake_braintree, bt_kind, kind):
    body, headers = fake_braintree.build_webhook(bt_kind, "subject_1")

    event = gateway.webhook_parse(body=body, headers=headers)

    assert (event.provider, event.kind, event.psp_type) == ("braintree", kind, bt_kind)
    assert event.object_id == "subject_1"
    assert event.event_id == f"{bt_kind}:subject_1:{event.occurred_at.isoformat()}"
    assert event.occurred_at.tzinfo is not None


def test_webhook_with_tampered_payload_is_rejected(gateway, fake_braintree):
    signed = fake_braintree.sample_notification("transaction_settled", "txn_1")
    other = fake_braintree.sample_notification("transaction_settled", "txn_2")
    body = urlencode({"bt_signature": signed["bt_signature"], "bt_payload": other["bt_payload"]})

    with pytest.raises(WebhookSignatureError):
        gateway.webhook_parse(body=body.encode(), headers={})


def test_webhook_signed_with_another_key_is_rejected(gateway, fake_braintree):
    body, headers = fake_braintree.build_webhook("transaction_settled", "txn_1")
    form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    form["bt_signature"] = "someone_else|" + form["bt_signature"].split("|", 1)[1]

    with pytest.raises(WebhookSignatureError):
        gateway.webhook_parse(body=urlencode(form).encode(), headers=headers)


def test_webhook_without_signature_is_rejected(gateway):
    with pytest.raises(WebhookSignatureError):
        gateway.webhook_parse(body=b"bt_payload=abc", headers={})


# --- status maps ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("authorized", PspPaymentStatus.PENDING),
        ("submitted_for_settlement", PspPaymentStatus.SUCCEEDED),
        ("settled", PspPaymentStatus.SUCCEEDED),
        ("settlement_declined", PspPaymentStatus.FAILED),
        ("processor_declined", PspPaymentStatus.FAILED),
        ("gateway_rejected", PspPaymentStatus.FAILED),
        ("voided", PspPaymentStatus.CANCELED),
        ("some_new_status", PspPaymentStatus.UNKNOWN),
        ("", PspPaymentStatus.UNKNOWN),
    ],
)
def test_payment_status_map(status, expected):
    assert payment_status_of(SimpleNamespace(status=status)) == expected


def test_unmapped_dispute_status_is_unknown():
    dispute = SimpleNamespace(
        id="dp_1", status="pre_arbitration_pending", currency_iso_code="EUR", amount_disputed="1"
    )
    assert "pre_arbitration_pending" not in DISPUTE_STATUS_MAP
    assert dispute_result_from(dispute).status == PspDisputeStatus.UNKNOWN
