"""Assertions for the one error shape of the API (problem+json, DESIGN.md §5)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

PROBLEM_KEYS = {"type", "title", "status", "detail", "errors"}
PROBLEM_TYPE_BASE = "https://energytrack.app/problems/"


def assert_problem(
    response: Any,
    status: int,
    *,
    fields: Iterable[str] = (),
    detail: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """Assert ``response`` is a problem+json error with ``status``; return the body.

    ``fields`` must each be named in ``errors``; ``detail`` must occur in the detail text;
    ``code`` is the last segment of ``type``.
    """
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json", response["Content-Type"]
    body = json.loads(response.content)
    assert set(body) >= PROBLEM_KEYS, body
    assert body["status"] == status
    assert body["type"].startswith(PROBLEM_TYPE_BASE), body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["errors"], dict)
    for name, messages in body["errors"].items():
        assert isinstance(name, str)
        assert isinstance(messages, list) and messages, body["errors"]
        assert all(isinstance(message, str) and message for message in messages)
    for name in fields:
        assert name in body["errors"], body["errors"]
    if detail is not None:
        assert detail in body["detail"], body["detail"]
    if code is not None:
        assert body["type"] == PROBLEM_TYPE_BASE + code, body["type"]
    return body
