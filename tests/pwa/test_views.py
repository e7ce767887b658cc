"""The shell, manifest and service worker as HTTP resources: headers, content, no inline code."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from apps.pwa.security import CONTENT_SECURITY_POLICY
from apps.pwa.views import FIRST_SCREEN_MODULES, SCREENS


class _InlineFinder(HTMLParser):
    """Collects anything the CSP would refuse: inline scripts, handlers, styles."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script":
            self.scripts.append(named)
            self._in_script = True
            if not named.get("src"):
                self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> element")
        for name, _value in attrs:
            if name == "style" or name.startswith("on"):
                self.problems.append(f"{name}= attribute on <{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append("script body")


def _csp_directives(header: str) -> dict[str, str]:
    return {part.strip().split(" ", 1)[0]: part.strip() for part in header.split(";") if part}


def test_policy_is_strict() -> None:
    directives = _csp_directives(CONTENT_SECURITY_POLICY)
    assert directives["default-src"] == "default-src 'self'"
    assert directives["script-src"] == "script-src 'self'"
    assert directives["style-src"] == "style-src 'self'"
    assert directives["object-src"] == "object-src 'none'"
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY
    assert "require-trusted-types-for 'script'" in CONTENT_SECURITY_POLICY


def test_root_redirects_to_app(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/app/"


@pytest.mark.parametrize("path", ["/app/", *(f"/app/{s}" for s in SCREENS if s != "today")])
def test_shell_for_every_screen(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response["Cache-Control"] == "no-cache"
    assert response["Content-Type"].startswith("text/html")


def test_shell_has_no_inline_code_and_preloads_first_screen(client: Client) -> None:
    html = client.get("/app/").content.decode()
    finder = _InlineFinder()
    finder.feed(html)
    assert finder.problems == []
    assert [s.get("type") for s in finder.scripts] == ["module"]
    for module in FIRST_SCREEN_MODULES[1:]:
        assert f'<link rel="modulepreload" href="/static/{module}">' in html
    assert '<link rel="manifest" href="/manifest.webmanifest">' in html


def test_each_screen_preloads_its_own_modules(client: Client) -> None:
    trends = client.get("/app/trends").content.decode()
    assert '<link rel="modulepreload" href="/static/vendor/uplot/uPlot.esm.js">' in trends
    assert "screens/today.js" not in trends
    assert "uPlot" not in client.get("/app/").content.decode()


def test_unknown_screen_is_404(client: Client) -> None:
    assert client.get("/app/nope").status_code == 404


def test_head_is_allowed(client: Client) -> None:
    assert client.head("/app/").status_code == 200


def test_manifest_is_installable(client: Client) -> None:
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["start_url"] == "/app/"
    assert manifest["display"] == "standalone"
    sizes = {(icon["sizes"], icon.get("purpose", "any")) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"]:
        found = finders.find(icon["src"].removeprefix("/static/"))
        assert isinstance(found, str), f"missing icon {icon['src']}"
        side = int(icon["sizes"].split("x")[0])
        with open(found, "rb") as handle:
            header = handle.read(24)
        assert header[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(header[16:20], "big") == side


def test_manifest_speaks_the_phones_language(client: Client) -> None:
    """What an installed app shows outside the app (its description, the home-screen
    shortcuts) follows the phone's language, like the app itself."""
    dutch = client.get("/manifest.webmanifest", HTTP_ACCEPT_LANGUAGE="nl-NL,nl;q=0.9")
    english = client.get("/manifest.webmanifest", HTTP_ACCEPT_LANGUAGE="en-GB")

    nl, en = json.loads(dutch.content), json.loads(english.content)
    assert nl["lang"] == "nl" and en["lang"] == "en"
    assert nl["description"].startswith("Leg in een paar seconden je slaap")
    assert en["description"].startswith("Log sleep, food")
    assert [s["name"] for s in nl["shortcuts"]] == ["Energie vastleggen", "Trends"]
    assert [s["name"] for s in en["shortcuts"]] == ["Log energy", "Trends"]
    assert "Accept-Language" in dutch["Vary"]


def test_service_worker_served_at_root_scope(client: Client) -> None:
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    body = response.content.decode()
    version = re.search(r'const VERSION = "([0-9a-f]{16})";', body)
    assert version is not None
    assert response["ETag"] == f'"{version.group(1)}"'
    precache = json.loads(re.search(r"const PRECACHE = (\[.*?\]);", body).group(1))  # type: ignore[union-attr]
    assert "/app/" in precache
    for module in FIRST_SCREEN_MODULES:
        assert f"/static/{module}" in precache
    for url in precache:
        if url.startswith("/static/"):
            assert finders.find(url.removeprefix("/static/")), f"precache lists missing {url}"
    assert "__PRECACHE__" not in body
    assert "__VERSION__" not in body


def test_service_worker_version_follows_the_files(client: Client, settings: object) -> None:
    first = client.get("/sw.js")["ETag"]
    assert client.get("/sw.js")["ETag"] == first  # stable while nothing changes
