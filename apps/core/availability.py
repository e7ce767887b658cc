"""A database that cannot be reached is a passing condition, not a bug in the request.

The client gets a 503 with ``Retry-After`` in the one problem+json shape and sends the request
again; every write is idempotent by its client id, so resending is always safe. Used by the DRF
exception handler (failures inside API views) and by the middleware in ``apps.core.middleware``
(failures anywhere else: the session, the user, a plain Django view). Nothing here may touch the
database: it runs exactly when the database is gone.
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

from apps.core.errors import problem

logger = logging.getLogger(__name__)

# A PostgreSQL restart or fail-over takes seconds; retrying sooner only adds load to it.
RETRY_AFTER_SECONDS = 5
DETAIL = "The service is briefly unavailable. Please send the request again in a few seconds."
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError)


def unavailable_database_error(exc: BaseException | None) -> BaseException | None:
    """The unreachable-database error behind ``exc``, if any.

    Follows the exceptions raised while handling others: Django reports a session it could not
    save as ``SessionInterrupted``, raised while handling the ``OperationalError``.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, DATABASE_UNAVAILABLE):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def log_unavailable(request_path: str, error: BaseException) -> None:
    # The class only: a driver message can quote SQL, and with it values.
    logger.warning("database unavailable (%s) at %s: 503", type(error).__name__, request_path)


def problem_body() -> dict[str, object]:
    return problem(503, DETAIL, code="service-unavailable")


def unavailable_response(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: problem+json on API paths, plain text elsewhere (like the 500s)."""
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(problem_body(), status=503, content_type="application/problem+json")
    else:
        response = HttpResponse(DETAIL, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response
