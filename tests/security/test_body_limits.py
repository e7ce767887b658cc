"""OWASP API4: every operation that can carry a body refuses one above its documented limit
with a 413 problem before reading it, and changes nothing.

The limits are the documented ones (README "Settings", energytrack/settings/base.py): 2 MiB
for the API, 16 KiB under /notifications/, 50 MiB for a data import, 100 MiB plus multipart
framing for a CSV import. Bodies up to 2 MiB are really sent; the two upload routes get a
request that declares a larger Content-Length (reading 100 MiB into a test would prove
nothing more: the middleware decides on the declared length, and Django never reads past it).
Related: tests/core/test_errors.py (limit boundary, refusal before authentication) and
tests/performance/test_imports.py (an upload that grows past the limit while streaming).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.core.problems import assert_problem
from tests.security.scene import build_scene, client_for, database_snapshot
from tests.test_privacy_sweep import SWEEP

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024
DOCUMENTED_LIMITS = {
    "/api/v1/performance/imports": 101 * MiB,
    "/api/v1/privacy/import": 50 * MiB,
    "/api/v1/notifications/": 16 * 1024,
}
DEFAULT_LIMIT = 2 * MiB
SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
OPERATIONS = sorted(
    (method, path)
    for path, item in SCHEMA["paths"].items()
    for method in ("post", "put", "patch", "delete")
    if method in item
)


def documented_limit(path: str) -> int:
    return next((v for k, v in DOCUMENTED_LIMITS.items() if path.startswith(k)), DEFAULT_LIMIT)


def _json_of_size(size: int) -> bytes:
    envelope = json.dumps({"note": ""}).encode()
    raw = json.dumps({"note": "x" * (size - len(envelope))}).encode()
    assert len(raw) == size
    return raw


def test_every_writable_operation_is_covered() -> None:
    assert len(OPERATIONS) >= 40, OPERATIONS
    assert {path for _, path in OPERATIONS} >= set(DOCUMENTED_LIMITS) - {"/api/v1/notifications/"}


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_a_body_over_the_limit_is_a_413_and_changes_nothing(method: str, path: str) -> None:
    scene = build_scene()
    # The actor's own object, so that the request would change something if it got through.
    params = SWEEP[path](scene.actor)[0].params if "{" in path else {}
    url = path.format(**params)
    client = client_for(scene.actor)
    before = database_snapshot()
    too_large = documented_limit(path) + 1
    extra: dict[str, Any] = {}
    if too_large <= DEFAULT_LIMIT + 1:
        raw = _json_of_size(too_large)
    else:
        raw = b"{}"
        extra["CONTENT_LENGTH"] = str(too_large)
    response = client.generic(
        method.upper(), url, raw.decode(), content_type="application/json", **extra
    )
    assert_problem(response, 413, code="payload-too-large")
    assert database_snapshot() == before


def test_the_limit_is_the_body_not_the_route_default() -> None:
    """A body just inside the 16 KiB notifications limit is read (and judged on its content)."""
    scene = build_scene()
    client = client_for(scene.actor)
    raw = _json_of_size(16 * 1024)
    response = client.generic(
        "PATCH", "/api/v1/notifications/preferences", raw.decode(), content_type="application/json"
    )
    assert_problem(response, 400, fields=["note"])
