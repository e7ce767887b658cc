"""Django-level error handlers: API paths answer in the same problem+json shape."""

from __future__ import annotations

import math

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import bad_request, page_not_found, permission_denied, server_error

from apps.core.errors import problem
from apps.core.throttles import AccountLoginThrottle, LoginThrottle


def problem_404(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        body = problem(404, "There is nothing at this address.", code="not-found")
        return JsonResponse(body, status=404, content_type="application/problem+json")
    return page_not_found(request, exception)


def problem_500(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        body = problem(
            500, "Something went wrong on our side; it has been logged.", code="server-error"
        )
        return JsonResponse(body, status=500, content_type="application/problem+json")
    return server_error(request)


def problem_400(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        body = problem(400, "The request could not be understood.", code="bad-request")
        return JsonResponse(body, status=400, content_type="application/problem+json")
    return bad_request(request, exception)


def problem_403(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        body = problem(403, "You may not do this.", code="forbidden")
        return JsonResponse(body, status=403, content_type="application/problem+json")
    return permission_denied(request, exception)


def throttled_admin_login(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
    """Django admin's sign-in behind the API's sign-in limits (per client IP and per account):
    a staff password opens every rep's account, so it must not be guessable at full speed."""
    if request.method == "POST":
        for throttle in (LoginThrottle(), AccountLoginThrottle()):
            if not throttle.allow_request(request, None):  # type: ignore[arg-type]
                wait = math.ceil(throttle.wait() or 60)
                response = HttpResponse(
                    "Too many sign-in attempts. Try again later.",
                    status=429,
                    content_type="text/plain; charset=utf-8",
                )
                response["Retry-After"] = str(wait)
                return response
    return admin.site.login(request, extra_context)
