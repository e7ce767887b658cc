"""PUT /api/v1/journal/<kind>/<uuid>: idempotent upsert, last write by client time wins."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection

from tests.journal.helpers import (
    CHANGE,
    EXPECTED_OUT,
    EXPECTED_ROW,
    KINDS,
    VALID,
    assert_problem,
    changed,
    entry_url,
    put,
    row_values,
    rows,
    subset,
)

pytestmark = pytest.mark.django_db


def test_an_upper_case_id_in_the_path_names_the_same_entry(api, consenting_user):
    """Apple's UUID().uuidString is upper case; the batch reads a body's id in any case, so the
    entry it created must be reachable by the same id in a path."""
    entry_id = uuid.uuid4()
    upper = str(entry_id).upper()

    created = put(api, "energy", upper, VALID["energy"])
    again = put(api, "energy", str(entry_id), VALID["energy"])
    read = api.get(entry_url("energy", upper))
    stored = rows("energy").count()
    deleted = api.delete(entry_url("energy", upper))

    assert created.status_code == 201, created.content
    assert created.json()["entry"]["id"] == str(entry_id)
    # The same request again, by the id in lower case: one entry, the same answer.
    assert (again.status_code, again.json()) == (201, created.json())
    assert stored == 1
    assert read.json()["id"] == str(entry_id)
    assert deleted.status_code == 204
    assert not rows("energy").exists()


def test_a_path_id_that_is_not_a_uuid_is_404(api, consenting_user):
    response = api.get(entry_url("energy", "not-a-uuid-" + "0" * 25))

    assert_problem(response, 404)


@pytest.mark.parametrize("kind", KINDS)
def test_create_answers_201_with_the_stored_entry(api, consenting_user, kind):
    entry_id = uuid.uuid4()

    response = put(api, kind, entry_id, VALID[kind])

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["result"] == "created"
    assert body["entry"]["id"] == str(entry_id)
    assert body["entry"]["kind"] == kind
    assert subset(body["entry"], EXPECTED_OUT[kind]) == EXPECTED_OUT[kind]
    row = rows(kind).get()
    assert row.pk == entry_id
    assert row.user_id == consenting_user.pk
    assert {name: getattr(row, name) for name in EXPECTED_ROW[kind]} == EXPECTED_ROW[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_exact_retry_gives_the_same_answer_and_one_row(api, consenting_user, kind):
    entry_id = uuid.uuid4()

    first = put(api, kind, entry_id, VALID[kind])
    second = put(api, kind, entry_id, VALID[kind])
    third = put(api, kind, entry_id, VALID[kind])

    assert first.status_code == second.status_code == third.status_code == 201
    assert first.json() == second.json() == third.json()
    assert rows(kind).count() == 1


@pytest.mark.parametrize("kind", KINDS)
def test_changed_body_updates_the_entry(api, consenting_user, kind):
    entry_id = uuid.uuid4()
    put(api, kind, entry_id, VALID[kind])
    name, body_value, row_value = CHANGE[kind]

    response = put(api, kind, entry_id, changed(kind))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["result"] == "updated"
    assert body["entry"][name] == body_value
    row = rows(kind).get()
    assert getattr(row, name) == row_value
    # The retry of the edit replays "updated", not "created".
    again = put(api, kind, entry_id, changed(kind))
    assert again.status_code == 200
    assert again.json() == body


@pytest.mark.parametrize("kind", KINDS)
def test_older_client_edit_is_stale_and_changes_nothing(api, consenting_user, kind):
    entry_id = uuid.uuid4()
    newer = "2026-11-26T15:00:00Z"
    older = "2026-11-26T14:00:00Z"
    put(api, kind, entry_id, {**VALID[kind], "client_updated_at": newer})
    before = row_values(rows(kind).get())

    response = put(api, kind, entry_id, changed(kind, client_updated_at=older))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["result"] == "stale"
    assert "newer" in body["detail"]
    # The answer shows what is kept: the newer stored entry.
    assert subset(body["entry"], EXPECTED_OUT[kind]) == EXPECTED_OUT[kind]
    assert body["entry"]["client_updated_at"] == newer
    assert row_values(rows(kind).get()) == before


@pytest.mark.parametrize("kind", KINDS)
def test_newer_client_edit_wins(api, consenting_user, kind):
    entry_id = uuid.uuid4()
    put(api, kind, entry_id, {**VALID[kind], "client_updated_at": "2026-11-26T14:00:00Z"})

    response = put(api, kind, entry_id, changed(kind, client_updated_at="2026-11-26T15:00:00Z"))

    assert response.json()["result"] == "updated"
    row = rows(kind).get()
    name, _, row_value = CHANGE[kind]
    assert getattr(row, name) == row_value
    assert row.client_updated_at.isoformat() == "2026-11-26T15:00:00+00:00"


@pytest.mark.parametrize("kind", KINDS)
def test_same_content_with_new_client_time_is_unchanged(api, consenting_user, kind):
    entry_id = uuid.uuid4()
    put(api, kind, entry_id, {**VALID[kind], "client_updated_at": "2026-11-26T14:00:00Z"})
    before = row_values(rows(kind).get())

    response = put(
        api, kind, entry_id, {**VALID[kind], "client_updated_at": "2026-11-26T15:00:00Z"}
    )

    assert response.status_code == 200, response.content
    assert response.json()["result"] == "unchanged"
    after = row_values(rows(kind).get())
    # Only the edit time moves on: the newest edit by the phone's clock is this one.
    assert after.pop("client_updated_at") == dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.UTC)
    before.pop("client_updated_at")
    assert after == before


def test_an_older_edit_loses_to_a_newer_one_that_changed_nothing(api, consenting_user):
    """Phone A resends the entry unchanged at 15:30; phone B's edit of 15:00 arrives after it."""
    entry_id = uuid.uuid4()
    put(api, "energy", entry_id, {**VALID["energy"], "client_updated_at": "2026-11-26T14:00:00Z"})
    again = put(
        api, "energy", entry_id, {**VALID["energy"], "client_updated_at": "2026-11-26T15:30:00Z"}
    )
    assert again.json()["result"] == "unchanged"

    late = put(
        api,
        "energy",
        entry_id,
        {**VALID["energy"], "level": 8, "client_updated_at": "2026-11-26T15:00:00Z"},
    )

    assert late.json()["result"] == "stale"
    assert rows("energy").get().level == VALID["energy"]["level"]


