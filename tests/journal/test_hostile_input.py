"""Input no schema-shaped fuzzer sends, found by hand-written probes: each was a 500 before.

Every answer here is a 4xx problem+json and stores nothing; valid neighbours still go in.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
from rest_framework.test import APIClient

from tests.core.problems import assert_problem
from tests.journal.helpers import VALID, batch, entry_url, put, rows, total_rows

pytestmark = pytest.mark.django_db


def _raw_put(client: APIClient, kind: str, raw: bytes) -> Any:
    return client.generic(
        "PUT", entry_url(kind, uuid.uuid4()), raw, content_type="application/json"
    )


@pytest.mark.parametrize(
    "raw",
    [b"[" * 10_000 + b"]" * 10_000, b'{"a":' * 5_000 + b"1" + b"}" * 5_000],
    ids=["arrays", "objects"],
)
def test_json_nested_too_deeply_is_a_400(api: APIClient, consenting_user: Any, raw: bytes) -> None:
    api.raise_request_exception = False
    assert_problem(_raw_put(api, "energy", raw), 400)
    assert total_rows() == 0
    anonymous = APIClient()
    anonymous.raise_request_exception = False
    login = anonymous.generic("POST", "/api/v1/auth/login", raw, content_type="application/json")
    assert_problem(login, 400)


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("energy", {**VALID["energy"], "\ud800": 1}),
        ("meal", {**VALID["meal"], "meal_type": "\ud800"}),
        ("meal", {**VALID["meal"], "tags": ["\udfff"]}),
    ],
    ids=["unknown key", "choice", "list choice"],
)
def test_a_lone_surrogate_echoed_in_an_error_is_a_400(
    api: APIClient, consenting_user: Any, kind: str, body: dict[str, Any]
) -> None:
    # ensure_ascii: the test client's own encoder must not choke on it either.
    raw = json.dumps(body).encode()
    api.raise_request_exception = False
    response = _raw_put(api, kind, raw)
    assert_problem(response, 400)
    assert total_rows() == 0
    # The refused value is echoed, escaped: the body stays ASCII, valid UTF-8.
    assert response.content.isascii()


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"], ids=["first", "last"]
)
def test_a_time_outside_the_utc_calendar_is_a_400(
    api: APIClient, consenting_user: Any, when: str
) -> None:
    api.raise_request_exception = False
    problem = assert_problem(
        put(api, "energy", uuid.uuid4(), {**VALID["energy"], "occurred_at": when}),
        400,
        fields=["occurred_at"],
    )
    assert "1 to 9999" in problem["errors"]["occurred_at"][0]

    fine = uuid.uuid4()
    response = batch(
        api,
        [
            {"kind": "energy", "id": str(uuid.uuid4()), **VALID["energy"], "occurred_at": when},
            {"kind": "energy", "id": str(fine), **VALID["energy"]},
        ],
    )
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["result"] for r in results] == ["rejected", "created"]
    assert list(rows("energy").values_list("pk", flat=True)) == [fine]


def _cursor(position: str) -> str:
    return base64.b64encode(urlencode({"p": position}).encode()).decode()


@pytest.mark.parametrize(
    "position",
    ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "not a time", "2026-02-30"],
)
@pytest.mark.parametrize("path", ["/api/v1/journal/energy", "/api/v1/notifications/"])
def test_a_crafted_cursor_is_a_404_like_any_invalid_cursor(
    api: APIClient, consenting_user: Any, path: str, position: str
) -> None:
    api.raise_request_exception = False
    response = api.get(path, {"cursor": _cursor(position)})
    assert_problem(response, 404)


def test_a_cursor_the_list_gave_still_works(api: APIClient, consenting_user: Any) -> None:
    for minute in range(3):
        body = {**VALID["energy"], "occurred_at": f"2026-11-25T08:0{minute}:00Z"}
        assert put(api, "energy", uuid.uuid4(), body).status_code == 201
    first = api.get("/api/v1/journal/energy", {"page_size": 2}).json()
    second = api.get(first["next"])
    assert second.status_code == 200
    assert len(second.json()["results"]) == 1


def test_the_schemas_errors_are_problem_json_too() -> None:
    response = APIClient().post("/api/v1/schema/")
    problem = assert_problem(response, 405)
    assert problem["status"] == 405


def test_a_meeting_time_outside_the_utc_calendar_is_a_400(
    api: APIClient, consenting_user: Any
) -> None:
    api.raise_request_exception = False
    response = api.put(
        f"/api/v1/performance/meetings/{uuid.uuid4()}",
        {"occurred_at": "0001-01-01T00:00:00+14:00", "status": "held"},
        format="json",
    )
    assert_problem(response, 400, fields=["occurred_at"])


def test_a_lone_surrogate_in_one_synced_item_does_not_refuse_the_others(
    api: APIClient, consenting_user: Any
) -> None:
    """Half an emoji (a note cut inside a surrogate pair) is JSON that orjson will not read;
    the API's parser hands such a body to ``json``, so it is that item's problem, not the
    whole sync's."""
    kept = uuid.uuid4()
    items = [
        {"kind": "energy", "id": str(uuid.uuid4()), **VALID["energy"], "note": "moe \ud83d"},
        {"kind": "energy", "id": str(kept), **VALID["energy"], "note": "fit"},
    ]
    api.raise_request_exception = False
    response = api.generic(
        "POST",
        "/api/v1/journal/batch",
        json.dumps({"items": items}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert [r["result"] for r in response.json()["results"]] == ["rejected", "created"]
    assert total_rows() == 1
