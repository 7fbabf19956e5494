from common.exceptions import NotFound, PaydeskError, ValidationFailed


class BodyTooLarge(PaydeskError):
    code = "body_too_large"
    title = "The request body is too large."
    status = 413


class BatchTooLarge(ValidationFailed):
    code = "batch_too_large"
    title = "The batch has too many events."


class MeterNotFound(NotFound):
    code = "meter_not_found"
    title = "No meter with this code."


class MeterInvalid(ValidationFailed):
    code = "meter_invalid"
    title = "The meter definition is not valid."


class UsageImportFailed(PaydeskError):
    code = "usage_import_failed"
    title = "The usage file could not be imported."


class AccountRefNotFound(NotFound):
    """Used only until ``accounts.services.account_resolve`` is available; same code."""

    code = "account_not_found"
    title = "No account with this id or external id."
