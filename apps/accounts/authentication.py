"""Personal API tokens for scripts: ``Authorization: Bearer et_…`` (or ``Token et_…``)."""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from apps.accounts.selectors import api_token_for_secret
from apps.accounts.services import TOKEN_PREFIX, api_token_touch


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keywords = (b"bearer", b"token")

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        try:
            raw = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Malformed token.") from None
        if not raw.startswith(TOKEN_PREFIX):
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        token = api_token_for_secret(raw)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        api_token_touch(token=token)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
