"""The project's URLs, except that the first journal batch is answered with its headers and then
nothing: a connection that stalls mid-answer, as on a train between two masts. Used by
tests/pwa/test_sync_recovery.py through ROOT_URLCONF; never by the app."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse
from django.urls import URLPattern, URLResolver, include, path, resolve
from django.views.decorators.csrf import csrf_exempt

STALL_SECONDS = 60
released = threading.Event()
stalled: list[str] = []


def _stalled_body() -> Iterator[bytes]:
    yield b'{"results": ['
    released.wait(STALL_SECONDS)


@csrf_exempt
def batch(request: HttpRequest) -> HttpResponseBase:
    if not stalled:
        stalled.append(request.path)
        return StreamingHttpResponse(_stalled_body(), content_type="application/json")
    view = resolve(request.path, urlconf="energytrack.urls").func
    return view(request)


urlpatterns: list[URLPattern | URLResolver] = [
    path("api/v1/journal/batch", batch),
    path("", include("energytrack.urls")),
]
