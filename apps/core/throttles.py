import math
import time
from dataclasses import dataclass
from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from apps.core.cache import CacheUnavailable, count_hit
from apps.core.errors import ApplicationError


class FixedWindowThrottle(SimpleRateThrottle):
    """DRF's rate throttle, counted in a fixed window: one Redis round trip per request.

    DRF's sliding window reads and rewrites a pickled list of every timestamp in the window
    (two round trips, and a 6,000-entry list at the webhook's rate); the hot paths cannot
    afford that. A fixed window lets a burst of up to twice the rate straddle a window edge,
    which is fine for an abuse limit. An unreachable Redis opens the throttle: a rep's
    check-in matters more than the limit (docs/decisions.md).
    """

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
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


class _PerClientIp(FixedWindowThrottle):
    """Counts every request from one client IP, signed in or not: a password guesser holding a
    session must not escape the limit. The IP is the socket's, or the one the trusted proxy
    saw (REST_FRAMEWORK["NUM_PROXIES"]), never what the client wrote in X-Forwarded-For."""

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginThrottle(_PerClientIp):
    scope = "login"


class PasswordResetThrottle(_PerClientIp):
    scope = "password_reset"


class _PerUser(FixedWindowThrottle):
    def get_cache_key(self, request: Request, view: Any) -> str:
        user = request.user
        ident = user.pk if user and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class WriteThrottle(_PerUser):
    scope = "writes"

    def allow_request(self, request: Request, view: Any) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        return super().allow_request(request, view)


class ImportThrottle(_PerUser):
    scope = "imports"


class WebhookThrottle(_PerClientIp):
    scope = "webhook"


@dataclass(frozen=True)
class WriteWindow:
    """The per-user write limit's current fixed window, for writes that count themselves.

    The journal counts its writes in the row every journal write locks anyway (no Redis round
    trip on the phone's hottest path); the rate is the one ``WriteThrottle`` applies elsewhere.
    """

    number: int  # which window since the epoch
    limit: int | None  # None: no limit configured
    retry_after: int  # whole seconds until the next window

    def refused(self) -> ApplicationError:
        return ApplicationError(
            f"Request was throttled. Expected available in {self.retry_after} seconds.",
            status_code=429,
            code="throttled",
            retry_after=self.retry_after,
        )


def write_window(now: float | None = None) -> WriteWindow:
    throttle = WriteThrottle()
    limit, duration = throttle.parse_rate(throttle.rate) if throttle.rate else (None, None)
    if limit is None or duration is None:
        return WriteWindow(number=0, limit=None, retry_after=0)
    now = time.time() if now is None else now
    number = int(now // duration)
    return WriteWindow(
        number=number,
        limit=limit,
        retry_after=max(1, math.ceil((number + 1) * duration - now)),
    )
