"""drf-spectacular hook: every operation documents the problem+json error responses."""

from __future__ import annotations

from typing import Any

PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "errors"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "additionalProperties": True,
}

_ERROR_STATUSES = {
    "400": "Invalid input (the errors object names each field).",
    "401": "Not authenticated.",
    "403": "Forbidden (for example, missing consent or CSRF token).",
    "404": "Not found (also for anything that belongs to someone else).",
    "405": "Method not allowed.",
    "406": "Not acceptable.",
    "409": "Conflict.",
    "413": "Request body too large.",
    "415": "Unsupported media type.",
    "429": "Too many requests (see Retry-After).",
}


def add_problem_responses(result: dict[str, Any], **_: Any) -> dict[str, Any]:
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    ref = {"$ref": "#/components/schemas/Problem"}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for code, description in _ERROR_STATUSES.items():
                operation["responses"].setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/problem+json": {"schema": ref}},
                    },
                )
    return result
