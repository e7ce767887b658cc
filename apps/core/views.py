"""Django-level error handlers: API paths answer in the same problem+json shape."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import bad_request, page_not_found, permission_denied, server_error

from apps.core.errors import problem


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
