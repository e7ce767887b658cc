import time
from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

from apps.core.cache import CacheUnavailable, count_hit


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
    """A fixed-window counter per user: one Redis round trip per write.

    DRF's sliding window reads and rewrites a list of timestamps (two round trips and a pickle
    per request); the write path cannot afford that. A fixed window lets a burst of up to twice
    the rate straddle a window boundary, which is fine for an abuse limit. An unreachable Redis
    opens the throttle: a rep's check-in matters more than the limit (docs/decisions.md).
    """

    scope = "writes"

    def allow_request(self, request: Request, view: Any) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS") or self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        limit, duration = self.parse_rate(self.rate)
        if limit is None or duration is None:
            return True
        now = time.time()
        window = int(now // duration)
        try:
            count = count_hit(f"{key}:{window}", duration)
        except CacheUnavailable:
            return True
        if count <= limit:
            return True
        self._wait = (window + 1) * duration - now
        return False

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)


class ImportThrottle(UserRateThrottle):
    scope = "imports"


class WebhookThrottle(_PerClientIp):
    scope = "webhook"
