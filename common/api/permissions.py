"""Scopes for API keys, Django permissions for staff sessions.

A view declares ``required_scopes = {"GET": "accounts:read", "POST": "accounts:write"}`` and,
for staff using the browser session, ``staff_permissions = {"GET": "accounts.view_account"}``.
Anything a view does not declare is refused.
"""

from __future__ import annotations

from rest_framework import permissions

from common.api.authentication import ApiKeyPrincipal


def _for_method(mapping: dict | None, method: str):
    if not mapping:
        return None
    if method in ("HEAD", "OPTIONS"):
        method = "GET"
    return mapping.get(method)


class HasScope(permissions.BasePermission):
    message = "This credential does not have the scope this endpoint needs."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        if isinstance(user, ApiKeyPrincipal):
            needed = _for_method(getattr(view, "required_scopes", None), request.method)
            if needed is None:
                return False
            self.message = f"This API key lacks the scope '{needed}'."
            return user.api_key.has_scope(needed)
        perm = _for_method(getattr(view, "staff_permissions", None), request.method)
        if perm is None:
            return bool(user.is_superuser)
        self.message = "Your role does not allow this."
        return user.has_perm(perm)