def test_edit_without_client_time_counts_as_now(api, consenting_user):
    entry_id = uuid.uuid4()
    put(api, "energy", entry_id, VALID["energy"])

    response = put(api, "energy", entry_id, changed("energy"))

    assert response.json()["result"] == "updated"
    assert rows("energy").get().level == 6


def test_put_replaces_the_whole_entry(api, consenting_user):
    """PUT semantics: a field left out of the edit is cleared, not kept from before."""
    entry_id = uuid.uuid4()
    put(api, "energy", entry_id, {**VALID["energy"], "note": "after lunch"})

    response = put(api, "energy", entry_id, {"occurred_at": VALID["energy"]["occurred_at"]})

    assert response.json()["result"] == "updated"
    row = rows("energy").get()
    assert (row.level, row.focus, row.mood, row.note) == (None, None, None, "")


def test_only_kind_and_time_are_required(api, consenting_user):
    for kind in KINDS:
        response = put(api, kind, uuid.uuid4(), {"occurred_at": "2026-11-26T09:00:00+01:00"})
        assert response.status_code == 201, (kind, response.content)

    missing = put(api, "energy", uuid.uuid4(), {"level": 5})
    body = assert_problem(missing, 400)
    assert "occurred_at" in body["errors"]


def test_sleep_duration_is_derived_from_bedtime(api, consenting_user):
    entry_id = uuid.uuid4()
    body = {
        "occurred_at": "2026-11-26T06:45:00+01:00",
        "bedtime": "2026-11-25T22:30:00+01:00",
        # A client's own (wrong) duration loses to the two times it sent.
        "duration_minutes": 60,
    }

    response = put(api, "sleep", entry_id, body)

    assert response.json()["entry"]["duration_minutes"] == 8 * 60 + 15
    assert rows("sleep").get().duration_minutes == 495


