"""A fake push service and a fake browser, for end-to-end Web Push tests without the internet.

The service is a real HTTP server on 127.0.0.1 (a thread): pywebpush POSTs to it for real.
The browser holds a P-256 key pair and an auth secret like a real PushSubscription, and
decrypts what arrives (RFC 8291, aes128gcm) with its private key. VAPID (RFC 8292) is checked
here with `cryptography` directly, not with the library that signed it.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class FakePushService:
    """Records every POST; answers 201 unless told otherwise per path."""

    received: list[Received] = field(default_factory=list)
    # path -> statuses to answer, in order (then 201 again)
    scripted: dict[str, list[int]] = field(default_factory=dict)
    # while set, requests wait for it to be released (a push service that hangs)
    hold: threading.Event | None = None
    arrived: threading.Event = field(default_factory=threading.Event)
    # Retry-After sent with 429 and 503 answers
    retry_after: str = ""
    # paths whose answer is cut off after the headers (a connection reset mid-response)
    broken: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                queue = service.scripted.get(self.path) or []
                status = queue.pop(0) if queue else 201
                service.received.append(
                    Received(
                        self.path, {k.lower(): v for k, v in self.headers.items()}, body, status
                    )
                )
                service.arrived.set()
                if self.path in service.broken:
                    self.wfile.write(b"HTTP/1.1 201 Created\r\nContent-Length: 10\r\n\r\n")
                    self.close_connection = True
                    return
                if service.hold is not None:
                    service.hold.wait(timeout=30)
                self.send_response(status)
                if status == 201:
                    self.send_header("Location", f"/message/{len(service.received)}")
                if status in (429, 503) and service.retry_after:
                    self.send_header("Retry-After", service.retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def origin(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def endpoint(self, name: str = "sub") -> str:
        return f"{self.origin}/push/{name}"

    def start(self) -> FakePushService:
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()

    def to(self, name: str) -> list[Received]:
        return [r for r in self.received if r.path == f"/push/{name}"]

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.01)


class FakeBrowser:
    """What a browser's PushManager.subscribe() holds: a P-256 key pair and an auth secret."""

    def __init__(self) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth_secret = os.urandom(16)

    @property
    def p256dh(self) -> str:
        return b64url_encode(
            self.private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    @property
    def auth(self) -> str:
        return b64url_encode(self.auth_secret)

    def subscription_json(self, endpoint: str) -> dict[str, Any]:
        return {
            "endpoint": endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": self.auth},
        }

    def decrypt(self, received: Received) -> dict[str, Any]:
        assert received.headers["content-encoding"] == "aes128gcm"
        plain = http_ece.decrypt(
            received.body,
            private_key=self.private_key,
            auth_secret=self.auth_secret,
            version="aes128gcm",
        )
        return json.loads(plain)


def verify_vapid(
    received: Received, *, audience: str, public_key: str, subject: str
) -> dict[str, Any]:
    """Check the ``Authorization: vapid t=<JWT>,k=<key>`` header like a push service does;
    return the JWT claims."""
    scheme, _, params = received.headers["authorization"].partition(" ")
    assert scheme == "vapid", scheme
    parts = dict(item.split("=", 1) for item in params.split(","))
    assert parts["k"] == public_key
    header_b64, claims_b64, signature_b64 = parts["t"].split(".")
    header = json.loads(b64url_decode(header_b64))
    assert header == {"typ": "JWT", "alg": "ES256"}, header
    raw = b64url_decode(signature_b64)
    assert len(raw) == 64
    signature = encode_dss_signature(
        int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    )
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(parts["k"]))
    # Raises InvalidSignature if anything was signed with another key or changed.
    key.verify(signature, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    claims = json.loads(b64url_decode(claims_b64))
    assert claims["aud"] == audience, claims
    current = time.time()
    assert current < claims["exp"] <= current + 24 * 3600, claims
    assert claims["sub"] == subject
    return claims
