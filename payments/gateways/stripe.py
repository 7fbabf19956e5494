"""Stripe adapter: PaymentIntents, refunds, disputes, payouts and signed webhooks.

Every write carries the caller's idempotency key (Stripe's ``Idempotency-Key``) and every charge
carries it again in ``metadata[paydesk_attempt]`` so an attempt whose answer was lost can be found
with the search API. The SDK never retries on its own (``max_network_retries=0``): retrying is the
caller's decision, with the same key.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import stripe

from payments.gateways.base import (
    ATTEMPT_METADATA_KEY,
    ChargeRequest,
    CustomerRequest,
    CustomerResult,
    DisputeResult,
    GatewayError,
    GatewayNotFound,
    GatewayRequestError,
    GatewayUnavailable,
    PaymentMethodResult,
    PaymentResult,
    Payout,
    PspDisputeStatus,
    PspPaymentStatus,
    PspRefundStatus,
    RefundRequest,
    RefundResult,
    SettlementLine,
    SettlementLineKind,
    StripeConfig,
    WebhookEvent,
    WebhookSignatureError,
    header,
    map_status,
)

PAYMENT_STATUS_MAP: dict[str, PspPaymentStatus] = {
    # A fresh intent waits for a method; after a failed confirmation it carries last_payment_error
    # and is reported FAILED instead (see _payment_status).
    "requires_payment_method": PspPaymentStatus.PENDING,
    "requires_confirmation": PspPaymentStatus.PENDING,
    "requires_action": PspPaymentStatus.REQUIRES_ACTION,
    "processing": PspPaymentStatus.PROCESSING,
    # Authorised, not yet captured: not final, nothing captured.
    "requires_capture": PspPaymentStatus.PENDING,
    "succeeded": PspPaymentStatus.SUCCEEDED,
    "canceled": PspPaymentStatus.CANCELED,
}

REFUND_STATUS_MAP: dict[str, PspRefundStatus] = {
    "pending": PspRefundStatus.PENDING,
    "requires_action": PspRefundStatus.PENDING,
    "succeeded": PspRefundStatus.SUCCEEDED,
    "failed": PspRefundStatus.FAILED,
    "canceled": PspRefundStatus.CANCELED,
}

DISPUTE_STATUS_MAP: dict[str, PspDisputeStatus] = {
    "warning_needs_response": PspDisputeStatus.NEEDS_RESPONSE,
    "needs_response": PspDisputeStatus.NEEDS_RESPONSE,
    "warning_under_review": PspDisputeStatus.UNDER_REVIEW,
    "under_review": PspDisputeStatus.UNDER_REVIEW,
    "won": PspDisputeStatus.WON,
    "lost": PspDisputeStatus.LOST,
    "warning_closed": PspDisputeStatus.WARNING_CLOSED,
}

PAYOUT_STATUS_MAP: dict[str, str] = {
    "pending": "pending",
    "in_transit": "in_transit",
    "paid": "paid",
    "failed": "failed",
    "canceled": "canceled",
}

WEBHOOK_KIND_MAP: dict[str, str] = {
    "payment_intent.succeeded": "payment.succeeded",
    "payment_intent.payment_failed": "payment.failed",
    "payment_intent.processing": "payment.processing",
    "payment_intent.canceled": "payment.canceled",
    "charge.refunded": "charge.refunded",
    "refund.created": "refund.updated",
    "refund.updated": "refund.updated",
    "refund.failed": "refund.updated",
    "charge.refund.updated": "refund.updated",
    "charge.dispute.created": "dispute.created",
    "charge.dispute.updated": "dispute.updated",
    "charge.dispute.funds_withdrawn": "dispute.updated",
    "charge.dispute.funds_reinstated": "dispute.updated",
    "charge.dispute.closed": "dispute.closed",
    "payout.paid": "disbursement",
    "payout.failed": "disbursement",
}

# Balance transaction type -> settlement line kind; "payout" rows are the payout itself.
BALANCE_TYPE_MAP: dict[str, SettlementLineKind] = {
    "charge": SettlementLineKind.CHARGE,
    "payment": SettlementLineKind.CHARGE,
    "refund": SettlementLineKind.REFUND,
    "payment_refund": SettlementLineKind.REFUND,
    "payment_failure_refund": SettlementLineKind.REFUND,
    "stripe_fee": SettlementLineKind.FEE,
    "application_fee": SettlementLineKind.FEE,
    "tax_fee": SettlementLineKind.FEE,
    "adjustment": SettlementLineKind.ADJUSTMENT,
}

# Stripe accepts only these refund reasons; anything else travels in metadata.
STRIPE_REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})

_PI_EXPAND = ["latest_charge.balance_transaction"]


def _payment_status(pi: dict[str, Any]) -> PspPaymentStatus:
    status = pi.get("status")
    if status == "requires_payment_method" and pi.get("last_payment_error"):
        return PspPaymentStatus.FAILED
    return map_status(PAYMENT_STATUS_MAP, status, PspPaymentStatus.UNKNOWN)


def _ts(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value, tz=UTC) if value else None


def _date(value: int | None) -> date | None:
    moment = _ts(value)
    return moment.date() if moment else None


def _id_of(value: Any) -> str | None:
    """Stripe fields hold either an id or the expanded object."""
    if isinstance(value, dict):
        return value.get("id")
    return value or None


def _as_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, stripe.StripeObject):
        return obj.to_dict()
    return dict(obj or {})


def payment_result_from_intent(pi: dict[str, Any]) -> PaymentResult:
    charge = pi.get("latest_charge") if isinstance(pi.get("latest_charge"), dict) else {}
    balance_txn = charge.get("balance_transaction")
    fee = balance_txn.get("fee") if isinstance(balance_txn, dict) else None
    error = pi.get("last_payment_error") or {}
    status = _payment_status(pi)
    return PaymentResult(
        psp_payment_id=pi["id"],
        status=status,
        amount_minor=pi["amount"],
        currency=pi["currency"].upper(),
        amount_captured_minor=pi.get("amount_received") or 0,
        amount_refunded_minor=charge.get("amount_refunded") or 0,
        decline_code=(error.get("decline_code") or error.get("code") or "")
        if status == PspPaymentStatus.FAILED
        else "",
        failure_message=error.get("message") or "",
        fee_minor=fee,
        raw=pi,
    )


def refund_result_from_refund(refund: dict[str, Any]) -> RefundResult:
    return RefundResult(
        psp_refund_id=refund["id"],
        psp_payment_id=_id_of(refund.get("payment_intent")) or _id_of(refund.get("charge")) or "",
        status=map_status(REFUND_STATUS_MAP, refund.get("status"), PspRefundStatus.UNKNOWN),
        amount_minor=refund["amount"],
        currency=refund["currency"].upper(),
        failure_reason=refund.get("failure_reason") or "",
        raw=refund,
    )


def dispute_result_from_dispute(dispute: dict[str, Any]) -> DisputeResult:
    details = dispute.get("evidence_details") or {}
    return DisputeResult(
        psp_dispute_id=dispute["id"],
        psp_payment_id=_id_of(dispute.get("payment_intent")) or _id_of(dispute.get("charge")),
        status=map_status(DISPUTE_STATUS_MAP, dispute.get("status"), PspDisputeStatus.UNKNOWN),
        amount_minor=dispute["amount"],
        currency=dispute["currency"].upper(),
        reason=dispute.get("reason") or "",
        evidence_due_by=_ts(details.get("due_by")),
        raw=dispute,
    )


def settlement_line_from_balance_txn(txn: dict[str, Any]) -> SettlementLine | None:
    if txn.get("type") == "payout":
        return None
    source = txn.get("source")
    source_obj = source if isinstance(source, dict) else {}
    kind = BALANCE_TYPE_MAP.get(txn.get("type") or "", SettlementLineKind.ADJUSTMENT)
    if txn.get("reporting_category") == "dispute" or source_obj.get("object") == "dispute":
        kind = SettlementLineKind.DISPUTE
    return SettlementLine(
        kind=kind,
        psp_object_id=_id_of(source) or txn["id"],
        psp_payment_id=_id_of(source_obj.get("payment_intent")),
        gross_minor=txn["amount"],
        fee_minor=txn.get("fee") or 0,
        net_minor=txn["net"],
        currency=txn["currency"].upper(),
    )


def _request_error(exc: stripe.StripeError) -> GatewayRequestError:
    code = getattr(exc, "code", None) or "invalid_request"
    message = getattr(exc, "user_message", None) or str(exc)
    if exc.http_status == 404 or code == "resource_missing":
        return GatewayNotFound(message, code=code)
    return GatewayRequestError(message, code=code)


def _is_unavailable(exc: stripe.StripeError) -> bool:
    """Errors after which Stripe may or may not have acted."""
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError):
        return True
    return isinstance(exc, stripe.APIError) and (exc.http_status or 500) >= 500


def _raise_for(exc: stripe.StripeError) -> None:
    """Turn an SDK error that is not an outcome into ours."""
    if _is_unavailable(exc):
        raise GatewayUnavailable(str(exc)) from exc
    if isinstance(exc, stripe.IdempotencyError):
        raise GatewayRequestError(str(exc), code="idempotency_error") from exc
    if isinstance(exc, stripe.InvalidRequestError | stripe.CardError):
        raise _request_error(exc) from exc
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        raise GatewayError(str(exc), code="gateway_auth") from exc
    raise GatewayError(str(exc)) from exc


class StripeGateway:
    provider = "stripe"

    def __init__(self, config: StripeConfig) -> None:
        self.config = config
        base_addresses = {"api": config.api_base} if config.api_base else None
        self._client = stripe.StripeClient(
            config.secret_key,
            base_addresses=base_addresses,
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=config.timeout_s),
        )
        self._v1 = self._client.v1

    # --- customers and payment methods --------------------------------------------------------

    def customer_create(self, req: CustomerRequest) -> CustomerResult:
        params: dict[str, Any] = {"metadata": dict(req.metadata)}
        if req.email:
            params["email"] = req.email
        if req.name:
            params["name"] = req.name
        try:
            customer = self._v1.customers.create(
                params=params, options={"idempotency_key": req.idempotency_key}
            )
        except stripe.StripeError as exc:
            _raise_for(exc)
        return CustomerResult(psp_customer_id=customer.id)

    def payment_method_attach(self, *, psp_customer_id: str, token: str) -> PaymentMethodResult:
        try:
            pm = self._v1.payment_methods.attach(token, params={"customer": psp_customer_id})
        except stripe.StripeError as exc:
            _raise_for(exc)
        card = _as_dict(pm).get("card") or {}
        return PaymentMethodResult(
            psp_payment_method_id=pm.id,
            brand=card.get("brand") or "",
            last4=card.get("last4") or "",
            exp_month=card.get("exp_month"),
            exp_year=card.get("exp_year"),
        )

    # --- payments -----------------------------------------------------------------------------

    def charge(self, req: ChargeRequest) -> PaymentResult:
        params: dict[str, Any] = {
            "amount": req.amount_minor,
            "currency": req.currency.lower(),
            "customer": req.psp_customer_id,
            "payment_method": req.payment_method_id,
            "confirm": True,
            "off_session": True,
            "capture_method": "automatic" if req.capture else "manual",
            "metadata": {**req.metadata, ATTEMPT_METADATA_KEY: req.idempotency_key},
            "expand": _PI_EXPAND,
        }
        if req.description:
            params["description"] = req.description
        try:
            pi = self._v1.payment_intents.create(
                params=params, options={"idempotency_key": req.idempotency_key}
            )
        except stripe.CardError as exc:
            return self._card_error_result(exc, req)
        except stripe.StripeError as exc:
            if _is_unavailable(exc):
                return PaymentResult(
                    psp_payment_id=None,
                    status=PspPaymentStatus.UNKNOWN,
                    amount_minor=req.amount_minor,
                    currency=req.currency.upper(),
                    failure_message=str(exc),
                )
            _raise_for(exc)
        return payment_result_from_intent(_as_dict(pi))

    def _card_error_result(self, exc: stripe.CardError, req: ChargeRequest) -> PaymentResult:
        body = (exc.json_body or {}).get("error") or {}
        pi = body.get("payment_intent") or {}
        code = exc.code or ""
        # Off-session charges that need the customer to authenticate fail with this code;
        # the customer has to come back on-session, which is not a decline of the card.
        status = (
            PspPaymentStatus.REQUIRES_ACTION
            if code == "authentication_required"
            else PspPaymentStatus.FAILED
        )
        return PaymentResult(
            psp_payment_id=pi.get("id"),
            status=status,
            amount_minor=pi.get("amount", req.amount_minor),
            currency=(pi.get("currency") or req.currency).upper(),
            decline_code=body.get("decline_code") or code,
            failure_message=body.get("message") or str(exc),
            raw=pi,
        )

    def capture(
        self, *, psp_payment_id: str, amount_minor: int | None, idempotency_key: str
    ) -> PaymentResult:
        params: dict[str, Any] = {"expand": _PI_EXPAND}
        if amount_minor is not None:
            params["amount_to_capture"] = amount_minor
        return self._payment_write(
            lambda: self._v1.payment_intents.capture(
                psp_payment_id, params=params, options={"idempotency_key": idempotency_key}
            ),
            psp_payment_id,
            amount_minor,
        )

    def void(self, *, psp_payment_id: str, idempotency_key: str) -> PaymentResult:
        return self._payment_write(
            lambda: self._v1.payment_intents.cancel(
                psp_payment_id,
                params={"expand": _PI_EXPAND},
                options={"idempotency_key": idempotency_key},
            ),
            psp_payment_id,
            None,
        )

    def _payment_write(self, call, psp_payment_id: str, amount_minor: int | None) -> PaymentResult:
        try:
            pi = call()
        except stripe.StripeError as exc:
            if _is_unavailable(exc):
                return PaymentResult(
                    psp_payment_id=psp_payment_id,
                    status=PspPaymentStatus.UNKNOWN,
                    amount_minor=amount_minor or 0,
                    currency="",
                    failure_message=str(exc),
                )
            _raise_for(exc)
        return payment_result_from_intent(_as_dict(pi))

    def payment_fetch(self, psp_payment_id: str) -> PaymentResult:
        try:
            pi = self._v1.payment_intents.retrieve(psp_payment_id, params={"expand": _PI_EXPAND})
        except stripe.StripeError as exc:
            _raise_for(exc)
        return payment_result_from_intent(_as_dict(pi))

    def payment_find_by_idempotency_key(self, key: str) -> PaymentResult | None:
        escaped = key.replace("\\", "\\\\").replace("'", "\\'")
        try:
            found = self._v1.payment_intents.search(
                params={
                    "query": f"metadata['{ATTEMPT_METADATA_KEY}']:'{escaped}'",
                    "expand": [f"data.{path}" for path in _PI_EXPAND],
                }
            )
        except stripe.StripeError as exc:
            _raise_for(exc)
        results = [payment_result_from_intent(_as_dict(pi)) for pi in found.data]
        if not results:
            return None
        # One key should only ever have one intent; if Stripe holds several, the one that took
        # money is the one that matters.
        for result in results:
            if result.status not in (PspPaymentStatus.FAILED, PspPaymentStatus.CANCELED):
                return result
        return results[0]

    # --- refunds and disputes -----------------------------------------------------------------

    def refund(self, req: RefundRequest) -> RefundResult:
        metadata = {ATTEMPT_METADATA_KEY: req.idempotency_key}
        params: dict[str, Any] = {"payment_intent": req.psp_payment_id, "amount": req.amount_minor}
        if req.reason in STRIPE_REFUND_REASONS:
            params["reason"] = req.reason
        elif req.reason:
            metadata["reason"] = req.reason[:500]
        params["metadata"] = metadata
        try:
            refund = self._v1.refunds.create(
                params=params, options={"idempotency_key": req.idempotency_key}
            )
        except stripe.StripeError as exc:
            if _is_unavailable(exc):
                return RefundResult(
                    psp_refund_id=None,
                    psp_payment_id=req.psp_payment_id,
                    status=PspRefundStatus.UNKNOWN,
                    amount_minor=req.amount_minor,
                    currency=req.currency.upper(),
                    failure_reason=str(exc),
                )
            _raise_for(exc)
        return refund_result_from_refund(_as_dict(refund))

    def refund_fetch(self, psp_refund_id: str) -> RefundResult:
        try:
            refund = self._v1.refunds.retrieve(psp_refund_id)
        except stripe.StripeError as exc:
            _raise_for(exc)
        return refund_result_from_refund(_as_dict(refund))

    def dispute_fetch(self, psp_dispute_id: str) -> DisputeResult:
        try:
            dispute = self._v1.disputes.retrieve(psp_dispute_id)
        except stripe.StripeError as exc:
            _raise_for(exc)
        return dispute_result_from_dispute(_as_dict(dispute))

    # --- payouts ------------------------------------------------------------------------------

    def payouts_list(self, *, since: datetime) -> list[Payout]:
        payouts: list[Payout] = []
        try:
            listing = self._v1.payouts.list(
                params={"created": {"gte": int(since.timestamp())}, "limit": 100}
            )
            for po in listing.auto_paging_iter():
                payouts.append(self._payout(_as_dict(po)))
        except stripe.StripeError as exc:
            _raise_for(exc)
        return payouts

    def _payout(self, po: dict[str, Any]) -> Payout:
        txns = self._v1.balance_transactions.list(
            params={"payout": po["id"], "limit": 100, "expand": ["data.source"]}
        )
        lines = []
        for txn in txns.auto_paging_iter():
            line = settlement_line_from_balance_txn(_as_dict(txn))
            if line is not None:
                lines.append(line)
        return Payout(
            psp_payout_id=po["id"],
            amount_minor=po["amount"],
            currency=po["currency"].upper(),
            arrival_date=_date(po.get("arrival_date")),
            status=PAYOUT_STATUS_MAP.get(po.get("status") or "", "unknown"),
            lines=lines,
        )

    # --- webhooks -----------------------------------------------------------------------------

    def webhook_parse(self, *, body: bytes, headers: dict[str, str]) -> WebhookEvent:
        signature = header(headers, "Stripe-Signature")
        try:
            stripe.WebhookSignature.verify_header(
                body, signature, self.config.webhook_secret, self.config.webhook_tolerance_s
            )
        except stripe.SignatureVerificationError as exc:
            raise WebhookSignatureError(str(exc)) from exc
        try:
            event = json.loads(body)
            obj = event["data"]["object"]
            event_id, psp_type, created = event["id"], event["type"], event["created"]
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookSignatureError("malformed event body", code="webhook_malformed") from exc
        return WebhookEvent(
            provider=self.provider,
            event_id=event_id,
            kind=WEBHOOK_KIND_MAP.get(psp_type, "other"),
            psp_type=psp_type,
            object_id=obj.get("id") if isinstance(obj, dict) else None,
            occurred_at=datetime.fromtimestamp(created, tz=UTC),
            data=obj if isinstance(obj, dict) else {},
        )