def test_sleep_duration_without_bedtime_is_kept(api, consenting_user):
    response = put(
        api,
        "sleep",
        uuid.uuid4(),
        {"occurred_at": "2026-11-26T07:00:00+01:00", "duration_minutes": 420},
    )

    assert response.json()["entry"]["duration_minutes"] == 420
    assert response.json()["entry"]["bedtime"] is None


def test_sleep_belongs_to_the_calendar_day_of_waking(api, consenting_user):
    """Woken at 03:30 (before the 04:00 day boundary): the night still counts for that
    morning, while an energy check-in at the same instant counts for the evening before."""
    wake = "2026-11-26T03:30:00+01:00"
    sleep = put(
        api, "sleep", uuid.uuid4(), {"occurred_at": wake, "bedtime": "2026-11-25T23:00:00+01:00"}
    )
    energy = put(api, "energy", uuid.uuid4(), {"occurred_at": wake, "level": 3})

    assert sleep.json()["entry"]["local_date"] == "2026-11-26"
    assert energy.json()["entry"]["local_date"] == "2026-11-25"


def test_note_round_trips(api, consenting_user):
    entry_id = uuid.uuid4()
    put(api, "meal", entry_id, {**VALID["meal"], "note": "Too much bread 🥖"})

    response = api.get(entry_url("meal", entry_id))

    assert response.status_code == 200
    assert response.json()["note"] == "Too much bread 🥖"


@pytest.mark.parametrize("kind", KINDS)
def test_another_users_entry_is_404_for_every_method(
    api, consenting_user, other_user, make_client, grant_all, kind
):
    entry_id = uuid.uuid4()
    put(api, kind, entry_id, VALID[kind])
    before = row_values(rows(kind).get())
    grant_all(other_user)
    intruder = make_client(other_user)

    got = intruder.get(entry_url(kind, entry_id))
    written = put(intruder, kind, entry_id, changed(kind))
    retried = put(intruder, kind, entry_id, VALID[kind])  # same body as the owner's
    deleted = intruder.delete(entry_url(kind, entry_id))

    for response in (got, written, retried, deleted):
        body = assert_problem(response, 404)
        assert body["type"].endswith("/not-found"), body
        assert str(consenting_user.pk) not in response.content.decode()
    assert row_values(rows(kind).get()) == before
    # The owner still sees it.
    assert api.get(entry_url(kind, entry_id)).status_code == 200


def test_anonymous_is_refused(make_client, consenting_user):
    response = put(make_client(None), "energy", uuid.uuid4(), VALID["energy"])

    assert_problem(response, 401)
    assert rows("energy").count() == 0


def test_statements_for_a_new_entry_a_retry_and_an_edit(
    api, consenting_user, django_assert_num_queries
):
    """A new entry: the session user and one statement (consent, lock, insert, stale mark). A
    retry or an edit: that statement finds the id taken, so the general path runs without its
    own insert: lock, consent, the rep's deletions of these ids, the row read FOR UPDATE and,
    for an edit, updated and its day marked, in a transaction (two statements more); a retry
    changes nothing and marks nothing. Elsewhere than on PostgreSQL a new entry takes the
    general path too (8)."""
    entry_id = uuid.uuid4()
    put(api, "energy", uuid.uuid4(), VALID["energy"])  # warm the session
    with django_assert_num_queries(2 if connection.vendor == "postgresql" else 8):
        assert put(api, "energy", entry_id, VALID["energy"]).status_code == 201
    with django_assert_num_queries(8):
        assert put(api, "energy", entry_id, VALID["energy"]).status_code == 201
    with django_assert_num_queries(10):
        assert put(api, "energy", entry_id, changed("energy")).status_code == 200
