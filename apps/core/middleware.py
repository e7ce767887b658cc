"""Request-level guards: oversize bodies are refused before anything reads them, and a
database that cannot be reached answers 503 wherever in the request it failed.

DRF's parsers read the request as a stream, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE never
applies to JSON bodies; without BodySizeLimitMiddleware a 200 MB body would be parsed into memory.
"""

from __future__ import annotations

import gzip
import re
import secrets
import sys
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.core.signals import got_request_exception
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.utils.cache import patch_vary_headers

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


# One TCP segment: a smaller body arrives in the same round trip compressed or not.
COMPRESS_MIN_BYTES = 1400
_COMPRESSED_TYPES = frozenset({"application/json", "application/problem+json"})
_ACCEPTS_GZIP = re.compile(r"\bgzip\b")


def gzip_fast(data: bytes) -> bytes:
    """gzip at zlib's fastest level, padded as Django's GZipMiddleware pads (BREACH): a file
    name of 0-99 bytes makes the length of a body vary from one response to the next."""
    packed = memoryview(gzip.compress(data, compresslevel=1, mtime=0))
    header = bytearray(packed[:10])
    header[3] = gzip.FNAME
    return bytes(header) + b"a" * secrets.randbelow(100) + b"\x00" + packed[10:]


class LargeJsonGZipMiddleware:
    """The API's larger JSON answers gzipped for a client that accepts it.

    The 90-day day view is ~100 KB of JSON and ~17 KB gzipped: seconds less on the phones' bad
    connections. Small answers (a write's, a ping's) go as they are, as does everything that is
    not JSON: static files come precompressed from whitenoise, downloads are archives already,
    and HTML pages carry the CSRF token. Django's GZipMiddleware, but at level 1 instead of 6:
    half the CPU (0.5 against 1.0 ms for the day view here) for a body 15 % larger.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        kind = response.get("Content-Type", "").partition(";")[0].strip()
        # A streaming response (a download) is not an HttpResponse.
        if (
            kind not in _COMPRESSED_TYPES
            or not isinstance(response, HttpResponse)
            or response.has_header("Content-Encoding")
            or len(response.content) < COMPRESS_MIN_BYTES
        ):
            return response
        patch_vary_headers(response, ("Accept-Encoding",))
        if not _ACCEPTS_GZIP.search(request.META.get("HTTP_ACCEPT_ENCODING", "")):
            return response
        response.content = gzip_fast(response.content)
        response.headers["Content-Length"] = str(len(response.content))
        response.headers["Content-Encoding"] = "gzip"
        # Another body, so a strong ETag becomes weak (RFC 9110 8.8.1); If-None-Match compares
        # weakly, so the phone's 304 still works.
        etag = response.get("ETag")
        if etag and etag.startswith('"'):
            response.headers["ETag"] = "W/" + etag
        return response


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
