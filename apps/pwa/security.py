"""Response headers for everything the PWA serves: a strict Content-Security-Policy.

No inline script or style anywhere in the app: every script and stylesheet is a file under
``/static/``, so the policy can say ``'self'`` and nothing else. Nothing here may loosen that.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponseBase

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        # The app never builds HTML from strings; the browser enforces that. The one policy
        # lets the app register its own service worker (/sw.js) and nothing else.
        "require-trusted-types-for 'script'",
        "trusted-types et-sw",
    ]
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

ViewFunc = Callable[..., HttpResponseBase]


def apply_security_headers(response: HttpResponseBase) -> HttpResponseBase:
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response["Permissions-Policy"] = PERMISSIONS_POLICY
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "same-origin"
    return response


def strict_csp(view: ViewFunc) -> ViewFunc:
    """Decorate a view so its response carries the app's security headers."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return apply_security_headers(view(request, *args, **kwargs))

    return wrapped
