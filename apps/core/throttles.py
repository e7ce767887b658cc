from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle, UserRateThrottle


class LoginThrottle(AnonRateThrottle):
    """Per client IP: a password guesser cannot try more than a few times a minute."""

    scope = "login"


class PasswordResetThrottle(AnonRateThrottle):
    scope = "password_reset"


class WriteThrottle(UserRateThrottle):
    scope = "writes"

    def allow_request(self, request, view):  # type: ignore[no-untyped-def]
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        return super().allow_request(request, view)


class ImportThrottle(UserRateThrottle):
    scope = "imports"


__all__ = [
    "ImportThrottle",
    "LoginThrottle",
    "PasswordResetThrottle",
    "ScopedRateThrottle",
    "WriteThrottle",
]
