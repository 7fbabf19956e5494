"""Payments' own webhook handlers, registered in ``PaymentsConfig.ready``.

Stripe payment events carry the whole PaymentIntent, which is applied as it is: the status
transition table drops anything older than what we know, so out-of-order delivery cannot move a
payment backwards. Braintree notifications carry less, so the transaction is fetched from the PSP.
Objects we cannot place (no local row by PSP id or by our attempt key) are ignored with a note.
"""

from __future__ import annotations

import datetime as dt

from payments.choices import EventSource
from payments.gateways.base import ATTEMPT_METADATA_KEY, WebhookEvent
from payments.models import Payment, Refund
from payments.providers import gateway_for
from payments.webhooks.registry import Ignore, register


def _attempt_key(data: dict) -> str:
    metadata = data.get("metadata") if isinstance(data, dict) else None
    if isinstance(metadata, dict):
        return str(metadata.get(ATTEMPT_METADATA_KEY) or "")
    return ""


def find_payment(
    provider: str, psp_payment_id: str | None, attempt_key: str = ""
) -> Payment | None:
    if psp_payment_id:
        payment = Payment.objects.filter(provider=provider, psp_payment_id=psp_payment_id).first()
        if payment is not None:
            return payment
    if attempt_key:
        return Payment.objects.filter(provider=provider, attempt_key=attempt_key).first()
    return None


def on_payment_event(event: WebhookEvent, *, delivery) -> str:
    from payments.services import payment_record_result

    payment = find_payment(event.provider, event.object_id, _attempt_key(event.data))
    if payment is None:
        raise Ignore(f"payment {event.object_id} is not one of ours")
    if event.provider == "stripe" and event.data.get("object") == "payment_intent":
        from payments.gateways.stripe import payment_result_from_intent

        result = payment_result_from_intent(event.data)
    else:
        result = gateway_for(event.provider).payment_fetch(event.object_id)
    after = payment_record_result(
        payment_id=payment.pk, result=result, source=EventSource.PSP, kind=f"webhook:{event.kind}"
    )
    return f"payment #{payment.pk} {after.status}"


def _refund_result(event: WebhookEvent, refund_obj: dict | None = None):
    if event.provider == "stripe":
        from payments.gateways.stripe import refund_result_from_refund

        return refund_result_from_refund(refund_obj or event.data)
    return gateway_for(event.provider).refund_fetch(event.object_id)


def on_refund_event(event: WebhookEvent, *, delivery) -> str:
    from payments.refunds import refund_record_from_psp

    refund = refund_record_from_psp(provider=event.provider, result=_refund_result(event))
    if refund is None:
        raise Ignore(f"refund {event.object_id} concerns no payment of ours")
    return f"refund #{refund.pk} {refund.status}"


def on_charge_refunded(event: WebhookEvent, *, delivery) -> str:
    """Stripe's charge.refunded: record each refund the charge lists (dashboard ones included)."""
    from payments.refunds import refund_record_from_psp

    refunds = ((event.data.get("refunds") or {}).get("data")) or []
    payment = find_payment(event.provider, event.data.get("payment_intent"))
    if payment is None:
        raise Ignore(f"charge {event.object_id} is not one of ours")
    notes = []
    for obj in refunds:
        refund = refund_record_from_psp(provider=event.provider, result=_refund_result(event, obj))
        if refund is not None:
            notes.append(f"refund #{refund.pk} {refund.status}")
    if not refunds:
        # The charge did not list its refunds: they arrive as refund.* events of their own.
        notes.append(f"payment #{payment.pk}: waiting for the refund events")
    return ", ".join(notes)


def on_braintree_transaction(event: WebhookEvent, *, delivery) -> str:
    """transaction_settled / transaction_settlement_declined: a sale or a refund (credit)."""
    from payments.refunds import refund_record_result
    from payments.services import payment_record_result

    gateway = gateway_for(event.provider)
    refund = Refund.objects.filter(provider=event.provider, psp_refund_id=event.object_id).first()
    if refund is not None:
        result = gateway.refund_fetch(event.object_id)
        refund = refund_record_result(refund_id=refund.pk, result=result, source=EventSource.PSP)
        return f"refund #{refund.pk} {refund.status}"
    payment = find_payment(event.provider, event.object_id)
    if payment is None:
        raise Ignore(f"transaction {event.object_id} is not one of ours")
    result = gateway.payment_fetch(event.object_id)
    payment = payment_record_result(
        payment_id=payment.pk, result=result, source=EventSource.PSP, kind=f"webhook:{event.kind}"
    )
    return f"payment #{payment.pk} {payment.status}"


def on_disbursement(event: WebhookEvent, *, delivery) -> str:
    from payments.reconciliation import payouts_import

    since = event.occurred_at - dt.timedelta(days=3)
    imported = payouts_import(provider=event.provider, since=since)
    return f"{len(imported)} payout(s) imported"


def _carries_payment_intent(event: WebhookEvent) -> bool:
    return event.provider == "stripe" and event.data.get("object") == "payment_intent"


def _from_stripe(event: WebhookEvent) -> bool:
    # Stripe's refund and charge events carry the whole object: nothing is fetched.
    return event.provider == "stripe"


def register_builtin() -> None:
    for kind in ("payment.succeeded", "payment.failed", "payment.processing", "payment.canceled"):
        register(kind, on_payment_event, db_only=_carries_payment_intent)
    register("refund.updated", on_refund_event, db_only=_from_stripe)
    register("charge.refunded", on_charge_refunded, db_only=_from_stripe)
    register("transaction.settled", on_braintree_transaction)
    register("transaction.settlement_declined", on_braintree_transaction)
    register("disbursement", on_disbursement)
