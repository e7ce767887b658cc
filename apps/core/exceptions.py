"""One error shape for the whole API: RFC 9457 problem+json.

``{"type", "title", "status", "detail", "errors": {field: [messages]}}``. Business failures
raise :class:`ApplicationError` from services; everything else DRF or Django raises is mapped
here, so a view never builds an error response by hand.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from apps.core.availability import (
    RETRY_AFTER_SECONDS,
    log_unavailable,
    problem_body,
    unavailable_database_error,
)
from apps.core.errors import ApplicationError, account_erased_error, flatten_errors, problem

logger = logging.getLogger(__name__)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than this endpoint accepts."
    default_code = "payload_too_large"


def _summary(errors: dict[str, list[str]]) -> str:
    first_field, messages = next(iter(errors.items()))
    if first_field == "non_field_errors":
        return messages[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{first_field}: {messages[0]}{more}"


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    headers: dict[str, str] = {}
    if isinstance(exc, ApplicationError):
        status_code = exc.status_code
        if exc.retry_after is not None:
            headers["Retry-After"] = str(exc.retry_after)
        if status_code == 401 and exc.code == "not-authenticated":
            # Signed out, answered as DRF answers it: a 401 with the view's challenge, or
            # without one (a session-only view) a 403. (The webhook's 401 is its own.)
            view = context.get("view")
            challenge = view.get_authenticate_header(context["request"]) if view else None
            if challenge:
                headers["WWW-Authenticate"] = challenge
            else:
                status_code = 403
        body = problem(status_code, exc.message, code=exc.code, errors=exc.errors, extra=exc.extra)
        return Response(
            body, status=status_code, headers=headers, content_type="application/problem+json"
        )
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail={"non_field_errors": list(exc.messages)})
    elif isinstance(exc, Http404 | ObjectDoesNotExist):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        if _account_erased(exc, context):
            return problem_exception_handler(account_erased_error(), context)
        # What DRF leaves unhandled would be a 500; an unreachable database is a 503 instead.
        return _database_unavailable(exc, context)
    if not isinstance(exc, exceptions.APIException):
        return response

    code = exc.get_codes() if not isinstance(exc, exceptions.ValidationError) else "invalid"
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        detail = _summary(errors) if errors else "The request is invalid."
        code_slug = "validation-error"
    else:
        errors = {}
        detail = str(exc.detail)
        code_slug = code if isinstance(code, str) else str(response.status_code)
    for name in ("WWW-Authenticate", "Allow", "Retry-After"):
        if name in response:
            headers[name] = response[name]
    body = problem(response.status_code, detail, code=code_slug.replace("_", "-"), errors=errors)
    return Response(
        body, status=response.status_code, headers=headers, content_type="application/problem+json"
    )


def _database_unavailable(exc: Exception, context: dict[str, Any]) -> Response | None:
    error = unavailable_database_error(exc)
    if error is None:
        return None
    request = context.get("request")
    log_unavailable(request.path if request is not None else "?", error)
    return Response(
        problem_body(),
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"},
        content_type="application/problem+json",
    )


def _account_erased(exc: Exception, context: dict[str, Any]) -> bool:
    """Whether a database error is that of a request whose account was erased while it ran.

    Such a write waited for the erasure's locks and then failed on its user's foreign key, or
    found no row to update. It is answered as signed out (401), not as a 500."""
    if not isinstance(exc, DatabaseError) or unavailable_database_error(exc) is not None:
        return False
    request = context.get("request")
    try:
        # The user authentication already set, if it ran: ``request.user`` would run it again
        # (an API token's sign-in writes) while handling a database error.
        user = getattr(request, "_user", None)
        if user is None or not user.is_authenticated:
            return False
        gone = not get_user_model().objects.filter(pk=user.pk).exists()
    except (DatabaseError, exceptions.APIException):
        return False
    if gone:
        path = request.path if request is not None else "?"
        logger.info("account erased while a request ran (%s) at %s: 401", type(exc).__name__, path)
    return gone
