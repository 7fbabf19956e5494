"""The one gateway protocol every PSP adapter implements.

Plain frozen dataclasses go in and come out; no SDK object ever leaves an adapter. Amounts are
integers in the currency's minor unit beside an upper-case ISO 4217 code.

Outcomes a caller must act on are results, not exceptions: a declined card is a ``PaymentResult``
with status ``FAILED`` and a ``decline_code``; a timeout or a PSP outage on a write is a result with
status ``UNKNOWN`` (the money may or may not have moved), which the caller records so that a sync
job can resolve it later with ``payment_find_by_idempotency_key``. Exceptions are kept for requests
the PSP refuses outright (``GatewayRequestError``), ids it does not know (``GatewayNotFound``) and
webhooks whose signature does not verify (``WebhookSignatureError``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable

# Metadata key every adapter sets on a charge so an UNKNOWN attempt can be found again.
ATTEMPT_METADATA_KEY = "paydesk_attempt"


class PspPaymentStatus(enum.StrEnum):
    PENDING = "PENDING"
    REQUIRES_ACTION = "REQUIRES_ACTION"
    PROCESSING = "PROCESSING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    UNKNOWN = "UNKNOWN"


class PspRefundStatus(enum.StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    UNKNOWN = "UNKNOWN"


class PspDisputeStatus(enum.StrEnum):
    NEEDS_RESPONSE = "NEEDS_RESPONSE"
    UNDER_REVIEW = "UNDER_REVIEW"
    WON = "WON"
    LOST = "LOST"
    WARNING_CLOSED = "WARNING_CLOSED"
    UNKNOWN = "UNKNOWN"


class SettlementLineKind(enum.StrEnum):
    CHARGE = "charge"
    REFUND = "refund"
    FEE = "fee"
    ADJUSTMENT = "adjustment"
    DISPUTE = "dispute"


# Normalised webhook kinds; anything else arrives as "other" with the PSP's type in psp_type.
WEBHOOK_KINDS = frozenset(
    {
        "payment.succeeded",
        "payment.failed",
        "payment.processing",
        "payment.canceled",
        "refund.updated",
        "charge.refunded",
        "dispute.created",
        "dispute.updated",
        "dispute.closed",
        "transaction.settled",
        "transaction.settlement_declined",
        "disbursement",
        "subscription.charged_unsuccessfully",
        "other",
    }
)


# --- errors -------------------------------------------------------------------------------------


class GatewayError(Exception):
    """Base of every error an adapter raises."""

    code = "gateway_error"

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class GatewayRequestError(GatewayError):
    """The PSP refused the request as invalid (over-refund, wrong state, bad parameter)."""

    code = "gateway_request_refused"


class GatewayNotFound(GatewayRequestError):
    """The PSP does not know the id."""

    code = "gateway_not_found"


class GatewayUnavailable(GatewayError):
    """A read could not reach the PSP (timeout, connection, 5xx). Writes never raise this: their
    outcome is a result with status UNKNOWN, because the PSP may have acted."""

    code = "gateway_unavailable"


class WebhookSignatureError(GatewayError):
    """The webhook's signature is missing, wrong or too old."""

    code = "webhook_signature_invalid"


# --- configuration ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StripeConfig:
    secret_key: str
    webhook_secret: str
    api_base: str | None = None
    timeout_s: float = 20
    webhook_tolerance_s: int = 300


@dataclass(frozen=True)
class BraintreeConfig:
    # "sandbox", "production", or "host:port" of a local fake (plain HTTP).
    environment: str
    merchant_id: str
    public_key: str
    private_key: str
    timeout_s: float = 20
    # Braintree fixes the currency per merchant account: {"EUR": "acct_eur", ...}. A currency
    # not listed is charged on the merchant's default account.
    merchant_account_ids: dict[str, str] = field(default_factory=dict)


# --- requests and results -----------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerRequest:
    idempotency_key: str
    email: str = ""
    name: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CustomerResult:
    psp_customer_id: str


