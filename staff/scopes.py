"""The API scopes a key can carry. Apps add theirs here as their endpoints arrive."""

from common.exceptions import ValidationFailed

SCOPES: dict[str, str] = {
    "accounts:read": "Read customer accounts",
    "accounts:write": "Create and update customer accounts",
    "meters:read": "Read meters",
    "meters:write": "Create meters",
    "usage:write": "Send usage events",
    "usage:read": "Read usage",
    "invoices:read": "Read invoices",
    "payments:read": "Read payments",
    "payments:write": "Create payments and refunds",
}


def validate_scopes(scopes: list[str]) -> None:
    if not scopes:
        raise ValidationFailed("Give the key at least one scope.")
    unknown = sorted(set(scopes) - set(SCOPES) - {"*"})
    if unknown:
        raise ValidationFailed(
            f"Unknown scope(s): {', '.join(unknown)}. Known scopes: {', '.join(sorted(SCOPES))}."
        )
