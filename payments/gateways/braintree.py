"""Braintree adapter: transactions (sale, submit for settlement, void, refund), disputes,
settlement batches and signed webhook notifications.

Braintree has no idempotency keys. The caller's key travels as the transaction's ``order_id``,
and before every sale or refund the adapter searches for a transaction with that ``order_id``:
a retry after a lost answer finds the first attempt instead of charging twice. Amounts cross
the wire as decimal strings in the currency's exponent (Babel's CLDR data).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import braintree as bt
from babel.numbers import get_currency_precision
from braintree.exceptions import (
    AuthenticationError,
    AuthorizationError,
    InvalidSignatureError,
    NotFoundError,
)
from braintree.exceptions.braintree_error import BraintreeError
from braintree.util.xml_util import XmlUtil

from payments.gateways.base import (
    BraintreeConfig,
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
    WebhookEvent,
    WebhookSignatureError,
    map_status,
)

PAYMENT_STATUS_MAP: dict[str, PspPaymentStatus] = {
    "authorizing": PspPaymentStatus.PENDING,
    # Authorised, not submitted: not final, nothing captured.
    "authorized": PspPaymentStatus.PENDING,
    # Braintree has accepted the capture; settling is a matter of the batch, not of the card.
    "submitted_for_settlement": PspPaymentStatus.SUCCEEDED,
    "settlement_pending": PspPaymentStatus.SUCCEEDED,
    "settling": PspPaymentStatus.SUCCEEDED,
    "settled": PspPaymentStatus.SUCCEEDED,
    "settlement_confirmed": PspPaymentStatus.SUCCEEDED,
    "settlement_declined": PspPaymentStatus.FAILED,
    "settlement_failed": PspPaymentStatus.FAILED,
    "processor_declined": PspPaymentStatus.FAILED,
    "gateway_rejected": PspPaymentStatus.FAILED,
    "failed": PspPaymentStatus.FAILED,
    "authorization_expired": PspPaymentStatus.CANCELED,
    "voided": PspPaymentStatus.CANCELED,
}

# A refund is a "credit" transaction; money is back with the customer once it settled.
REFUND_STATUS_MAP: dict[str, PspRefundStatus] = {
    "submitted_for_settlement": PspRefundStatus.PENDING,
    "settlement_pending": PspRefundStatus.PENDING,
    "settling": PspRefundStatus.PENDING,
    "settled": PspRefundStatus.SUCCEEDED,
    "settlement_confirmed": PspRefundStatus.SUCCEEDED,
    "settlement_declined": PspRefundStatus.FAILED,
    "settlement_failed": PspRefundStatus.FAILED,
    "processor_declined": PspRefundStatus.FAILED,
    "gateway_rejected": PspRefundStatus.FAILED,
    "failed": PspRefundStatus.FAILED,
    "voided": PspRefundStatus.CANCELED,
}

DISPUTE_STATUS_MAP: dict[str, PspDisputeStatus] = {
    "open": PspDisputeStatus.NEEDS_RESPONSE,
    "disputed": PspDisputeStatus.UNDER_REVIEW,
    "under_review": PspDisputeStatus.UNDER_REVIEW,
    "won": PspDisputeStatus.WON,
    "lost": PspDisputeStatus.LOST,
    "accepted": PspDisputeStatus.LOST,
    "auto_accepted": PspDisputeStatus.LOST,
    "expired": PspDisputeStatus.LOST,
}

WEBHOOK_KIND_MAP: dict[str, str] = {
    "transaction_settled": "transaction.settled",
    "transaction_settlement_declined": "transaction.settlement_declined",
    "dispute_opened": "dispute.created",
    "dispute_disputed": "dispute.updated",
    "dispute_under_review": "dispute.updated",
    "dispute_won": "dispute.closed",
    "dispute_lost": "dispute.closed",
    "dispute_accepted": "dispute.closed",
    "dispute_auto_accepted": "dispute.closed",
    "dispute_expired": "dispute.closed",
    "disbursement": "disbursement",
    "refund_failed": "refund.updated",
    "subscription_charged_unsuccessfully": "subscription.charged_unsuccessfully",
}

# Connection errors and timeouts are UnexpectedError subclasses (with wrap_http_exceptions).
_UNAVAILABLE = (
    bt.exceptions.ServerError,
    bt.exceptions.ServiceUnavailableError,
    bt.exceptions.GatewayTimeoutError,
    bt.exceptions.RequestTimeoutError,
    bt.exceptions.TooManyRequestsError,
    bt.exceptions.UnexpectedError,
)

_CAPTURED = {"submitted_for_settlement", "settlement_pending", "settling", "settled"}
_REFUND_LIVE = {"submitted_for_settlement", "settlement_pending", "settling", "settled"}


def minor_to_decimal_str(minor: int, currency: str) -> str:
    """1050, "EUR" -> "10.50"; 1050, "JPY" -> "1050"."""
    exponent = get_currency_precision(currency.upper())
    return str((Decimal(minor).scaleb(-exponent)).quantize(Decimal(1).scaleb(-exponent)))


def decimal_to_minor(amount: Decimal | str, currency: str) -> int:
    exponent = get_currency_precision(currency.upper())
    value = Decimal(str(amount)).scaleb(exponent)
    if value != value.to_integral_value():
        raise ValueError(f"{amount} has more decimals than {currency} allows")
    return int(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "_setattrs"):
        return {k: _jsonable(getattr(value, k, None)) for k in value._setattrs}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _aware(value: datetime | date | None) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(23, 59, 59))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _get(obj: Any, name: str, default: Any = None) -> Any:
    value = getattr(obj, name, default)
    return default if value == "" else value


def payment_status_of(txn: Any) -> PspPaymentStatus:
    return map_status(PAYMENT_STATUS_MAP, _get(txn, "status"), PspPaymentStatus.UNKNOWN)


def _error_code(result: Any) -> tuple[str, str]:
    errors = result.errors.deep_errors if getattr(result, "errors", None) else []
    if errors:
        return str(errors[0].code), errors[0].message
    return "validation_error", getattr(result, "message", "") or ""


class BraintreeGateway:
    provider = "braintree"

    def __init__(self, config: BraintreeConfig) -> None:
        self.config = config
        self.merchant_account_ids = {k.upper(): v for k, v in config.merchant_account_ids.items()}
        self._gateway = bt.BraintreeGateway(
            bt.Configuration(
                environment=self._environment(config.environment),
                merchant_id=config.merchant_id,
                public_key=config.public_key,
                private_key=config.private_key,
                timeout=config.timeout_s,
                wrap_http_exceptions=True,
            )
        )

    @staticmethod
    def _environment(name: str) -> bt.Environment:
        if name in ("sandbox", "production"):
            return bt.Environment.All[name]
        host, _, port = name.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(
                f"Braintree environment must be sandbox, production or host:port: {name}"
            )
        # A local fake speaks plain HTTP (the SDK picks https only for port 443).
        return bt.Environment("fake", host, port, f"http://{host}:{port}", False, None)

    # --- plumbing -----------------------------------------------------------------------------

    def _read(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except NotFoundError as exc:
            raise GatewayNotFound(str(exc) or "not found", code="not_found") from exc
        except _UNAVAILABLE as exc:
            raise GatewayUnavailable(str(exc) or type(exc).__name__) from exc
        except (AuthenticationError, AuthorizationError) as exc:
            raise GatewayError(type(exc).__name__, code="gateway_auth") from exc
        except BraintreeError as exc:
            raise GatewayError(str(exc) or type(exc).__name__) from exc

    def _find(self, txn_id: str) -> Any:
        return self._read(lambda: self._gateway.transaction.find(txn_id))

    def _search_order_id(self, key: str, txn_type: str) -> list[Any]:
        search = bt.TransactionSearch
        found = self._read(
            lambda: list(
                self._gateway.transaction.search(search.order_id == key, search.type == txn_type)
            )
        )
        return sorted(found, key=lambda t: _get(t, "created_at") or datetime.min)

    def _payment_result(self, txn: Any) -> PaymentResult:
        currency = _get(txn, "currency_iso_code", "")
        status = payment_status_of(txn)
        refunded = 0
        for refund_id in _get(txn, "refund_ids") or []:
            refund = self._find(refund_id)
            if _get(refund, "status") in _REFUND_LIVE:
                refunded += decimal_to_minor(refund.amount, currency)
        decline = ""
        if status == PspPaymentStatus.FAILED:
            decline = (
                _get(txn, "processor_response_code")
                or _get(txn, "gateway_rejection_reason")
                or _get(txn, "processor_settlement_response_code")
                or _get(txn, "status")
            )
        amount = decimal_to_minor(txn.amount, currency)
        return PaymentResult(
            psp_payment_id=txn.id,
            status=status,
            amount_minor=amount,
            currency=currency.upper(),
            amount_captured_minor=amount if _get(txn, "status") in _CAPTURED else 0,
            amount_refunded_minor=refunded,
            decline_code=str(decline or ""),
            failure_message=_get(txn, "processor_response_text", "")
            if status == PspPaymentStatus.FAILED
            else "",
            # Braintree reports fees per settlement statement, not per transaction.
            fee_minor=None,
            raw=_jsonable(txn),
        )

    def _refund_result(self, txn: Any) -> RefundResult:
        currency = _get(txn, "currency_iso_code", "")
        status = map_status(REFUND_STATUS_MAP, _get(txn, "status"), PspRefundStatus.UNKNOWN)
        return RefundResult(
            psp_refund_id=txn.id,
            psp_payment_id=_get(txn, "refunded_transaction_id", ""),
            status=status,
            amount_minor=decimal_to_minor(txn.amount, currency),
            currency=currency.upper(),
            failure_reason=_get(txn, "processor_response_text", "")
            if status == PspRefundStatus.FAILED
            else "",
            raw=_jsonable(txn),
        )

    def _write_txn(self, call: Callable[[], Any]) -> Any:
        """Run a transaction write; return the transaction or raise for refusals.

        Returns None when Braintree could not be heard (the write may have happened).
        """
        try:
            result = call()
        except NotFoundError as exc:
            raise GatewayNotFound(str(exc) or "not found", code="not_found") from exc
        except _UNAVAILABLE:
            return None
        except (AuthenticationError, AuthorizationError) as exc:
            raise GatewayError(type(exc).__name__, code="gateway_auth") from exc
        if result.is_success:
            return result.transaction
        if getattr(result, "transaction", None) is not None:
            return result.transaction  # a decline: a result, not an error
        code, message = _error_code(result)
        raise GatewayRequestError(message, code=code)

    # --- customers and payment methods --------------------------------------------------------

    def customer_create(self, req: CustomerRequest) -> CustomerResult:
        params: dict[str, Any] = {}
        if req.email:
            params["email"] = req.email
        if req.name:
            params["company"] = req.name[:255]
        result = self._read(lambda: self._gateway.customer.create(params))
        if not result.is_success:
            code, message = _error_code(result)
            raise GatewayRequestError(message, code=code)
        return CustomerResult(psp_customer_id=result.customer.id)

    def payment_method_attach(self, *, psp_customer_id: str, token: str) -> PaymentMethodResult:
        result = self._read(
            lambda: self._gateway.payment_method.create(
                {"customer_id": psp_customer_id, "payment_method_nonce": token}
            )
        )
        if not result.is_success:
            code, message = _error_code(result)
            raise GatewayRequestError(message, code=code)
        pm = result.payment_method
        return PaymentMethodResult(
            psp_payment_method_id=pm.token,
            brand=(_get(pm, "card_type") or "").lower(),
            last4=_get(pm, "last_4") or "",
            exp_month=int(pm.expiration_month) if _get(pm, "expiration_month") else None,
            exp_year=int(pm.expiration_year) if _get(pm, "expiration_year") else None,
        )

    # --- payments -----------------------------------------------------------------------------

    def charge(self, req: ChargeRequest) -> PaymentResult:
        unknown = PaymentResult(
            psp_payment_id=None,
            status=PspPaymentStatus.UNKNOWN,
            amount_minor=req.amount_minor,
            currency=req.currency.upper(),
        )
        try:
            earlier = self._search_order_id(req.idempotency_key, "sale")
        except GatewayUnavailable:
            return unknown
        if earlier:
            return self._payment_result(earlier[-1])
        params: dict[str, Any] = {
            "amount": minor_to_decimal_str(req.amount_minor, req.currency),
            "customer_id": req.psp_customer_id,
            "payment_method_token": req.payment_method_id,
            "order_id": req.idempotency_key,
            "transaction_source": "unscheduled",
            "options": {"submit_for_settlement": req.capture},
        }
        if req.currency.upper() in self.merchant_account_ids:
            params["merchant_account_id"] = self.merchant_account_ids[req.currency.upper()]
        txn = self._write_txn(lambda: self._gateway.transaction.sale(params))
        if txn is None:
            return unknown
        return self._payment_result(txn)

    def capture(
        self, *, psp_payment_id: str, amount_minor: int | None, idempotency_key: str
    ) -> PaymentResult:
        txn = self._find(psp_payment_id)
        if _get(txn, "status") in _CAPTURED:
            return self._payment_result(txn)  # a retried capture: already done
        currency = txn.currency_iso_code
        amount = None if amount_minor is None else minor_to_decimal_str(amount_minor, currency)
        done = self._write_txn(
            lambda: self._gateway.transaction.submit_for_settlement(psp_payment_id, amount)
        )
        if done is None:
            return PaymentResult(
                psp_payment_id=psp_payment_id,
                status=PspPaymentStatus.UNKNOWN,
                amount_minor=amount_minor or decimal_to_minor(txn.amount, currency),
                currency=currency.upper(),
            )
        return self._payment_result(done)

    def void(self, *, psp_payment_id: str, idempotency_key: str) -> PaymentResult:
        txn = self._find(psp_payment_id)
        if _get(txn, "status") == "voided":
            return self._payment_result(txn)
        done = self._write_txn(lambda: self._gateway.transaction.void(psp_payment_id))
        if done is None:
            return PaymentResult(
                psp_payment_id=psp_payment_id,
                status=PspPaymentStatus.UNKNOWN,
                amount_minor=decimal_to_minor(txn.amount, txn.currency_iso_code),
                currency=txn.currency_iso_code.upper(),
            )
        return self._payment_result(done)

    def payment_fetch(self, psp_payment_id: str) -> PaymentResult:
        return self._payment_result(self._find(psp_payment_id))

    def payment_find_by_idempotency_key(self, key: str) -> PaymentResult | None:
        found = self._search_order_id(key, "sale")
        return self._payment_result(found[-1]) if found else None

    # --- refunds and disputes -----------------------------------------------------------------

    def refund(self, req: RefundRequest) -> RefundResult:
        unknown = RefundResult(
            psp_refund_id=None,
            psp_payment_id=req.psp_payment_id,
            status=PspRefundStatus.UNKNOWN,
            amount_minor=req.amount_minor,
            currency=req.currency.upper(),
        )
        try:
            earlier = [
                t
                for t in self._search_order_id(req.idempotency_key, "credit")
                if _get(t, "refunded_transaction_id") == req.psp_payment_id
            ]
        except GatewayUnavailable:
            return unknown
        if earlier:
            return self._refund_result(earlier[-1])
        options = {
            "amount": minor_to_decimal_str(req.amount_minor, req.currency),
            "order_id": req.idempotency_key,
        }
        txn = self._write_txn(lambda: self._gateway.transaction.refund(req.psp_payment_id, options))
        if txn is None:
            return unknown
        return self._refund_result(txn)

    def refund_fetch(self, psp_refund_id: str) -> RefundResult:
        txn = self._find(psp_refund_id)
        if _get(txn, "type") != "credit":
            raise GatewayNotFound(f"{psp_refund_id} is not a refund", code="not_found")
        return self._refund_result(txn)

    def dispute_fetch(self, psp_dispute_id: str) -> DisputeResult:
        dispute = self._read(lambda: self._gateway.dispute.find(psp_dispute_id))
        return dispute_result_from(dispute)

    # --- settlement ---------------------------------------------------------------------------

    def payouts_list(self, *, since: datetime) -> list[Payout]:
        """One entry per settlement date and merchant account (Braintree's settlement batch)."""
        payouts: list[Payout] = []
        day, today = since.astimezone(UTC).date(), datetime.now(UTC).date()
        while day <= today:
            payouts.extend(self._settlement_batch(day))
            day += timedelta(days=1)
        return payouts

    def _settlement_batch(self, day: date) -> list[Payout]:
        result = self._read(
            lambda: self._gateway.settlement_batch_summary.generate(day.isoformat())
        )
        if not result.is_success:
            code, message = _error_code(result)
            raise GatewayRequestError(message, code=code)
        records = result.settlement_batch_summary.records or []
        if not records:
            return []
        start = datetime.combine(day, time.min)
        search = bt.TransactionSearch
        txns = self._read(
            lambda: list(
                self._gateway.transaction.search(
                    search.settled_at.between(
                        start, start + timedelta(days=1) - timedelta(seconds=1)
                    )
                )
            )
        )
        by_account: dict[str, list[SettlementLine]] = {}
        for txn in txns:
            currency = txn.currency_iso_code.upper()
            amount = decimal_to_minor(txn.amount, currency)
            is_refund = _get(txn, "type") == "credit"
            gross = -amount if is_refund else amount
            line = SettlementLine(
                kind=SettlementLineKind.REFUND if is_refund else SettlementLineKind.CHARGE,
                psp_object_id=txn.id,
                psp_payment_id=_get(txn, "refunded_transaction_id") if is_refund else txn.id,
                gross_minor=gross,
                fee_minor=0,
                net_minor=gross,
                currency=currency,
            )
            by_account.setdefault(_get(txn, "merchant_account_id", ""), []).append(line)
        return [
            Payout(
                psp_payout_id=f"settlement_batch:{day.isoformat()}:{account}",
                amount_minor=sum(line.net_minor for line in lines),
                currency=lines[0].currency,
                arrival_date=day,
                status="paid",
                lines=lines,
            )
            for account, lines in sorted(by_account.items())
        ]

    # --- webhooks -----------------------------------------------------------------------------

    def webhook_parse(self, *, body: bytes, headers: dict[str, str]) -> WebhookEvent:
        """``body`` is the form-encoded POST Braintree sends (bt_signature, bt_payload)."""
        form = parse_qs(body.decode("utf-8", "replace"))
        signature = (form.get("bt_signature") or [None])[0]
        payload = (form.get("bt_payload") or [None])[0]
        try:
            notification = self._gateway.webhook_notification.parse(signature, payload)
        except InvalidSignatureError as exc:
            raise WebhookSignatureError(str(exc)) from exc
        subject = XmlUtil.dict_from_xml(base64.b64decode(payload))["notification"]["subject"]
        obj = next(iter(subject.values()), {}) if isinstance(subject, dict) else {}
        if isinstance(subject, dict) and "api_error_response" in subject:
            inner = subject["api_error_response"]
            obj = next((v for k, v in inner.items() if k in ("subscription", "transaction")), {})
        object_id = obj.get("id") if isinstance(obj, dict) else None
        occurred_at = _aware(notification.timestamp)
        kind = notification.kind
        return WebhookEvent(
            provider=self.provider,
            event_id=f"{kind}:{object_id}:{occurred_at.isoformat()}",
            kind=WEBHOOK_KIND_MAP.get(kind, "other"),
            psp_type=kind,
            object_id=object_id,
            occurred_at=occurred_at,
            data=_jsonable(obj) if isinstance(obj, dict) else {},
        )


def dispute_result_from(dispute: Any) -> DisputeResult:
    currency = (_get(dispute, "currency_iso_code") or "").upper()
    amount = _get(dispute, "amount_disputed") or _get(dispute, "amount") or Decimal(0)
    details = _get(dispute, "transaction_details")
    return DisputeResult(
        psp_dispute_id=dispute.id,
        psp_payment_id=_get(details, "id") if details is not None else None,
        status=map_status(DISPUTE_STATUS_MAP, _get(dispute, "status"), PspDisputeStatus.UNKNOWN),
        amount_minor=decimal_to_minor(amount, currency) if currency else 0,
        currency=currency,
        reason=_get(dispute, "reason") or "",
        evidence_due_by=_aware(_get(dispute, "reply_by_date")),
        raw=_jsonable(dispute),
    )