@dataclass(frozen=True)
class PaymentMethodResult:
    """A stored card as the PSP describes it: a token and display data, never the number."""

    psp_payment_method_id: str
    brand: str
    last4: str
    exp_month: int | None
    exp_year: int | None


@dataclass(frozen=True)
class ChargeRequest:
    idempotency_key: str
    psp_customer_id: str
    payment_method_id: str
    amount_minor: int
    currency: str
    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    capture: bool = True


@dataclass(frozen=True)
class PaymentResult:
    # None only when the outcome is UNKNOWN and the PSP never told us its id.
    psp_payment_id: str | None
    status: PspPaymentStatus
    amount_minor: int
    currency: str
    amount_captured_minor: int = 0
    amount_refunded_minor: int = 0
    decline_code: str = ""
    failure_message: str = ""
    fee_minor: int | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundRequest:
    idempotency_key: str
    psp_payment_id: str
    amount_minor: int
    currency: str
    reason: str = ""


@dataclass(frozen=True)
class RefundResult:
    psp_refund_id: str | None
    psp_payment_id: str
    status: PspRefundStatus
    amount_minor: int
    currency: str
    failure_reason: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DisputeResult:
    psp_dispute_id: str
    psp_payment_id: str | None
    status: PspDisputeStatus
    amount_minor: int
    currency: str
    reason: str
    evidence_due_by: datetime | None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SettlementLine:
    kind: SettlementLineKind
    # The PSP object the line comes from: charge/transaction, refund or dispute id.
    psp_object_id: str
    # The payment the line concerns, where the PSP says so (None for stand-alone fees).
    psp_payment_id: str | None
    gross_minor: int
    fee_minor: int
    net_minor: int
    currency: str


@dataclass(frozen=True)
class Payout:
    """Money the PSP sent to the bank (Stripe payout, Braintree settlement batch/disbursement)."""

    psp_payout_id: str
    amount_minor: int
    currency: str
    arrival_date: date | None
    # "pending", "in_transit", "paid", "failed", "canceled" or "unknown"
    status: str
    lines: list[SettlementLine] = field(default_factory=list)

    @property
    def fee_minor(self) -> int:
        return sum(line.fee_minor for line in self.lines)


Settlement = Payout


@dataclass(frozen=True)
class WebhookEvent:
    provider: str
    # Deduplication key: Stripe's event id; Braintree f"{kind}:{subject_id}:{timestamp iso}".
    event_id: str
    kind: str
    psp_type: str
    object_id: str | None
    occurred_at: datetime
    data: dict[str, Any] = field(default_factory=dict)


# --- protocol -----------------------------------------------------------------------------------


@runtime_checkable
class Gateway(Protocol):
    provider: str

    def customer_create(self, req: CustomerRequest) -> CustomerResult: ...

    def payment_method_attach(self, *, psp_customer_id: str, token: str) -> PaymentMethodResult: ...

    def charge(self, req: ChargeRequest) -> PaymentResult: ...

    def capture(
        self, *, psp_payment_id: str, amount_minor: int | None, idempotency_key: str
    ) -> PaymentResult: ...

    def void(self, *, psp_payment_id: str, idempotency_key: str) -> PaymentResult: ...

    def refund(self, req: RefundRequest) -> RefundResult: ...

    def payment_fetch(self, psp_payment_id: str) -> PaymentResult: ...

    def payment_find_by_idempotency_key(self, key: str) -> PaymentResult | None: ...

    def refund_fetch(self, psp_refund_id: str) -> RefundResult: ...

    def dispute_fetch(self, psp_dispute_id: str) -> DisputeResult: ...

    def payouts_list(self, *, since: datetime) -> list[Payout]: ...

    def webhook_parse(self, *, body: bytes, headers: dict[str, str]) -> WebhookEvent: ...


def map_status(table: dict[str, Any], psp_status: str | None, unknown: Any) -> Any:
    """Look a PSP status up in an explicit table; anything unmapped is UNKNOWN, never success."""
    if psp_status is None:
        return unknown
    return table.get(psp_status, unknown)


def header(headers: dict[str, str], name: str) -> str | None:
    """Case-insensitive header lookup (frameworks differ in how they spell header names)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None
