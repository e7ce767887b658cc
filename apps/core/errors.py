"""The business error type and the problem+json body. No DRF import here, so services and
authentication classes can raise it without import cycles."""

from __future__ import annotations

from typing import Any

PROBLEM_BASE = "https://energytrack.app/problems/"

_TITLES = {
    400: "Invalid request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    429: "Too many requests",
    503: "Service unavailable",
}


class ApplicationError(Exception):
    """A business rule said no. Carries a person-readable message and optional field errors."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 400,
        code: str = "invalid",
        errors: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.errors = errors or {}
        self.extra = extra or {}
        # Seconds, sent as Retry-After (a 429 or 503 that will pass by itself).
        self.retry_after = retry_after


def problem(
    status_code: int,
    detail: str,
    *,
    code: str | None = None,
    errors: dict[str, list[str]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (code or str(status_code)),
        "title": _TITLES.get(status_code, "Error"),
        "status": status_code,
        "detail": detail,
        "errors": errors or {},
    }
    if extra:
        body.update(extra)
    return body


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as ``{"field.sub": [messages]}``: the ``errors`` of a problem
    body, and of each rejected batch item or imported row."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for sub_key, messages in flatten_errors(value, name).items():
                out.setdefault(sub_key, []).extend(messages)
    elif isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        for index, item in enumerate(detail):
            name = f"{prefix}.{index}" if prefix else str(index)
            for sub_key, messages in flatten_errors(item, name).items():
                out.setdefault(sub_key, []).extend(messages)
    else:
        messages = detail if isinstance(detail, list) else [detail]
        out[prefix or "non_field_errors"] = [str(message) for message in messages]
    return out


def account_erased_error() -> ApplicationError:
    """For a request that began signed in and whose account was erased while it ran: the
    client signs out, as for any 401."""
    return ApplicationError(
        "Your account no longer exists: it was deleted. Nothing was saved.",
        status_code=401,
        code="not-authenticated",
    )
