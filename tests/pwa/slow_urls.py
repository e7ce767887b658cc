"""The project's routes with a slow answer to the journal batch: the rows are stored at once,
under the session that sent them, and the answer comes back only when a test releases it (a
bad connection). Used as ROOT_URLCONF by a test."""

from __future__ import annotations

import threading
from typing import Any

from django.urls import include, path, resolve
from django.views.decorators.csrf import csrf_exempt

entered = threading.Event()
release = threading.Event()


@csrf_exempt
def batch(request: Any) -> Any:
    view = resolve(request.path, urlconf="energytrack.urls").func
    response = view(request)
    entered.set()
    release.wait(30)
    return response


urlpatterns = [
    path("api/v1/journal/batch", batch),
    path("", include("energytrack.urls")),
]
