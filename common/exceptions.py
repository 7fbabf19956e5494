"""Domain errors. Each has a stable ``code`` that API clients and screens can rely on."""

from __future__ import annotations


class PaydeskError(Exception):
    """Base of every domain error. ``status`` is the HTTP status the API answers with."""

    code: str = "paydesk_error"
    title: str = "The request could not be completed."
    status: int = 422

    def __init__(self, detail: str | None = None, **extra: object) -> None:
        self.detail = detail or self.title
        self.extra = extra
        super().__init__(self.detail)

    def __str__(self) -> str:
        return self.detail


class ValidationFailed(PaydeskError):
    code = "validation_error"
    title = "The input is not valid."
    status = 422


class NotFound(PaydeskError):
    code = "not_found"
    title = "The object does not exist."
    status = 404


class Conflict(PaydeskError):
    code = "conflict"
    title = "The request conflicts with the current state."
    status = 409


class InvalidTransition(Conflict):
    code = "invalid_transition"
    title = "This status change is not allowed."


class PermissionDenied(PaydeskError):
    code = "permission_denied"
    title = "You are not allowed to do this."
    status = 403


class IdempotencyKeyMismatch(PaydeskError):
    code = "idempotency_key_mismatch"
    title = "This Idempotency-Key was used with a different request."
    status = 422


class IdempotencyKeyInUse(PaydeskError):
    code = "idempotency_key_in_use"
    title = "A request with this Idempotency-Key is still being processed."
    status = 409
