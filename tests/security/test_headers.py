"""Security headers, CSP and cookies on real responses: gunicorn under production settings,
over real HTTP on loopback (OWASP API8, DESIGN.md §5).

Production trusts X-Forwarded-Proto from the proxy that terminates TLS
(SECURE_PROXY_SSL_HEADER) and redirects plain http to https, so requests here say they came
over https the way that proxy would; one request without it checks the redirect.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher

from tests.factories import UserFactory
from tests.security.production import HOST, ROOT, production_env

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
HTTPS = {"X-Forwarded-Proto": "https"}
ORIGIN = f"https://{HOST}"
PASSWORD = "a-long-production-password-71"


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: str

    def header(self, name: str) -> str:
        return self.headers.get(name, "")


@dataclass
class Server:
    port: int

    def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, body: str = ""
    ) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(
                method, path, body=body or None, headers={"Host": HOST, **(headers or {})}
            )
            response = connection.getresponse()
            return Answer(
                response.status, response.headers, response.read().decode(errors="replace")
            )
        finally:
            connection.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(django_db_setup: Any) -> Iterator[Server]:
    port = _free_port()
    process = subprocess.Popen(
        [GUNICORN, "energytrack.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT,
        env=production_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    running = Server(port)
    try:
        for _ in range(150):
            try:
                running.request("GET", "/api/v1/health", headers=HTTPS)
                break
            except OSError:
                if process.poll() is not None:
                    output = process.stderr.read().decode() if process.stderr else ""
                    raise RuntimeError(f"gunicorn exited: {output}") from None
                time.sleep(0.1)
        else:
            raise RuntimeError("gunicorn did not answer within 15 s")
        yield running
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


def assert_transport_headers(answer: Answer) -> None:
    hsts = answer.header("Strict-Transport-Security")
    assert re.fullmatch(r"max-age=(\d+); includeSubDomains; preload", hsts), hsts
    assert int(hsts.split(";")[0].split("=")[1]) >= 31536000
    assert answer.header("X-Content-Type-Options") == "nosniff"
    assert answer.header("Referrer-Policy") == "same-origin"
    assert answer.header("X-Frame-Options") == "DENY"
    assert answer.header("Cross-Origin-Opener-Policy") == "same-origin"
    # No version of anything: "gunicorn" alone, no X-Powered-By.
    assert not re.search(r"\d", answer.header("Server")), answer.header("Server")
    assert "X-Powered-By" not in answer.headers


def test_plain_http_is_redirected_to_https(server: Server) -> None:
    answer = server.request("GET", "/app/")
    assert answer.status == 301
    assert answer.header("Location") == f"https://{HOST}/app/"


def test_the_app_shell_has_the_strict_csp_and_security_headers(server: Server) -> None:
    answer = server.request("GET", "/app/", headers=HTTPS)
    assert answer.status == 200, answer.body[:500]
    assert_transport_headers(answer)
    csp = _directives(answer.header("Content-Security-Policy"))
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"], "scripts only from our own origin, nothing inline"
    assert csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["require-trusted-types-for"] == ["'script'"]
    everything = " ".join(word for words in csp.values() for word in words)
    for loosening in ("'unsafe-inline'", "'unsafe-eval'", "data:", "http:", "*"):
        if loosening == "data:":
            # Images may be data: URLs (charts); nothing that runs may.
            assert all("data:" not in csp[d] for d in ("script-src", "style-src", "default-src"))
        else:
            assert loosening not in everything.split(), loosening
    # The page itself keeps to the policy: every script is a file, no inline handlers.
    scripts = re.findall(r"<script\b[^>]*>", answer.body)
    assert scripts and all("src=" in tag for tag in scripts), scripts
    assert not re.search(r"\son[a-z]+\s*=", answer.body), "inline event handler in the shell"
    assert "<style" not in answer.body


def test_api_answers_carry_the_same_transport_headers(server: Server) -> None:
    for path in ("/api/v1/health", "/api/v1/auth/csrf", "/api/v1/does-not-exist"):
        answer = server.request("GET", path, headers=HTTPS)
        assert answer.status in (200, 404), (path, answer.status)
        assert_transport_headers(answer)
    missing = server.request("GET", "/api/v1/does-not-exist", headers=HTTPS)
    assert missing.header("Content-Type") == "application/problem+json"
    for leak in ("Traceback", "Django", "DEBUG", "settings"):
        assert leak not in missing.body


@pytest.mark.django_db(transaction=True)
def test_session_and_csrf_cookies_are_secure_httponly_and_samesite(server: Server) -> None:
    # Committed, so the gunicorn process sees it; hashed with a production hasher.
    user: Any = UserFactory()
    hasher = Argon2PasswordHasher()
    user.password = hasher.encode(PASSWORD, hasher.salt())
    user.save(update_fields=["password"])

    csrf = server.request("GET", "/api/v1/auth/csrf", headers=HTTPS)
    assert csrf.status == 200
    csrf_cookie = _cookie(csrf, "csrftoken")
    assert csrf_cookie["secure"] is True
    assert csrf_cookie["samesite"].lower() == "lax"

    login = server.request(
        "POST",
        "/api/v1/auth/login",
        headers={
            **HTTPS,
            "Content-Type": "application/json",
            "Cookie": f"csrftoken={csrf_cookie['value']}",
            "X-CSRFToken": csrf_cookie["value"],
            "Origin": ORIGIN,
            "Referer": f"{ORIGIN}/app/login",
        },
        body=f'{{"email": "{user.email}", "password": "{PASSWORD}"}}',
    )
    assert login.status == 200, login.body
    session = _cookie(login, "sessionid")
    assert session["secure"] is True
    assert session["httponly"] is True
    assert session["samesite"].lower() == "lax"
    assert_transport_headers(login)


def _cookie(answer: Answer, name: str) -> dict[str, Any]:
    for header in answer.headers.get_all("Set-Cookie") or []:
        jar = SimpleCookie()
        jar.load(header)
        if name in jar:
            morsel = jar[name]
            return {
                "value": morsel.value,
                "secure": bool(morsel["secure"]),
                "httponly": bool(morsel["httponly"]),
                "samesite": morsel["samesite"],
            }
    raise AssertionError(f"no {name} cookie in {answer.headers.get_all('Set-Cookie')}")
