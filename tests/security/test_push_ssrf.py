"""OWASP API7 (server-side request forgery) on Web Push: the one place the server sends HTTP
requests to a URL a client chose.

Subscribing: tests/notifications/test_subscriptions.py refuses non-https endpoints and every
private, loopback, link-local, shared, multicast and metadata address, as literals and
behind host names (test_unsafe_endpoints_are_refused_with_a_clear_400, with
PUSH_ALLOW_LOOPBACK off), and checks the resolver
(test_resolver_failures_are_endpoint_errors). Sending: tests/notifications/test_push.py
checks the address again (test_send_time_check_refuses_a_loopback_endpoint_once_loopback_is_off).

Here: a push service that answers with a redirect to an internal address is not followed,
and a subscription that was safe when stored is refused at send time once its host name
resolves to the metadata service (DNS rebinding).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from apps.notifications import push
from tests.notifications.fakepush import FakeBrowser

PUBLIC_IP = "93.184.215.14"
METADATA_IP = "169.254.169.254"


class _Server:
    """A real HTTP server on loopback that records requests and answers one fixed way."""

    def __init__(self, status: int, location: str = "") -> None:
        self.paths: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                server.paths.append(self.path)
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def internal() -> Iterator[_Server]:
    """Stands for the cloud metadata service or any other internal endpoint."""
    server = _Server(200)
    yield server
    server.stop()


@pytest.fixture
def sender() -> push.PushSender:
    private, public = push.generate_vapid_keys()
    config = push._load_vapid(private, public, "mailto:security@energytrack.test")
    return push.PushSender(config)


def _target(endpoint: str) -> push.PushTarget:
    browser = FakeBrowser()
    return push.PushTarget(endpoint=endpoint, p256dh=browser.p256dh, auth=browser.auth)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_from_the_push_service_is_not_followed(
    settings: Any, internal: _Server, sender: push.PushSender, status: int
) -> None:
    # Loopback is allowed only so that both servers of this test can run on this machine.
    settings.PUSH_ALLOW_LOOPBACK = True
    redirecting = _Server(status, location=f"{internal.url}/latest/meta-data/")
    try:
        result = sender.send(
            _target(f"{redirecting.url}/push/sub"),
            b'{"kind": "insight"}',
            ttl=60,
            urgency="normal",
            topic="insight",
        )
    finally:
        redirecting.stop()
    assert redirecting.paths == ["/push/sub"]
    assert internal.paths == [], "the redirect was followed to an internal address"
    assert (result.status, result.code) == ("rejected", "redirect")


def test_a_host_that_now_resolves_to_the_metadata_service_is_not_sent_to(
    settings: Any, sender: push.PushSender
) -> None:
    settings.PUSH_ALLOW_LOOPBACK = False
    settings.DEBUG = False
    answers = {"push.example.net": [PUBLIC_IP]}
    endpoint = "https://push.example.net/wpush/abc"
    stored = push.validate_endpoint(
        endpoint, allow_loopback=False, resolver=lambda host, port: answers[host]
    )
    assert stored == endpoint
    # Between subscribing and sending, the name is pointed at the metadata service.
    answers["push.example.net"] = [METADATA_IP]
    sender.resolver = lambda host, port: answers[host]
    result = sender.send(_target(endpoint), b"{}", ttl=60, urgency="normal", topic="t")
    assert (result.status, result.code) == ("rejected", "unsafe-endpoint")
