"""Paging a journal list whose entries share an ``occurred_at`` while rows come and go.

A phone syncs entries in batches, so many can carry the same time. The cursor must name the
last row it showed (time and id), not "n rows into this second", or an insert or delete between
two pages repeats or hides an entry.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
from rest_framework.test import APIClient

from tests.core.problems import assert_problem
from tests.journal.helpers import batch, entry_url, item, put

pytestmark = pytest.mark.django_db

SAME_TIME = {"occurred_at": "2026-11-26T10:00:00+01:00", "level": 5}


def _rest(client: APIClient, url: str | None) -> list[str]:
    seen: list[str] = []
    while url:
        body = client.get(url).json()
        seen.extend(e["id"] for e in body["results"])
        url = body["next"]
    return seen


def _back(client: APIClient, url: str | None) -> list[str]:
    """Every id from ``url`` back to the newest, in list order (newest first)."""
    seen: list[str] = []
    while url:
        body = client.get(url).json()
        seen = [e["id"] for e in body["results"]] + seen
        url = body["previous"]
    return seen


def _same_time_entries(client: APIClient, count: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(count)]
    assert batch(client, [item("energy", i, SAME_TIME) for i in ids]).status_code == 200
    return ids


def test_a_newer_entry_arriving_while_paging_does_not_repeat_an_entry(
    api: APIClient, consenting_user: Any
) -> None:
    ids = _same_time_entries(api, 6)
    first = api.get(entry_url("energy") + "?page_size=3").json()
    later = {"occurred_at": "2026-11-26T11:00:00+01:00", "level": 7}
    assert put(api, "energy", uuid.uuid4(), later).status_code == 201
    got = [e["id"] for e in first["results"]] + _rest(api, first["next"])
    assert sorted(got) == sorted(ids), got


def test_an_entry_deleted_while_paging_does_not_hide_another(
    api: APIClient, consenting_user: Any
) -> None:
    ids = _same_time_entries(api, 6)
    first = api.get(entry_url("energy") + "?page_size=3").json()
    gone = first["results"][0]["id"]
    assert api.delete(entry_url("energy", gone)).status_code == 204
    got = [e["id"] for e in first["results"]] + _rest(api, first["next"])
    assert sorted(got) == sorted(ids), got


def test_ties_page_in_one_order_newest_first_then_by_id(
    api: APIClient, consenting_user: Any
) -> None:
    ids = _same_time_entries(api, 7)
    older = str(uuid.uuid4())
    earlier = {"occurred_at": "2026-11-26T09:00:00+01:00", "level": 3}
    assert put(api, "energy", older, earlier).status_code == 201

    got = _rest(api, entry_url("energy") + "?page_size=3")

    assert got == [*sorted(ids, key=uuid.UUID, reverse=True), older]


def test_paging_back_through_ties_gives_every_entry_once(
    api: APIClient, consenting_user: Any
) -> None:
    ids = _same_time_entries(api, 8)
    url: str | None = entry_url("energy") + "?page_size=3"
    pages = []
    while url:
        body = api.get(url).json()
        pages.append(body)
        url = body["next"]
    forward = [e["id"] for page in pages for e in page["results"]]
    assert len(pages) == 3
    assert pages[0]["previous"] is None

    # From the last page, `previous` walks back to the first page and stops there.
    backward = [e["id"] for e in pages[-1]["results"]]
    backward = _back(api, pages[-1]["previous"]) + backward

    assert backward == forward
    assert sorted(forward) == sorted(ids)


def test_paging_back_is_not_shifted_by_a_newer_entry(api: APIClient, consenting_user: Any) -> None:
    ids = _same_time_entries(api, 6)
    first = api.get(entry_url("energy") + "?page_size=2").json()
    second = api.get(first["next"]).json()
    later = {"occurred_at": "2026-11-26T11:00:00+01:00", "level": 7}
    newest = str(uuid.uuid4())
    assert put(api, "energy", newest, later).status_code == 201

    back = api.get(second["previous"]).json()

    assert [e["id"] for e in back["results"]] == [e["id"] for e in first["results"]]
    # The newer entry is one page further back, not mixed into this one.
    assert [e["id"] for e in api.get(back["previous"]).json()["results"]] == [newest]
    assert sorted(_back(api, second["previous"]) + _rest(api, first["next"])) == sorted(
        [*ids, newest]
    )


def test_previous_of_a_page_emptied_by_deletes_leads_back_to_the_last_entries(
    api: APIClient, consenting_user: Any
) -> None:
    ids = _same_time_entries(api, 4)
    first = api.get(entry_url("energy") + "?page_size=2").json()
    for gone in _rest(api, first["next"]):
        assert api.delete(entry_url("energy", gone)).status_code == 204

    empty = api.get(first["next"]).json()

    assert empty["results"] == []
    assert empty["next"] is None
    back = api.get(empty["previous"]).json()
    assert [e["id"] for e in back["results"]] == [e["id"] for e in first["results"]]
    assert sorted(e["id"] for e in back["results"]) == sorted(ids)[2:]
    assert back["previous"] is None


def _cursor(**tokens: Any) -> str:
    return base64.b64encode(urlencode(tokens, doseq=True).encode()).decode()


@pytest.mark.parametrize(
    "tokens",
    [
        # An impossible time beside a real-looking id still never reaches the database.
        {"p": ["9999-12-31 23:59:59-23:59", str(uuid.uuid4())]},
        {"p": ["0001-01-01 00:00:00+23:59", str(uuid.uuid4())]},
        {"p": ["2026-02-30 10:00:00+00:00", str(uuid.uuid4())]},
        {"p": ["2026-11-26 09:00:00", str(uuid.uuid4())]},
        {"p": ["2026-11-26 09:00:00+00:00", "not a uuid"]},
        {"p": ["2026-11-26 09:00:00+00:00"]},
        {"p": ["2026-11-26 09:00:00+00:00", str(uuid.uuid4()), "3"]},
        {"p": ["2026-11-26 09:00:00+00:00", str(uuid.uuid4())], "o": "2"},
        {"p": ["2026-11-26 09:00:00+00:00", str(uuid.uuid4())], "r": "yes"},
    ],
    ids=[
        "offset too far west",
        "offset too far east",
        "no such day",
        "naive time",
        "bad id",
        "time only (the old offset cursor)",
        "extra position",
        "offset token",
        "bad direction",
    ],
)
def test_a_tampered_cursor_is_a_problem_not_a_500(
    api: APIClient, consenting_user: Any, tokens: dict[str, Any]
) -> None:
    _same_time_entries(api, 2)
    api.raise_request_exception = False

    response = api.get(entry_url("energy"), {"cursor": _cursor(**tokens)})

    # 404 "Invalid cursor", as for any cursor this API did not hand out.
    assert_problem(response, 404)


def test_a_hand_made_cursor_at_a_real_row_pages_after_it(
    api: APIClient, consenting_user: Any
) -> None:
    ids = sorted(_same_time_entries(api, 3), key=uuid.UUID, reverse=True)
    position = ["2026-11-26 09:00:00+00:00", ids[0]]

    response = api.get(entry_url("energy"), {"cursor": _cursor(p=position)})

    assert response.status_code == 200, response.content
    assert [e["id"] for e in response.json()["results"]] == ids[1:]
