import hashlib
import ipaddress
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
    saw (REST_FRAMEWORK["NUM_PROXIES"]), never what the client wrote in X-Forwarded-For. An
    IPv6 client counts by its /64: one host is handed a whole /64 and can use every address."""

    def get_ident(self, request: Any) -> str:
        ident = super().get_ident(request)
        try:
            address = ipaddress.ip_address(ident)
        except ValueError:
            return ident
        if address.version == 6 and address.ipv4_mapped is None:
            return str(ipaddress.ip_network(f"{address}/64", strict=False))
        return ident

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginThrottle(_PerClientIp):
    scope = "login"


class AccountLoginThrottle(FixedWindowThrottle):
    """Sign-in attempts for one e-mail address, from anywhere: guessers spread over many
    addresses still get this many tries. A legitimate rep signs in a few times a day."""

    scope = "login_account"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        # The API's JSON body names it "email"; Django admin's login form, "username".
        data = request.data if hasattr(request, "data") else request.POST
        if not hasattr(data, "get"):
            return None
        email = data.get("email") or data.get("username")
        if not isinstance(email, str) or not email.strip():
            return None
        digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": digest}


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
