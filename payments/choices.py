"""Statuses of payments, refunds, webhook deliveries and reconciliation lines, with the transitions
each lifecycle allows. Statuses are data: services refuse anything not in these tables."""

from __future__ import annotations

from django.db import models


class Provider(models.TextChoices):
    STRIPE = "stripe", "Stripe"
    BRAINTREE = "braintree", "Braintree"
    # Money that reached the bank directly (bank transfer); no PSP involved.
    BANK = "bank", "Bank transfer"


class PaymentMethod(models.TextChoices):
    CARD = "card", "Card"
    SEPA = "sepa", "SEPA direct debit"
    BANK_TRANSFER = "bank_transfer", "Bank transfer"
    MANUAL = "manual", "Manual"


class PaymentStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    REQUIRES_ACTION = "REQUIRES_ACTION", "Needs the customer"
    PROCESSING = "PROCESSING", "Processing"
    SUCCEEDED = "SUCCEEDED", "Paid"
    FAILED = "FAILED", "Failed"
    CANCELED = "CANCELED", "Canceled"
    # The PSP may or may not have taken the money; the sync task asks it.
    UNKNOWN = "UNKNOWN", "Outcome unknown"


_P = PaymentStatus
PAYMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    _P.PENDING: frozenset(
        {_P.REQUIRES_ACTION, _P.PROCESSING, _P.SUCCEEDED, _P.FAILED, _P.CANCELED, _P.UNKNOWN}
    ),
    _P.REQUIRES_ACTION: frozenset(
        {_P.PROCESSING, _P.SUCCEEDED, _P.FAILED, _P.CANCELED, _P.UNKNOWN}
    ),
    _P.PROCESSING: frozenset({_P.SUCCEEDED, _P.FAILED, _P.CANCELED}),
    # A Braintree capture can still be declined at settlement: the only way back from paid,
    # and it reverses the posting.
    _P.SUCCEEDED: frozenset({_P.FAILED}),
    _P.FAILED: frozenset(),
    _P.CANCELED: frozenset(),
    _P.UNKNOWN: frozenset(
        {_P.PENDING, _P.REQUIRES_ACTION, _P.PROCESSING, _P.SUCCEEDED, _P.FAILED, _P.CANCELED}
    ),
}
PAYMENT_FINAL = frozenset({_P.SUCCEEDED, _P.FAILED, _P.CANCELED})
PAYMENT_OPEN = frozenset({_P.PENDING, _P.REQUIRES_ACTION, _P.PROCESSING, _P.UNKNOWN})


class RefundReason(models.TextChoices):
    DUPLICATE = "DUPLICATE", "Charged twice"
    REQUESTED_BY_CUSTOMER = "REQUESTED_BY_CUSTOMER", "The customer asked for it"
    SERVICE_ISSUE = "SERVICE_ISSUE", "Problem with our service"
    FRAUDULENT = "FRAUDULENT", "Fraudulent payment"
    OTHER = "OTHER", "Other (explain in the note)"


# The reason as the PSP understands it (Stripe's three; others travel as metadata).
PSP_REFUND_REASON = {
    RefundReason.DUPLICATE: "duplicate",
    RefundReason.REQUESTED_BY_CUSTOMER: "requested_by_customer",
    RefundReason.FRAUDULENT: "fraudulent",
    RefundReason.SERVICE_ISSUE: "service_issue",
    RefundReason.OTHER: "other",
}


class RefundStatus(models.TextChoices):
    REQUESTED = "REQUESTED", "Requested"
    AWAITING_APPROVAL = "AWAITING_APPROVAL", "Waiting for approval"
    APPROVED = "APPROVED", "Approved, about to be sent"
    PENDING = "PENDING", "Sent to the payment provider"
    SUCCEEDED = "SUCCEEDED", "Refunded"
    FAILED = "FAILED", "Failed"
    CANCELED = "CANCELED", "Canceled"
    UNKNOWN = "UNKNOWN", "Outcome unknown"


_R = RefundStatus
REFUND_TRANSITIONS: dict[str, frozenset[str]] = {
    _R.REQUESTED: frozenset({_R.AWAITING_APPROVAL, _R.PENDING, _R.CANCELED}),
    _R.AWAITING_APPROVAL: frozenset({_R.APPROVED, _R.CANCELED}),
    _R.APPROVED: frozenset({_R.PENDING, _R.CANCELED}),
    _R.PENDING: frozenset({_R.SUCCEEDED, _R.FAILED, _R.CANCELED, _R.UNKNOWN}),
    # Stripe can report a refund failed after it succeeded (the card was closed): reversed.
    _R.SUCCEEDED: frozenset({_R.FAILED}),
    _R.FAILED: frozenset(),
    _R.CANCELED: frozenset(),
    _R.UNKNOWN: frozenset({_R.PENDING, _R.SUCCEEDED, _R.FAILED, _R.CANCELED}),
}
# Refunds that hold part of the payment: the refundable amount excludes them.
REFUND_RESERVING = frozenset(
    {_R.REQUESTED, _R.AWAITING_APPROVAL, _R.APPROVED, _R.PENDING, _R.SUCCEEDED, _R.UNKNOWN}
)
REFUND_OPEN = frozenset({_R.PENDING, _R.UNKNOWN})


class RefundOrigin(models.TextChoices):
    OURS = "ours", "Paydesk"
    PSP_DASHBOARD = "psp_dashboard", "PSP dashboard"


class EventSource(models.TextChoices):
    OURS = "ours", "Paydesk"
    PSP = "psp", "Payment provider"


class WebhookStatus(models.TextChoices):
    RECEIVED = "RECEIVED", "Received"
    PROCESSED = "PROCESSED", "Processed"
    FAILED = "FAILED", "Failed"
    IGNORED = "IGNORED", "Ignored"


class PayoutStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_TRANSIT = "in_transit", "In transit"
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"
    UNKNOWN = "unknown", "Unknown"


class ReconciliationKind(models.TextChoices):
    MATCHED = "matched", "Matched"
    MISSING_LOCALLY = "missing_locally", "At the PSP, not in Paydesk"
    MISSING_AT_PSP = "missing_at_psp", "In Paydesk, not in the payout"
    AMOUNT_MISMATCH = "amount_mismatch", "Amounts differ"
