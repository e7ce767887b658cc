"""The write limit on the journal: counted by the write's own statement in PostgreSQL (no Redis
round trip), refused with 429 and Retry-After, nothing stored; never applied to withdrawal."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from apps.journal.models import JournalState
from tests.journal.helpers import (
    VALID,
    assert_problem,
    batch,
    entry_url,
    item,
    put,
    rows,
    total_rows,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("three_writes_a_minute")]

CHECKIN_URL = "/api/v1/journal/checkin"
MORNING = {
    "level": 6,
    "sleep": {"duration_minutes": 420, "quality": 4},
    "drinks": {"standard_drinks": 2},
}


def _checkin(client: Any, body: dict[str, Any] | None = None) -> Any:
    return client.post(CHECKIN_URL, {"id": str(uuid.uuid4()), **(body or {"level": 5})}, "json")


def _assert_refused(response: Any) -> None:
    body = assert_problem(response, 429)
    assert body["type"].endswith("/throttled")
    assert 0 < int(response["Retry-After"]) <= 60


@pytest.mark.parametrize("body", [{"level": 5}, MORNING], ids=["energy only", "with sleep, drinks"])
def test_a_checkin_beyond_the_limit_is_refused_and_stores_nothing(
    api: Any, consenting_user: Any, clock: Any, body: dict[str, Any]
) -> None:
    statuses = [_checkin(api, body).status_code for _ in range(3)]
    stored = total_rows()

    refused = _checkin(api, body)

    assert statuses == [201, 201, 201]
    _assert_refused(refused)
    assert total_rows() == stored
    # The next window takes writes again.
    clock.move_to(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60))
    assert _checkin(api, body).status_code == 201


def test_every_kind_of_journal_write_counts(api: Any, consenting_user: Any) -> None:
    entry_id = uuid.uuid4()
    assert put(api, "energy", entry_id, VALID["energy"]).status_code == 201
    assert batch(api, [item("meal", uuid.uuid4())]).status_code == 200
    assert api.delete(entry_url("energy", entry_id)).status_code == 204

    _assert_refused(put(api, "sleep", uuid.uuid4(), VALID["sleep"]))
    _assert_refused(batch(api, [item("meal", uuid.uuid4())]))
    assert rows("sleep").count() == 0
    assert rows("meal").count() == 1


def test_the_limit_is_per_rep(
    api: Any, consenting_user: Any, other_user: Any, grant_all: Any, make_client: Any
) -> None:
    grant_all(other_user)
    for _ in range(3):
        _checkin(api)
    _assert_refused(_checkin(api))

    assert _checkin(make_client(other_user)).status_code == 201


def test_a_refused_write_in_a_transaction_leaves_the_count_where_it_was(
    api: Any, consenting_user: Any
) -> None:
    for _ in range(3):
        _checkin(api, MORNING)
    counted = JournalState.objects.get(user=consenting_user).writes_in_window

    version = JournalState.objects.get(user=consenting_user).version
    for _ in range(2):
        _assert_refused(_checkin(api, MORNING))

    state = JournalState.objects.get(user=consenting_user)
    assert state.writes_in_window == counted == 3
    assert state.version == version


def test_withdrawal_is_never_refused(api: Any, consenting_user: Any) -> None:
    for _ in range(3):
        _checkin(api)

    response = api.post(
        "/api/v1/privacy/consents/energy/withdraw", {"delete_entries": True}, format="json"
    )

    assert response.status_code == 200, response.content
    assert rows("energy").count() == 0


def test_an_edit_or_delete_beyond_the_limit_changes_nothing(api: Any, consenting_user: Any) -> None:
    entry_id = uuid.uuid4()
    put(api, "energy", entry_id, VALID["energy"])
    _checkin(api)
    _checkin(api)

    _assert_refused(put(api, "energy", entry_id, {**VALID["energy"], "level": 9}))
    _assert_refused(api.delete(entry_url("energy", entry_id)))

    assert rows("energy").get(pk=entry_id).level == VALID["energy"]["level"]


@pytest.mark.postgres
def test_a_refused_checkin_is_one_statement_and_changes_nothing(
    api: Any, consenting_user: Any, django_assert_num_queries: Any
) -> None:
    for _ in range(3):
        _checkin(api)
    before = JournalState.objects.values("version", "writes_in_window").get(user=consenting_user)

    # The session user and the write: the statement that would have counted it refused it.
    with django_assert_num_queries(2):
        _assert_refused(_checkin(api))

    # Not counted, and the journal version stays: the rep's cached day views stay valid.
    assert (
        JournalState.objects.values("version", "writes_in_window").get(user=consenting_user)
        == before
        == {"version": 3, "writes_in_window": 3}
    )


def test_an_edit_or_a_retry_counts_once(api: Any, consenting_user: Any) -> None:
    entry_id = uuid.uuid4()
    put(api, "energy", entry_id, VALID["energy"])
    put(api, "energy", entry_id, VALID["energy"])  # a retry: the same answer again
    put(api, "energy", entry_id, {**VALID["energy"], "level": 8})  # an edit

    # On PostgreSQL the one-statement attempt counted each before the general path answered.
    assert JournalState.objects.get(user=consenting_user).writes_in_window == 3
    assert rows("energy").get(pk=entry_id).level == 8


def test_a_sync_whose_every_item_is_refused_while_parsing_is_not_counted(
    api: Any, consenting_user: Any
) -> None:
    """Nothing could be stored: like a request refused while parsing, it is not counted and
    leaves the journal version (the rep's cached day views) where it was."""
    assert put(api, "energy", uuid.uuid4(), VALID["energy"]).status_code == 201
    before = JournalState.objects.values_list("version", "writes_in_window").get()
    items = [item("energy", uuid.uuid4(), {"level": 0}), {"kind": "nap", "id": "x"}]

    response = batch(api, items)

    assert response.status_code == 200, response.content
    assert [r["result"] for r in response.json()["results"]] == ["rejected", "rejected"]
    assert JournalState.objects.values_list("version", "writes_in_window").get() == before
