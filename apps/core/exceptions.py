"""One error shape for the whole API: RFC 9457 problem+json.

``{"type", "title", "status", "detail", "errors": {field: [messages]}}``. Business failures
raise :class:`ApplicationError` from services; everything else DRF or Django raises is mapped
here, so a view never builds an error response by hand.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
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
from apps.core.errors import ApplicationError, flatten_errors, problem


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
        body = problem(
            exc.status_code, exc.message, code=exc.code, errors=exc.errors, extra=exc.extra
        )
        if exc.retry_after is not None:
            headers["Retry-After"] = str(exc.retry_after)
        view = context.get("view")
        if exc.status_code == 401 and view is not None:
            # As DRF answers its own 401: a challenge a client can sign in with.
            challenge = view.get_authenticate_header(context["request"])
            if challenge:
                headers["WWW-Authenticate"] = challenge
        return Response(
            body, status=exc.status_code, headers=headers, content_type="application/problem+json"
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
