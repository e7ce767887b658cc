"""The PWA's HTML shell, web app manifest and service worker.

Everything here is the same for every visitor: no user data is rendered into the shell, so
the service worker can cache it and start the app offline. The app fetches its data from the
API after it has started.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils.cache import patch_vary_headers
from django.utils.translation import get_language, gettext
from django.views.decorators.http import require_safe

from apps.pwa.security import strict_csp

SCREENS = (
    "today",
    "work",
    "trends",
    "insights",
    "privacy",
    "settings",
    "login",
    "coach",
    "coach-invite",
)
APP_URL = "/app/"
SERVICE_WORKER_SOURCE = Path(__file__).resolve().parent / "assets" / "sw.js"
SHELL_TEMPLATE = Path(__file__).resolve().parent / "templates" / "pwa" / "shell.html"
# Static files the service worker stores at install, so every screen opens offline.
PRECACHE_PREFIXES = ("js/", "css/", "vendor/uplot/")
PRECACHE_ICONS = ("icons/icon-192.png", "icons/maskable-192.png", "icons/badge-96.png")
# Modules every screen needs, then each screen's own; the shell preloads them so the browser
# fetches them at once instead of discovering them one import at a time.
CORE_MODULES = (
    "js/app.js",
    "js/i18n.js",
    "js/locales/en.js",
    "js/locales/nl.js",
    "js/dom.js",
    "js/api.js",
    "js/outbox.js",
    "js/sync.js",
    "js/session.js",
    "js/dates.js",
)
SCREEN_MODULES: dict[str, tuple[str, ...]] = {
    "today": ("js/forms.js", "js/screens/today.js"),
    "work": ("js/screens/work.js",),
    "trends": ("js/charts.js", "js/screens/trends.js", "vendor/uplot/uPlot.esm.js"),
    "insights": ("js/screens/insights.js",),
    "privacy": ("js/summaries.js", "js/screens/privacy.js"),
    "settings": ("js/notifications.js", "js/screens/settings.js"),
    "login": ("js/screens/login.js",),
    "coach": ("js/summaries.js", "js/screens/coach.js"),
    "coach-invite": ("js/screens/coach-invite.js",),
}
# The first screen (Today): what the < 60 KB gzipped JavaScript budget covers.
FIRST_SCREEN_MODULES = CORE_MODULES + SCREEN_MODULES["today"]
THEME_COLOR = "#0f4c5c"
BACKGROUND_COLOR = "#f6f8f9"


def _project_static_files() -> list[tuple[str, Path]]:
    """(static path, file) for the project's own app files, sorted, from the static finders."""
    found: dict[str, Path] = {}
    for finder in finders.get_finders():
        for relative, storage in finder.list(["*.map", "VERSION", "LICENSE"]):
            name = relative.replace("\\", "/")
            if name.startswith(PRECACHE_PREFIXES) or name in PRECACHE_ICONS:
                found.setdefault(name, Path(storage.path(relative)))
    return sorted(found.items())


def _build_service_worker() -> tuple[str, str]:
    files = _project_static_files()
    digest = hashlib.sha256()
    for source in (SERVICE_WORKER_SOURCE, SHELL_TEMPLATE):
        digest.update(source.read_bytes())
    for name, path in files:
        digest.update(name.encode())
        digest.update(path.read_bytes())
    version = digest.hexdigest()[:16]
    precache = [APP_URL, "/manifest.webmanifest", *(static(name) for name, _ in files)]
    body = (
        SERVICE_WORKER_SOURCE.read_text(encoding="utf-8")
        .replace('"__VERSION__"', json.dumps(version))
        .replace('["__PRECACHE__"]', json.dumps(precache))
    )
    return body, version


@lru_cache(maxsize=1)
def _service_worker_cached() -> tuple[str, str]:
    return _build_service_worker()


def service_worker_source() -> tuple[str, str]:
    """The worker script and its version; rebuilt on every request while developing."""
    return _build_service_worker() if settings.DEBUG else _service_worker_cached()


@require_safe
def root(request: HttpRequest) -> HttpResponseBase:
    return redirect(APP_URL)


@require_safe
@strict_csp
def shell(request: HttpRequest, screen: str | None = None) -> HttpResponse:
    if screen is not None and screen not in SCREENS:
        response = HttpResponse("Not found", status=404, content_type="text/plain")
        return response
    modules = CORE_MODULES[1:] + SCREEN_MODULES[screen or "today"]
    response = render(
        request,
        "pwa/shell.html",
        {
            "modules": [static(name) for name in modules],
            "entry": static(CORE_MODULES[0]),
            "theme_color": THEME_COLOR,
        },
    )
    # Always revalidate: a new deploy must reach a phone that is online.
    response["Cache-Control"] = "no-cache"
    return response


def manifest_data() -> dict[str, Any]:
    """In the request's language (Accept-Language, through LocaleMiddleware): the phone shows
    the description and the shortcuts' names when the app is installed."""
    return {
        "id": APP_URL,
        "name": "energytrack",
        "short_name": "energytrack",
        "description": gettext(
            "Log sleep, food, exercise, drinks and energy in seconds; see your own "
            "trends and private insights."
        ),
        "lang": get_language() or settings.LANGUAGE_CODE,
        "dir": "ltr",
        "start_url": APP_URL,
        "scope": APP_URL,
        "display": "standalone",
        "orientation": "portrait",
        "theme_color": THEME_COLOR,
        "background_color": BACKGROUND_COLOR,
        "categories": ["health", "productivity", "business"],
        "icons": [
            {"src": static("icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {
                "src": static("icons/maskable-192.png"),
                "sizes": "192x192",
                "type": "image/png",
                "purpose": "maskable",
            },
            {
                "src": static("icons/maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
        "shortcuts": [
            {"name": gettext("Log energy"), "url": APP_URL},
            {"name": gettext("Trends"), "url": APP_URL + "trends"},
        ],
    }


@require_safe
@strict_csp
def manifest(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(manifest_data(), content_type="application/manifest+json")
    response["Cache-Control"] = "public, max-age=3600"
    patch_vary_headers(response, ["Accept-Language"])
    return response


@require_safe
@strict_csp
def service_worker(request: HttpRequest) -> HttpResponse:
    body, version = service_worker_source()
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    response["ETag"] = f'"{version}"'
    return response
