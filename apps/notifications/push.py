"""Web Push transport: subscription checks (no server-side request forgery), VAPID signing
and the encrypted POST to the push service (RFC 8030 / 8291 / 8292, via pywebpush).

No ORM here, and nothing here logs: payloads are the rep's words and push endpoints are
capability URLs. Callers log the result code only.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import ipaddress
import math
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from py_vapid import Vapid02, VapidException
from pywebpush import WebPusher, WebPushException
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

MAX_ENDPOINT_LENGTH = 2048
P256DH_BYTES = 65
AUTH_BYTES = 16
# RFC 8292: a JWT lives at most 24 h; ours 12 h, re-signed an hour before it runs out.
VAPID_TTL_SECONDS = 12 * 3600
VAPID_RESIGN_MARGIN_SECONDS = 3600
# A push service answers in milliseconds; a slow one must not hold a worker for long.
CONNECT_TIMEOUT_SECONDS = 3.05
READ_TIMEOUT_SECONDS = 5
# How long a send-time address check of a host name is trusted (DNS rebinding window).
RESOLVE_CACHE_SECONDS = 60
_B64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")

Resolver = Callable[[str, int], list[str]]


class EndpointError(ValueError):
    """A subscription endpoint we refuse to send to; the message is fit for the rep."""


class SubscriptionKeyError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def resolve_host(host: str, port: int) -> list[str]:
    """Every address a host name resolves to (the operating system's resolver)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


# IPv6 prefixes that carry an IPv4 address in their last 32 bits and reach it: NAT64's
# well-known prefix (RFC 6052; DNS64 answers with it on IPv6-only networks) and the
# deprecated IPv4-compatible form ::a.b.c.d. Python calls all of them "global".
_IPV4_EMBEDDING = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("::/96"),
)
# NAT64 for local use (RFC 8215) translates to any IPv4 address the operator picks; and the
# old site-local range (RFC 3879) is still routed inside some networks.
_IPV6_NEVER = (
    ipaddress.IPv6Network("64:ff9b:1::/48"),
    ipaddress.IPv6Network("fec0::/10"),
)


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if any(address in network for network in _IPV6_NEVER):
            return False
        if any(address in network for network in _IPV4_EMBEDDING):
            return _public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        embedded = (
            address.ipv4_mapped
            or address.sixtofour
            or (address.teredo[1] if address.teredo else None)
        )
        if embedded is not None:
            return _public(embedded)
    return address.is_global and not address.is_multicast


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def validate_endpoint(url: str, *, allow_loopback: bool, resolver: Resolver | None = None) -> str:
    """The endpoint if it is safe to POST to, else :class:`EndpointError`.

    https only; plain http only to a loopback address, and loopback at all only when
    ``allow_loopback`` (development and tests). An IP literal, or any address a host name
    resolves to, must be public: no private, loopback, link-local, shared, multicast or
    reserved networks (cloud metadata services live there).
    """
    resolver = resolver or resolve_host
    url = url.strip()
    if not url or len(url) > MAX_ENDPOINT_LENGTH:
        raise EndpointError(
            f"The push endpoint must be a URL of at most {MAX_ENDPOINT_LENGTH} characters."
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise EndpointError("The push endpoint is not a valid URL.") from exc
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in ("https", "http") or not host:
        raise EndpointError("The push endpoint must be an https:// URL.")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise EndpointError("The push endpoint must not contain credentials or a fragment.")
    literal = _parse_ip(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            resolved = resolver(host, port or (443 if scheme == "https" else 80))
        except (OSError, UnicodeError) as exc:
            raise EndpointError("The push endpoint's host name does not resolve.") from exc
        addresses = [ip for ip in (_parse_ip(a) for a in resolved) if ip is not None]
        if not addresses:
            raise EndpointError("The push endpoint's host name does not resolve.")
    loopback = all(ip.is_loopback for ip in addresses)
    if loopback and allow_loopback:
        return url
    if scheme != "https":
        raise EndpointError("The push endpoint must be an https:// URL.")
    if not all(_public(ip) for ip in addresses):
        raise EndpointError(
            "The push endpoint points to a private, loopback or link-local network address; "
            "only public push services are allowed."
        )
    return url


def _b64url_decode(value: str) -> bytes:
    if not _B64URL.match(value):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def validate_keys(p256dh: str, auth: str) -> tuple[str, str]:
    """The browser's keys, normalised to unpadded base64url, or :class:`SubscriptionKeyError`."""
    try:
        public = _b64url_decode(p256dh)
    except (ValueError, binascii.Error) as exc:
        raise SubscriptionKeyError("keys.p256dh", "Must be base64url (RFC 4648 §5).") from exc
    if len(public) != P256DH_BYTES or public[0] != 0x04:
        raise SubscriptionKeyError(
            "keys.p256dh",
            f"Must be an uncompressed P-256 public key ({P256DH_BYTES} bytes, 87 base64url "
            "characters).",
        )
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
    except ValueError as exc:
        raise SubscriptionKeyError("keys.p256dh", "Is not a point on the P-256 curve.") from exc
    try:
        secret = _b64url_decode(auth)
    except (ValueError, binascii.Error) as exc:
        raise SubscriptionKeyError("keys.auth", "Must be base64url (RFC 4648 §5).") from exc
    if len(secret) != AUTH_BYTES:
        raise SubscriptionKeyError(
            "keys.auth", f"Must be a {AUTH_BYTES}-byte secret (22 base64url characters)."
        )
    return b64url(public), b64url(secret)


# --- VAPID -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VapidConfig:
    signer: Vapid02
    public_key: str
    subject: str


class VapidConfigError(ValueError):
    pass


def generate_vapid_keys() -> tuple[str, str]:
    """A fresh (private, public) pair: base64url raw 32-byte scalar, base64url 65-byte point."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(private), b64url(public)


@functools.lru_cache(maxsize=4)
def _load_vapid(private_key: str, public_key: str, subject: str) -> VapidConfig:
    try:
        signer = Vapid02.from_string(private_key=private_key)
    except (ValueError, TypeError, IndexError, VapidException) as exc:
        raise VapidConfigError("VAPID_PRIVATE_KEY is not a valid P-256 private key.") from exc
    derived = b64url(
        signer.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )
    if public_key and public_key.rstrip("=") != derived:
        raise VapidConfigError("VAPID_PUBLIC_KEY does not belong to VAPID_PRIVATE_KEY.")
    if not (subject.startswith("mailto:") or subject.startswith("https://")):
        raise VapidConfigError("VAPID_SUBJECT must be a mailto: or https: URL.")
    return VapidConfig(signer=signer, public_key=derived, subject=subject)


def vapid_config() -> VapidConfig | None:
    """The configured VAPID identity, or None when push is not set up (no private key)."""
    private_key = getattr(settings, "VAPID_PRIVATE_KEY", "") or ""
    if not private_key:
        return None
    return _load_vapid(
        private_key,
        getattr(settings, "VAPID_PUBLIC_KEY", "") or "",
        getattr(settings, "VAPID_SUBJECT", "") or "",
    )


def loopback_allowed() -> bool:
    return bool(settings.DEBUG or getattr(settings, "PUSH_ALLOW_LOOPBACK", False))


# --- sending ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushTarget:
    endpoint: str
    p256dh: str
    auth: str


@dataclass(frozen=True)
class PushResult:
    #: "ok" (accepted), "gone" (404/410: drop the subscription), "transient" (retry later),
    #: "rejected" (a permanent refusal for this message or subscription).
    status: str
    code: str
    retry_after_seconds: int | None = None


def _retry_after(response: requests.Response) -> int | None:
    """RFC 9110 §10.2.3: delay-seconds or an HTTP-date."""
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    seconds = math.ceil((when - dt.datetime.now(tz=dt.UTC)).total_seconds())
    return seconds if seconds > 0 else None


class UnsafeAddressError(Exception):
    """The push service's name led the connection to an address we never send to.

    Not an OSError on purpose: urllib3 would take it for a network fault and retry."""


def _peer_allowed(address: str) -> bool:
    ip = _parse_ip(address)
    return ip is not None and (_public(ip) or (loopback_allowed() and ip.is_loopback))


def _checked_socket(sock: socket.socket) -> socket.socket:
    # The endpoint check resolved the name once; the connection resolved it again and may
    # have got another answer (DNS rebinding). The address really connected to decides,
    # before a byte of the request is written.
    try:
        peer = str(sock.getpeername()[0])
    except OSError:
        peer = ""
    if not _peer_allowed(peer):
        sock.close()
        raise UnsafeAddressError
    return sock


class _CheckedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _checked_socket(super()._new_conn())


class _CheckedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _checked_socket(super()._new_conn())


class _CheckedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _CheckedHTTPConnectionPool,
            "https": _CheckedHTTPSConnectionPool,
        }


class PushSender:
    """One per worker process or task: keeps the HTTP connections and signed VAPID headers."""

    def __init__(self, config: VapidConfig, *, resolver: Resolver | None = None) -> None:
        self.config = config
        self.resolver = resolver or resolve_host
        self.session = requests.Session()
        # A redirect could lead the POST to an internal address: never follow one.
        self.session.max_redirects = 0
        # No proxy or .netrc from the environment (and no per-request lookup of them); an
        # egress proxy for push services is configured explicitly.
        self.session.trust_env = False
        proxy = getattr(settings, "PUSH_EGRESS_PROXY", "")
        if proxy:
            # The configured egress proxy is the one peer; it enforces where pushes may go.
            self.session.proxies = {"https": proxy, "http": proxy}
        else:
            for scheme in ("https://", "http://"):
                self.session.mount(scheme, _CheckedAdapter())
        self._vapid: dict[str, tuple[dict[str, str], float]] = {}
        self._checked_hosts: dict[tuple[str, str, bool], float] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.session.close()

    def vapid_headers(self, endpoint: str) -> dict[str, str]:
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        now = time.time()
        with self._lock:
            cached = self._vapid.get(audience)
            if cached and cached[1] - VAPID_RESIGN_MARGIN_SECONDS > now:
                return cached[0]
            expires = int(now) + VAPID_TTL_SECONDS
            claims: dict[str, Any] = {"aud": audience, "exp": expires, "sub": self.config.subject}
            headers = dict(self.config.signer.sign(claims))
            self._vapid[audience] = (headers, expires)
            return headers

    def _endpoint_safe(self, endpoint: str) -> bool:
        # Checked again at send time: DNS may point somewhere else than at subscribe time.
        allow_loopback = loopback_allowed()
        parts = urlsplit(endpoint)
        key = (parts.scheme, parts.hostname or "", allow_loopback)
        now = time.monotonic()
        if self._checked_hosts.get(key, 0.0) > now:
            return True
        try:
            validate_endpoint(endpoint, allow_loopback=allow_loopback, resolver=self.resolver)
        except EndpointError:
            return False
        self._checked_hosts[key] = now + RESOLVE_CACHE_SECONDS
        return True

    def send(
        self, target: PushTarget, payload: bytes, *, ttl: int, urgency: str, topic: str
    ) -> PushResult:
        if not self._endpoint_safe(target.endpoint):
            return PushResult("rejected", "unsafe-endpoint")
        headers = {**self.vapid_headers(target.endpoint), "Urgency": urgency, "Topic": topic}
        subscription = {
            "endpoint": target.endpoint,
            "keys": {"p256dh": target.p256dh, "auth": target.auth},
        }
        try:
            response = WebPusher(subscription, requests_session=self.session).send(
                payload,
                headers,
                ttl=ttl,
                timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
            )
        except UnsafeAddressError:
            return PushResult("rejected", "unsafe-endpoint")
        except requests.TooManyRedirects:
            return PushResult("rejected", "redirect")
        except requests.Timeout:
            return PushResult("transient", "timeout")
        except requests.ConnectionError:
            return PushResult("transient", "connection")
        except (WebPushException, ValueError):
            return PushResult("rejected", "bad-subscription")
        except requests.RequestException:
            # E.g. the connection reset while the answer was read: this message may or may
            # not have arrived, and the same Topic replaces it at the push service if resent.
            # Raising instead would crash the batch and lose the other reps' claimed rows.
            return PushResult("transient", "broken-answer")
        assert isinstance(response, requests.Response)
        status = response.status_code
        if 200 <= status < 300:
            return PushResult("ok", f"http-{status}")
        if status in (404, 410):
            return PushResult("gone", f"http-{status}")
        if status == 429 or status >= 500:
            return PushResult("transient", f"http-{status}", _retry_after(response))
        return PushResult("rejected", f"http-{status}")
