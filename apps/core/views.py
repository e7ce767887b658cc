"""Django-level error handlers: API paths answer in the same problem+json shape."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found, server_error

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
