"""Refuse oversize API bodies before anything reads them.

DRF's parsers read the request as a stream, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE never
applies to JSON bodies; without this a 200 MB body would be parsed into memory.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from apps.core.errors import problem


def _too_large(limit: int) -> JsonResponse:
    body = problem(
        413,
        f"The request body is larger than the {_size(limit)} this endpoint accepts.",
        code="payload-too-large",
    )
    return JsonResponse(body, status=413, content_type="application/problem+json")


def _size(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"{limit / (1024 * 1024):g} MiB"
    return f"{limit / 1024:g} KiB" if limit >= 1024 else f"{limit} bytes"


class BodySizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            limit = getattr(request, "body_limit", None) or _limit_for(request.path)
            raw_length = request.META.get("CONTENT_LENGTH") or "0"
            try:
                length = int(raw_length)
            except ValueError:
                length = 0
            if length > limit:
                return _too_large(limit)
        return self.get_response(request)


def _limit_for(path: str) -> int:
    # Imports take large files; they stream to disk, so their own (larger) limit applies.
    for prefix, limit in getattr(settings, "API_BODY_LIMITS", {}).items():
        if path.startswith(prefix):
            return int(limit)
    return int(settings.API_MAX_BODY_BYTES)
