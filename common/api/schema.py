"""OpenAPI description helpers: the problem document, the API-key scheme, shared parameters.

Views import from here, which also registers the authentication extension with
drf-spectacular before any schema is generated.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from common.api.problems import PROBLEM_CONTENT_TYPE

_PROBLEM_DESCRIPTIONS = {
    400: "The body is not valid JSON (problem code `malformed_request`).",
    401: "No or an unknown API key (`not_authenticated`, `authentication_failed`).",
    403: "The key lacks the scope, or its owner the permission (`permission_denied`).",
    404: "No such object (`not_found` or a more specific code).",
    409: "A conflict, e.g. the same `Idempotency-Key` is still being processed.",
    413: "The body is larger than allowed (`body_too_large`).",
    415: "The body is not JSON (`unsupported_media_type`).",
    422: "The input is not valid (`validation_error` with `errors`, or a domain code).",
    429: "Too many requests (`rate_limited`); see `Retry-After`.",
    503: "A payment provider is not configured or not reachable.",
}


class ProblemFieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True, help_text="the input field, dotted for nesting")
    message = serializers.CharField()
    code = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """An RFC 9457 problem document, as ``common.api.problems`` writes every API error."""

    type = serializers.URLField(help_text="a URL naming the problem type")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="stable, for clients to branch on")
    errors = ProblemFieldErrorSerializer(
        many=True, required=False, help_text="per field, on validation errors"
    )


def problems(*statuses: int) -> dict:
    """``responses`` entries for ``extend_schema``: each status as a problem document."""
    return {
        (status, PROBLEM_CONTENT_TYPE): OpenApiResponse(
            response=ProblemSerializer, description=_PROBLEM_DESCRIPTIONS.get(status, "")
        )
        for status in statuses
    }


# Every authenticated endpoint can answer these.
COMMON_PROBLEMS = (401, 403, 429)

IDEMPOTENCY_KEY = OpenApiParameter(
    name="Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    type=str,
    description=(
        "Repeat a POST safely: the same key and body replay the first response; the same key "
        "with another body is refused (422)."
    ),
)


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "common.api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Bearer"
        )
