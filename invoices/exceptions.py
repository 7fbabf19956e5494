"""Invoice errors. Each has a stable ``code``."""

from common.exceptions import Conflict, NotFound, ValidationFailed


class InvoiceNotFound(NotFound):
    code = "invoice_not_found"
    title = "The invoice does not exist."


class InvoiceNotDraft(Conflict):
    code = "invoice_not_draft"
    title = "Only a draft invoice can be changed."


class InvoiceEmpty(ValidationFailed):
    code = "invoice_empty"
    title = "An invoice needs at least one line before it can be finalized."


class InvoiceNegative(ValidationFailed):
    code = "invoice_negative_total"
    title = "An invoice total cannot be negative; issue a credit note instead."


class InvalidInvoiceLine(ValidationFailed):
    code = "invalid_invoice_line"
    title = "The invoice line is not valid."


class CurrencyMismatch(ValidationFailed):
    code = "invoice_currency_mismatch"
    title = "All amounts of an invoice must be in the invoice's currency."


class InvalidInvoiceTransition(Conflict):
    code = "invalid_invoice_transition"
    title = "This status change is not allowed for the invoice."


class InvoiceHasPayments(Conflict):
    code = "invoice_has_payments"
    title = "An invoice with payments cannot be voided; refund or credit it instead."


class InvoiceHasCreditNotes(Conflict):
    code = "invoice_has_credit_notes"
    title = "An invoice with credit notes cannot be voided."


class PaymentExceedsAmountDue(ValidationFailed):
    code = "payment_exceeds_amount_due"
    title = "The payment is larger than the amount due."


class TaxRateMissing(ValidationFailed):
    code = "tax_rate_missing"
    title = "No tax rate is valid for this category, country and date."


class ReasonRequired(ValidationFailed):
    code = "reason_required"
    title = "Give a reason."


class CreditExceedsInvoice(ValidationFailed):
    code = "credit_exceeds_invoice"
    title = "The credit note exceeds what is still creditable on the invoice."


class InvoiceNotCreditable(Conflict):
    code = "invoice_not_creditable"
    title = "Only an open or paid invoice can be credited."


class InvalidCreditNote(ValidationFailed):
    code = "invalid_credit_note"
    title = "The credit note is not valid."
