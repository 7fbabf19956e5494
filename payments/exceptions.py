from common.exceptions import Conflict, NotFound, PaydeskError, PermissionDenied, ValidationFailed


class PaymentNotFound(NotFound):
    code = "payment_not_found"
    title = "The payment does not exist."


class RefundExceedsRefundable(Conflict):
    code = "refund_exceeds_refundable"
    title = "The refund is larger than what is left to refund on this payment."


class PaymentNotRefundable(Conflict):
    code = "payment_not_refundable"
    title = "Only a completed payment can be refunded."


class InvalidRefundAmount(ValidationFailed):
    code = "invalid_refund_amount"
    title = "The refund amount must be a positive amount."


class RefundNoteRequired(ValidationFailed):
    code = "refund_note_required"
    title = "Explain the refund in the note when the reason is 'Other'."


class RefundNotAllowed(PermissionDenied):
    code = "refund_not_allowed"
    title = "Your role may not issue refunds."


class PaymentStateConflict(Conflict):
    code = "payment_state_conflict"
    title = "The payment is not in a state that allows this."


class InvoiceNotPayable(Conflict):
    code = "invoice_not_payable"
    title = "The invoice has nothing left to pay."


class NoPspCustomer(PaydeskError):
    code = "no_psp_customer"
    title = "The account has no customer record at this payment provider."
    status = 422


class ProviderNotConfigured(PaydeskError):
    code = "provider_not_configured"
    title = "This payment provider is not configured."
    status = 503


class DuplicateManualPayment(Conflict):
    code = "duplicate_manual_payment"
    title = "A bank transfer with this reference was already recorded."
