"""RFC 9457 problem responses for every API error."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from common.exceptions import PaydeskError

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://paydesk.example/problems/"

_DRF_CODES: list[tuple[type[Exception], int, str, str]] = [
    (drf.ParseError, 400, "malformed_request", "The request body could not be parsed."),
    (drf.NotAuthenticated, 401, "not_authenticated", "Authentication is required."),
    (drf.AuthenticationFailed, 401, "authentication_failed", "The credentials are not valid."),
    (drf.PermissionDenied, 403, "permission_denied", "You are not allowed to do this."),
    (drf.NotFound, 404, "not_found", "The object does not exist."),
    (drf.MethodNotAllowed, 405, "method_not_allowed", "This method is not allowed here."),
    (drf.NotAcceptable, 406, "not_acceptable", "The requested format is not available."),
    (drf.UnsupportedMediaType, 415, "unsupported_media_type", "Send the body as JSON."),
    (drf.Throttled, 429, "rate_limited", "Too many requests."),
]


def problem(
    *, status: int, code: str, title: str, detail: str, headers: dict | None = None, **extra
) -> Response:
    body = {
        "type": TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return Response(body, status=status, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def _flatten_errors(data, prefix: str = "") -> list[dict]:
    errors: list[dict] = []
    if isinstance(data, dict):
        for key, value in data.items():
            field = key if not prefix else f"{prefix}.{key}"
            if key == "non_field_errors":
                field = prefix or None
            errors.extend(_flatten_errors(value, field or ""))
    elif isinstance(data, list):
        if data and all(isinstance(x, drf.ErrorDetail | str) for x in data):
            for item in data:
                errors.append(
                    {
                        "field": prefix or None,
                        "message": str(item),
                        "code": getattr(item, "code", "invalid"),
                    }
                )
        else:
            for index, item in enumerate(data):
                errors.extend(_flatten_errors(item, f"{prefix}[{index}]"))
    else:
        errors.append(
            {
                "field": prefix or None,
                "message": str(data),
                "code": getattr(data, "code", "invalid"),
            }
        )
    return errors


def exception_handler(exc, context):
    if isinstance(exc, PaydeskError):
        return problem(
            status=exc.status, code=exc.code, title=exc.title, detail=exc.detail, **exc.extra
        )
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()

    if isinstance(exc, drf.ValidationError):
        errors = _flatten_errors(exc.detail)
        first = errors[0] if errors else {"field": None, "message": "Invalid input."}
        detail = f"{first['field']}: {first['message']}" if first.get("field") else first["message"]
        return problem(
            status=422,
            code="validation_error",
            title="The input is not valid.",
            detail=detail,
            errors=errors,
        )

    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled API error", exc_info=exc)
        return None
    status, code, title = next(
        ((st, co, ti) for cls, st, co, ti in _DRF_CODES if isinstance(exc, cls)),
        (response.status_code, "error", "The request failed."),
    )
    headers = {
        k: v for k, v in response.items() if k in ("WWW-Authenticate", "Retry-After", "Allow")
    }
    detail = exc.detail if isinstance(exc, drf.APIException) else str(exc)
    return problem(status=status, code=code, title=title, detail=str(detail), headers=headers)
