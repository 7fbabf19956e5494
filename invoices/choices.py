from django.db import models


class InvoiceStatus(models.TextChoices):
    DRAFT = "DRAFT", "Draft"
    OPEN = "OPEN", "Open"
    PAID = "PAID", "Paid"
    VOID = "VOID", "Void"
    UNCOLLECTIBLE = "UNCOLLECTIBLE", "Uncollectible"


# The database trigger on invoices_invoice is generated from this table (see models.py), so a
# transition the services refuse is refused by a raw UPDATE as well.
INVOICE_TRANSITIONS: dict[str, set[str]] = {
    # DRAFT -> PAID: finalized with nothing to pay (covered by customer credit, or a zero total).
    InvoiceStatus.DRAFT: {InvoiceStatus.OPEN, InvoiceStatus.PAID},
    InvoiceStatus.OPEN: {InvoiceStatus.PAID, InvoiceStatus.VOID, InvoiceStatus.UNCOLLECTIBLE},
    # A written-off invoice may still be paid late.
    InvoiceStatus.UNCOLLECTIBLE: {InvoiceStatus.PAID},
    # PAID -> OPEN: a payment taken back after it was booked (a Braintree sale declined at
    # settlement). Only ``invoice_payment_reverse`` makes it, and the trigger allows it only
    # together with a lower ``amount_paid_minor`` (REOPENING_TRANSITIONS).
    InvoiceStatus.PAID: {InvoiceStatus.OPEN},
    InvoiceStatus.VOID: set(),
}

# Transitions the database allows only when the same UPDATE lowers amount_paid_minor, so a
# paid invoice cannot be reopened by flipping its status alone.
REOPENING_TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    {(InvoiceStatus.PAID, InvoiceStatus.OPEN)}
)

FINALIZED_STATUSES = frozenset(
    {InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.VOID, InvoiceStatus.UNCOLLECTIBLE}
)


class InvoiceKind(models.TextChoices):
    SUBSCRIPTION = "SUBSCRIPTION", "Subscription period"
    MANUAL = "MANUAL", "Manual"
    ADJUSTMENT = "ADJUSTMENT", "Adjustment"


class TaxCategory(models.TextChoices):
    """EN 16931 VAT category codes (UNTDID 5305)."""

    STANDARD = "S", "Standard rate"
    REVERSE_CHARGE = "AE", "Reverse charge"
    NOT_SUBJECT = "O", "Not subject to VAT"
    EXEMPT = "E", "Exempt"
    ZERO = "Z", "Zero rated"


class CreditNoteStatus(models.TextChoices):
    # DRAFT exists only inside the issuing transaction, while the lines are written.
    DRAFT = "DRAFT", "Draft"
    ISSUED = "ISSUED", "Issued"


class CreditTransactionKind(models.TextChoices):
    CREDIT_NOTE = "CREDIT_NOTE", "From a credit note"
    APPLIED = "APPLIED", "Applied to an invoice"
    RESTORED = "RESTORED", "Restored from a voided invoice"
    REFUNDED = "REFUNDED", "Paid out as a refund"
    REFUND_REVERSED = "REFUND_REVERSED", "Restored: the refund failed"
