from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle


class _PerClientIp(SimpleRateThrottle):
    """Counts every request from one client IP, signed in or not: a password guesser holding a
    session must not escape the limit."""

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginThrottle(_PerClientIp):
    scope = "login"


class PasswordResetThrottle(_PerClientIp):
    scope = "password_reset"


class WriteThrottle(UserRateThrottle):
    scope = "writes"

    def allow_request(self, request: Request, view: Any) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        return super().allow_request(request, view)


class ImportThrottle(UserRateThrottle):
    scope = "imports"


class WebhookThrottle(_PerClientIp):
    scope = "webhook"
