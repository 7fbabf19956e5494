"""Account errors. Each has a stable ``code``; field errors name the field in ``errors``."""

from common.exceptions import Conflict, NotFound, ValidationFailed


def field_error(cls, field: str, message: str, **extra):
    """An error whose problem document lists ``field`` like a validation error would."""
    return cls(message, errors=[{"field": field, "message": message, "code": cls.code}], **extra)


class AccountNotFound(NotFound):
    code = "account_not_found"
    title = "The account does not exist."


class AccountExists(Conflict):
    code = "account_exists"
    title = "An account with this external id exists already."


class PspCustomerTaken(Conflict):
    code = "psp_customer_taken"
    title = "This PSP customer id belongs to another account."


class InvalidVatId(ValidationFailed):
    code = "invalid_vat_id"
    title = "The VAT id is not valid."


class UnknownCountry(ValidationFailed):
    code = "unknown_country"
    title = "The country is not a known ISO 3166-1 code."


class InvalidAccountField(ValidationFailed):
    code = "invalid_account_field"
    title = "An account field is not valid."


class TaxStatusMismatch(ValidationFailed):
    code = "tax_status_mismatch"
    title = "The tax status does not fit the country and VAT id."


class AccountClosed(Conflict):
    code = "account_closed"
    title = "The account is closed."
