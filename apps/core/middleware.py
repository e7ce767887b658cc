"""Request-level guards: oversize bodies are refused before anything reads them, and a
database that cannot be reached answers 503 wherever in the request it failed.

DRF's parsers read the request as a stream, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE never
applies to JSON bodies; without BodySizeLimitMiddleware a 200 MB body would be parsed into memory.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.core.signals import got_request_exception
from django.http import HttpRequest, HttpResponse, JsonResponse

from apps.core.availability import (
    DATABASE_UNAVAILABLE,
    log_unavailable,
    unavailable_database_error,
    unavailable_response,
)
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


_FAILED_ON_DATABASE = "_energytrack_database_unavailable"


def _note_database_failure(sender: Any, request: HttpRequest | None = None, **_: Any) -> None:
    # Django sends this from inside the ``except`` that turns an uncaught exception into a
    # 500, so the exception is still current here and nowhere later.
    error = unavailable_database_error(sys.exc_info()[1])
    if request is not None and error is not None:
        setattr(request, _FAILED_ON_DATABASE, error)


class DatabaseUnavailableMiddleware:
    """A request that failed because the database could not be reached answers 503 with
    Retry-After, not 500: in a plain Django view, or while another middleware loaded the user
    or the session. (Inside DRF views the exception handler does the same.)

    Place it before SessionMiddleware: no middleware before that one touches the database.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        # Each layer of middleware turns an exception into a response before the next sees
        # it, so the cause is recorded on the request when Django reports the exception.
        got_request_exception.connect(
            _note_database_failure, dispatch_uid="apps.core.middleware.database_unavailable"
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        error = getattr(request, _FAILED_ON_DATABASE, None)
        if error is not None and response.status_code >= 500:
            log_unavailable(request.path, error)
            return unavailable_response(request)
        return response


_SESSION_SAVE_FAILURES: tuple[type[Exception], ...] = (SessionInterrupted, *DATABASE_UNAVAILABLE)


class SessionMiddleware(DjangoSessionMiddleware):
    """Django's, except that a session that cannot be saved because the database is unreachable
    answers 503. Django reports that as a 400 "session interrupted", as if the rep had logged
    out in another tab, and a 400 tells the client not to send the request again."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        try:
            return super().process_response(request, response)
        except _SESSION_SAVE_FAILURES as exc:
            error = unavailable_database_error(exc)
            if error is None:
                raise
            log_unavailable(request.path, error)
            return unavailable_response(request)
