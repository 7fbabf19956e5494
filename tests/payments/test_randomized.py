"""After a random mix of payments, refunds (partial, too large) and webhooks (dashboard refunds,
duplicates), the ledger balances and each payment's refunded total equals the PSP's."""

import random

import pytest
from django.test import Client

from payments.choices import PaymentStatus, RefundReason
from payments.exceptions import RefundExceedsRefundable
from payments.models import Payment
from payments.refunds import refund_request
from payments.services import payment_charge
from payments.webhooks.processing import drain

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.payments.urls")]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_sequence_keeps_ledger_and_psp_in_step(seed, account, stripe_psp, support_lead):
    from ledger.selectors import trial_balance

    rng = random.Random(seed)
    client = Client()
    sent_events: list[tuple[bytes, dict]] = []
    for _ in range(25):
        op = rng.choice(["pay", "pay", "refund", "refund", "dashboard", "redeliver"])
        paid = list(Payment.objects.filter(status=PaymentStatus.SUCCEEDED))
        if op == "pay" or not paid:
            card = rng.choice(["pm_card_visa", "pm_card_visa", "pm_card_chargeDeclined"])
            payment_charge(
                account=account,
                amount_minor=rng.randint(1_00, 300_00),
                currency=rng.choice(["EUR", "USD"]),
                provider="stripe",
                payment_method_id=card,
            )
        elif op == "refund":
            payment = rng.choice(paid)
            amount = rng.randint(1, payment.amount_minor)
            try:
                refund_request(
                    payment=payment,
                    amount_minor=amount,
                    actor=support_lead,
                    reason=RefundReason.REQUESTED_BY_CUSTOMER,
                )
            except RefundExceedsRefundable:
                pass
        elif op == "dashboard":
            payment = rng.choice(paid)
            charge = stripe_psp.charges[
                stripe_psp.payment_intents[payment.psp_payment_id]["latest_charge"]
            ]
            left = charge["amount_captured"] - charge["amount_refunded"]
            if left > 0:
                obj = stripe_psp.refund_outside(payment.psp_payment_id, rng.randint(1, left))
                event = stripe_psp.build_event(
                    rng.choice(["refund.created", "refund.updated"]), obj
                )
                sent_events.append(event)
                client.post(
                    "/webhooks/stripe",
                    data=event[0],
                    content_type="application/json",
                    headers=event[1],
                )
        elif op == "redeliver" and sent_events:
            body, headers = rng.choice(sent_events)
            client.post(
                "/webhooks/stripe", data=body, content_type="application/json", headers=headers
            )
        if rng.random() < 0.5:
            drain()
    drain()

    for payment in Payment.objects.filter(status=PaymentStatus.SUCCEEDED):
        pi = stripe_psp.payment_intents[payment.psp_payment_id]
        assert (
            payment.amount_refunded_minor
            == stripe_psp.charges[pi["latest_charge"]]["amount_refunded"]
        )
    balance = trial_balance()
    for currency, totals in balance.totals.items():
        assert totals.debit_minor == totals.credit_minor, currency
    assert balance.totals  # something was posted
