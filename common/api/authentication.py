"""API-key authentication for machine clients: ``Authorization: Bearer <key>``."""

from __future__ import annotations

from rest_framework import authentication, exceptions


class ApiKeyPrincipal:
    """What ``request.user`` is for a machine client: the key, not a person."""

    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False
    is_anonymous = False

    def __init__(self, api_key) -> None:
        self.api_key = api_key
        self.pk = None
        self.username = f"apikey:{api_key.prefix}"

    def has_perm(self, perm: str, obj=None) -> bool:
        return False

    def __str__(self) -> str:
        return f"API key {self.api_key.name} ({self.api_key.prefix})"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if parts[0].lower() != self.keyword.lower():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "The Authorization header must be 'Bearer <key>'."
            )
        from staff.services import apikey_authenticate

        api_key = apikey_authenticate(raw_key=parts[1])
        if api_key is None:
            raise exceptions.AuthenticationFailed("This API key is unknown or revoked.")
        return ApiKeyPrincipal(api_key), api_key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="paydesk"'
