"""A deleted entry stays deleted against older edits (last write wins for deletions too).

A rep deletes an entry on one phone; the other phone, offline, had edited it earlier and
syncs later. Without a record of the deletion that edit would store the entry again.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine

from apps.journal.models import DeletedEntry, DeletedKind
from apps.journal.services import TOGETHER_MAX_ENTRIES
from apps.privacy.selectors import retention_cutoff
from tests.journal.helpers import NOW, VALID, assert_problem, batch, entry_url, item, put, rows

pytestmark = pytest.mark.django_db


def _iso(instant: dt.datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def _created_then_deleted(api) -> uuid.UUID:
    entry_id = uuid.uuid4()
    body = {**VALID["energy"], "client_updated_at": _iso(NOW - dt.timedelta(hours=1))}
    assert put(api, "energy", entry_id, body).status_code == 201
    assert api.delete(entry_url("energy", entry_id)).status_code == 204
    return entry_id


def _energy_items(count: int, start: dt.datetime) -> list[dict]:
    """New energy entries for a sync, a minute apart from ``start``."""
    return [
        item(
            "energy",
            uuid.uuid4(),
            {"occurred_at": _iso(start + dt.timedelta(minutes=i)), "level": 5},
        )
        for i in range(count)
    ]


def _edit(minutes_from_now: int) -> dict:
    edited_at = NOW + dt.timedelta(minutes=minutes_from_now)
    return {**VALID["energy"], "level": 8, "client_updated_at": _iso(edited_at)}


def test_an_edit_made_before_the_deletion_does_not_bring_the_entry_back(api, consenting_user):
    entry_id = _created_then_deleted(api)

    response = put(api, "energy", entry_id, _edit(-30))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["result"] == "stale"
    assert "deleted" in body["detail"]
    assert "entry" not in body
    assert not rows("energy").exists()
    assert api.get(entry_url("energy", entry_id)).status_code == 404


def test_a_retry_of_the_create_after_the_deletion_is_stale(api, consenting_user):
    entry_id = uuid.uuid4()
    body = {**VALID["energy"], "client_updated_at": _iso(NOW - dt.timedelta(hours=1))}
    assert put(api, "energy", entry_id, body).status_code == 201
    assert api.delete(entry_url("energy", entry_id)).status_code == 204

    again = put(api, "energy", entry_id, body)

    assert (again.status_code, again.json()["result"]) == (200, "stale")
    assert not rows("energy").exists()


def test_an_edit_made_after_the_deletion_creates_the_entry_again(api, consenting_user):
    entry_id = _created_then_deleted(api)

    response = put(api, "energy", entry_id, _edit(5))

    assert response.status_code == 201, response.content
    assert response.json()["entry"]["level"] == 8
    assert rows("energy").get().pk == entry_id
    # Created again: the deletion it overruled is forgotten, a later delete records its own.
    assert not DeletedEntry.objects.exists()


@pytest.mark.parametrize(
    "new_entries", [3, TOGETHER_MAX_ENTRIES + 10], ids=["small sync", "large sync"]
)
def test_a_sync_answers_the_deleted_entry_stale_and_stores_the_rest(
    api, consenting_user, new_entries
):
    entry_id = _created_then_deleted(api)
    others = _energy_items(new_entries, NOW - dt.timedelta(days=2))

    response = batch(api, [item("energy", entry_id, _edit(-30)), *others])

    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert results[0]["result"] == "stale" and "entry" not in results[0]
    assert [r["result"] for r in results[1:]] == ["created"] * new_entries
    assert rows("energy").count() == new_entries
    assert not rows("energy").filter(pk=entry_id).exists()


def test_a_retried_check_in_after_its_entry_was_deleted_stays_deleted(api, consenting_user):
    # Stamped by the phone when the rep tapped, as a queued check-in is.
    checkin = {"id": str(uuid.uuid4()), "level": 6, "occurred_at": _iso(NOW)}
    assert api.post("/api/v1/journal/checkin", checkin, format="json").status_code == 201
    assert api.delete(entry_url("energy", checkin["id"])).status_code == 204

    again = api.post("/api/v1/journal/checkin", checkin, format="json")

    assert again.status_code == 200, again.content
    assert again.json()["energy"]["result"] == "stale"
    assert not rows("energy").exists()


def test_a_retried_check_in_without_time_after_its_deletion_stays_deleted(
    api, consenting_user, clock
):
    """Without ``occurred_at`` the server times the check-in when it arrives: the retry, an
    hour after the deletion, must not count as an edit made after it."""
    checkin = {"id": str(uuid.uuid4()), "level": 6, "sleep": {"quality": 4}}
    assert api.post("/api/v1/journal/checkin", checkin, format="json").status_code == 201
    sleep_id = str(uuid.uuid5(uuid.UUID(checkin["id"]), "sleep"))
    assert api.delete(entry_url("energy", checkin["id"])).status_code == 204
    clock.shift(dt.timedelta(hours=1))

    again = api.post("/api/v1/journal/checkin", checkin, format="json")

    # 201: the sleep part repeats its first answer.
    assert again.status_code == 201, again.content
    answer = again.json()
    assert answer["energy"]["result"] == "stale"
    assert "entry" not in answer["energy"]
    assert not rows("energy").exists()
    # The part that was not deleted repeats its first answer.
    assert answer["sleep"]["result"] == "created"
    assert str(rows("sleep").get().pk) == sleep_id


def test_another_reps_deletion_of_the_same_id_changes_nothing_for_me(
    api, consenting_user, other_user, make_client, grant_all
):
    grant_all(other_user)
    theirs = make_client(other_user)
    entry_id = _created_then_deleted(theirs)

    response = put(api, "energy", entry_id, _edit(-30))

    assert response.status_code == 201, response.content
    assert rows("energy", consenting_user).get().pk == entry_id
    assert DeletedEntry.objects.get().user_id == other_user.pk


def test_a_deletion_is_exported_and_erased_with_the_account(api, consenting_user):
    from apps.journal import privacy

    entry_id = _created_then_deleted(api)

    exported = privacy.export_user(consenting_user)["deleted"]
    privacy.erase_user(consenting_user)

    assert [(d["kind"], d["id"]) for d in exported] == [("energy", str(entry_id))]
    assert set(exported[0]) == {"kind", "id", "deleted_at"}
    assert exported[0]["deleted_at"].endswith("Z")  # as every instant of the export
    assert not DeletedEntry.objects.exists()


def test_retention_purges_old_deletions_with_the_entries(api, consenting_user, clock):
    from apps.journal.services import entries_purge_before

    old = _created_then_deleted(api)
    clock.move_to(NOW + dt.timedelta(days=2))
    recent = _created_then_deleted(api)

    entries_purge_before(cutoff=NOW + dt.timedelta(days=1))

    assert list(DeletedEntry.objects.values_list("entry_id", flat=True)) == [recent]
    assert old != recent


def test_withdrawing_a_consent_with_deletion_forgets_that_categorys_deletions(api, consenting_user):
    _created_then_deleted(api)
    sleep_id = uuid.uuid4()
    assert put(api, "sleep", sleep_id, VALID["sleep"]).status_code == 201
    assert api.delete(entry_url("sleep", sleep_id)).status_code == 204

    response = api.post(
        "/api/v1/privacy/consents/energy/withdraw", {"delete_entries": True}, format="json"
    )

    assert response.status_code == 200, response.content
    assert list(DeletedEntry.objects.values_list("kind", flat=True)) == ["sleep"]
    # In their place, when every energy entry went.
    assert list(DeletedKind.objects.values_list("kind", flat=True)) == ["energy"]


# --- a withdrawal with deletion, then a new grant ----------------------------------------------


def _withdrawn_with_deletion_then_granted(api, category: str = "energy") -> None:
    withdrawn = api.post(
        f"/api/v1/privacy/consents/{category}/withdraw", {"delete_entries": True}, format="json"
    )
    assert withdrawn.status_code == 200, withdrawn.content
    granted = api.post(f"/api/v1/privacy/consents/{category}/grant")
    assert granted.status_code in (200, 201), granted.content


def _assert_not_stored(answer: dict, because: str) -> None:
    """Answered stale without an entry, the detail saying ``because``."""
    assert answer["result"] == "stale"
    assert because in answer["detail"]
    assert "entry" not in answer


def _assert_not_stored_for_the_withdrawal(answer: dict) -> None:
    _assert_not_stored(answer, "withdrawn")


@pytest.mark.parametrize("stored_before", [True, False], ids=["stored entry", "never synced"])
def test_a_change_made_before_a_withdrawal_with_deletion_is_not_stored_after_a_new_grant(
    api, consenting_user, stored_before
):
    """The phone's queue still holds an edit the rep made before withdrawing the consent with
    deletion; it arrives after the rep granted the consent again."""
    entry_id = uuid.uuid4()
    if stored_before:
        assert put(api, "energy", entry_id, _edit(-60)).status_code == 201
    _withdrawn_with_deletion_then_granted(api)

    response = put(api, "energy", entry_id, _edit(-30))

    assert response.status_code == 200, response.content
    _assert_not_stored_for_the_withdrawal(response.json())
    assert not rows("energy").exists()


def test_a_change_made_after_the_withdrawal_is_stored_after_a_new_grant(
    api, consenting_user, clock
):
    _withdrawn_with_deletion_then_granted(api)
    clock.shift(dt.timedelta(minutes=5))

    response = put(api, "energy", uuid.uuid4(), _edit(5))

    assert response.status_code == 201, response.content
    assert rows("energy").count() == 1


@pytest.mark.parametrize(
    "new_entries", [1, TOGETHER_MAX_ENTRIES + 10], ids=["small sync", "large sync"]
)
def test_a_sync_after_a_new_grant_stores_only_what_the_withdrawal_did_not_precede(
    api, consenting_user, clock, new_entries
):
    _withdrawn_with_deletion_then_granted(api)
    clock.shift(dt.timedelta(minutes=5))
    before = item("energy", uuid.uuid4(), _edit(-30))
    after = [item("energy", uuid.uuid4(), _edit(5)) for _ in range(new_entries)]
    # Another category, which was not withdrawn, made before the withdrawal all the same.
    sleep = item("sleep", uuid.uuid4(), {**VALID["sleep"], "client_updated_at": _iso(NOW)})

    response = batch(api, [before, *after, sleep])

    assert response.status_code == 200, response.content
    results = response.json()["results"]
    _assert_not_stored_for_the_withdrawal(results[0])
    assert [r["result"] for r in results[1:]] == ["created"] * (new_entries + 1)
    assert rows("energy").count() == new_entries
    assert not rows("energy").filter(pk=before["id"]).exists()
    assert rows("sleep").count() == 1


def test_a_check_in_made_before_the_withdrawal_stores_only_its_other_parts(
    api, consenting_user, clock
):
    checkin = {
        "id": str(uuid.uuid4()),
        "level": 6,
        "occurred_at": _iso(NOW - dt.timedelta(minutes=10)),
        "sleep": {"quality": 4},
    }
    _withdrawn_with_deletion_then_granted(api)

    response = api.post("/api/v1/journal/checkin", checkin, format="json")

    assert response.status_code == 201, response.content
    _assert_not_stored_for_the_withdrawal(response.json()["energy"])
    assert response.json()["sleep"]["result"] == "created"
    assert not rows("energy").exists()


def test_a_check_in_without_time_after_a_new_grant_is_stored(api, consenting_user):
    """It has no time of its own to put before the withdrawal: it is the new check-in it says.
    The clock stands still, so the server times it at the withdrawal's very instant, which an
    edit so timed would not be stored at."""
    with time_machine.travel(NOW, tick=False):
        _withdrawn_with_deletion_then_granted(api)

        response = api.post(
            "/api/v1/journal/checkin", {"id": str(uuid.uuid4()), "level": 6}, format="json"
        )

    assert response.status_code == 201, response.content
    assert rows("energy").count() == 1


def test_another_reps_withdrawal_changes_nothing_for_me(
    api, consenting_user, other_user, make_client, grant_all
):
    grant_all(other_user)
    _withdrawn_with_deletion_then_granted(make_client(other_user))

    response = put(api, "energy", uuid.uuid4(), _edit(-30))

    assert response.status_code == 201, response.content
    assert DeletedKind.objects.get().user_id == other_user.pk


def test_a_withdrawal_with_deletion_is_exported_erased_and_purged(api, consenting_user, clock):
    from apps.journal import privacy
    from apps.journal.services import entries_purge_before

    _withdrawn_with_deletion_then_granted(api, "sleep")
    clock.move_to(NOW + dt.timedelta(days=2))
    _withdrawn_with_deletion_then_granted(api, "energy")

    exported = privacy.export_user(consenting_user)["deleted_kinds"]
    entries_purge_before(cutoff=NOW + dt.timedelta(days=1))
    kept = list(DeletedKind.objects.values_list("kind", flat=True))
    privacy.erase_user(consenting_user)

    assert [d["kind"] for d in exported] == ["sleep", "energy"]
    assert set(exported[0]) == {"kind", "deleted_at"}
    assert exported[0]["deleted_at"].endswith("Z")
    assert kept == ["energy"]
    assert not DeletedKind.objects.exists()


# --- a deletion that waited offline is timed by the phone -------------------------------------


def _stored(api, minutes_ago: int) -> uuid.UUID:
    entry_id = uuid.uuid4()
    edited_at = NOW - dt.timedelta(minutes=minutes_ago)
    body = {**VALID["energy"], "client_updated_at": _iso(edited_at)}
    assert put(api, "energy", entry_id, body).status_code == 201
    return entry_id


def _delete(api, entry_id: uuid.UUID, query: str):
    return api.delete(f"{entry_url('energy', entry_id)}?{query}")


@pytest.mark.parametrize(
    ("edit_minutes", "result", "stored"),
    [(-40, "stale", False), (-20, "created", True)],
    ids=["edit made before the deletion", "edit made after it"],
)
def test_a_deletion_sent_late_is_judged_by_when_the_rep_made_it(
    api, consenting_user, edit_minutes, result, stored
):
    entry_id = _stored(api, minutes_ago=60)

    deleted = _delete(api, entry_id, f"deleted_at={_iso(NOW - dt.timedelta(minutes=30))}")
    assert deleted.status_code == 204, deleted.content
    assert DeletedEntry.objects.get().deleted_at == NOW - dt.timedelta(minutes=30)

    # The other phone's edit arrives after the deletion; made 20 minutes ago it is the newer.
    response = put(api, "energy", entry_id, _edit(edit_minutes))

    assert response.json()["result"] == result
    assert rows("energy").filter(pk=entry_id).exists() is stored


def test_a_deletion_older_than_the_last_edit_keeps_the_entry(api, consenting_user):
    entry_id = _stored(api, minutes_ago=60)
    # Edited on another phone 10 minutes ago, deleted on this one 30 minutes ago (offline).
    assert put(api, "energy", entry_id, _edit(-10)).status_code == 200

    response = _delete(api, entry_id, f"deleted_at={_iso(NOW - dt.timedelta(minutes=30))}")

    body = assert_problem(response, 409)
    assert body["type"].endswith("/edited-after-deletion")
    assert body["client_updated_at"] == _iso(NOW - dt.timedelta(minutes=10))
    assert rows("energy").get(pk=entry_id).level == 8
    assert not DeletedEntry.objects.exists()
    # Deleted again now (a newer deletion), it goes.
    assert _delete(api, entry_id, f"deleted_at={_iso(NOW)}").status_code == 204
    assert not rows("energy").exists()


def test_a_phone_whose_clock_runs_ahead_deletes_what_it_just_edited(api, consenting_user):
    """Phone time is compared with phone time: five minutes fast is within the skew allowed."""
    entry_id = _stored(api, minutes_ago=60)
    assert put(api, "energy", entry_id, _edit(5)).status_code == 200

    response = _delete(api, entry_id, f"deleted_at={_iso(NOW + dt.timedelta(minutes=6))}")

    assert response.status_code == 204, response.content
    assert DeletedEntry.objects.get().deleted_at == NOW + dt.timedelta(minutes=6)
    # An edit made between its last edit and the deletion is older than the deletion.
    late = put(api, "energy", entry_id, {**_edit(5), "level": 2})
    assert late.json()["result"] == "stale"
    assert not rows("energy").exists()


def test_a_deletion_without_a_time_is_the_newest_write(api, consenting_user):
    """As before phones sent their time (another client, an item queued before): it deletes,
    and an edit older than the entry's last one does not bring the entry back."""
    entry_id = _stored(api, minutes_ago=60)
    assert put(api, "energy", entry_id, _edit(5)).status_code == 200  # a clock 5 min fast

    assert api.delete(entry_url("energy", entry_id)).status_code == 204

    assert DeletedEntry.objects.get().deleted_at == NOW + dt.timedelta(minutes=5)
    assert put(api, "energy", entry_id, _edit(4)).json()["result"] == "stale"
    assert not rows("energy").exists()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("deleted_at=yesterday", "deleted_at"),
        ("deleted_at=2026-11-26T15:00:00", "deleted_at"),
        (f"deleted_at={_iso(NOW + dt.timedelta(hours=1))}", "deleted_at"),
        ("deletedAt=2026-11-26T15:00:00Z", "deletedAt"),
    ],
    ids=["not a time", "no time zone", "an hour ahead", "misspelt"],
)
def test_a_bad_deletion_time_is_a_400_that_deletes_nothing(api, consenting_user, query, field):
    entry_id = _stored(api, minutes_ago=60)

    body = assert_problem(_delete(api, entry_id, query.replace("+", "%2B")), 400)

    assert field in body["errors"], body
    assert rows("energy").filter(pk=entry_id).exists()
    assert not DeletedEntry.objects.exists()


# --- changes older than the retention period ---------------------------------------------------

# A minute past the 18 months (RETENTION_MONTHS) for which entries and their deletions are
# kept, counted from NOW: changes made (and deletions recorded) before NOW are older than that.
AFTER_RETENTION = NOW + (NOW - retention_cutoff(NOW)) + dt.timedelta(minutes=1)
# An entry time still within the retention period then: stamped a few minutes ahead of NOW (a
# phone clock ahead, within the 10 minutes allowed). An entry time older than the period is
# refused whatever its edit time (test_retention.py); the edit time is what these tests age.
WITHIN_RETENTION = NOW + dt.timedelta(minutes=5)


def _after_retention(api, clock, user) -> None:
    clock.move_to(AFTER_RETENTION)
    api.force_login(user)  # the session of 18 months ago has expired: the rep signs in again


def _old_edit(minutes_from_now: int) -> dict:
    """An edit made before the retention period (at NOW + ``minutes_from_now``) of an entry
    whose time is within it."""
    return {**_edit(minutes_from_now), "occurred_at": _iso(WITHIN_RETENTION)}


def _assert_too_old(answer: dict) -> None:
    _assert_not_stored(answer, "retention period")


@pytest.mark.parametrize("deleted_before", [True, False], ids=["deleted entry", "never synced"])
def test_a_change_older_than_the_retention_period_creates_no_entry(
    api, consenting_user, clock, deleted_before
):
    """A phone offline for longer than the retention period syncs an edit from its queue (of an
    entry whose time is still within it, see WITHIN_RETENTION). Its entry may have been deleted
    since, and the deletion's record purged with the old entries:
    the edit cannot be told apart from one the rep undid, so it creates nothing."""
    from apps.privacy.services import retention_purge

    entry_id = _created_then_deleted(api) if deleted_before else uuid.uuid4()
    _after_retention(api, clock, consenting_user)
    retention_purge()
    assert not DeletedEntry.objects.exists()

    response = put(api, "energy", entry_id, _old_edit(-2))

    assert response.status_code == 200, response.content
    _assert_too_old(response.json())
    assert not rows("energy").exists()


def test_an_old_change_of_a_stored_entry_is_still_compared_with_it(api, consenting_user, clock):
    """A stored entry shows no deletion overruled the change: last write wins, as always."""
    entry_id = uuid.uuid4()
    stored = {**_old_edit(-4), "level": 4}
    assert put(api, "energy", entry_id, stored).status_code == 201
    _after_retention(api, clock, consenting_user)

    older = put(api, "energy", entry_id, {**_old_edit(-5), "level": 2})
    newer = put(api, "energy", entry_id, _old_edit(-2))

    assert (older.json()["result"], older.json()["entry"]["level"]) == ("stale", 4)
    assert (newer.json()["result"], newer.json()["entry"]["level"]) == ("updated", 8)
    assert rows("energy").get().level == 8


@pytest.mark.parametrize(
    "new_entries", [1, TOGETHER_MAX_ENTRIES + 10], ids=["small sync", "large sync"]
)
def test_a_sync_stores_its_recent_entries_beside_one_older_than_the_retention_period(
    api, consenting_user, clock, new_entries
):
    _after_retention(api, clock, consenting_user)
    too_old = item("energy", uuid.uuid4(), _old_edit(-2))
    recent = _energy_items(new_entries, AFTER_RETENTION - dt.timedelta(days=2))

    response = batch(api, [too_old, *recent])

    assert response.status_code == 200, response.content
    results = response.json()["results"]
    _assert_too_old(results[0])
    assert [r["result"] for r in results[1:]] == ["created"] * new_entries
    assert rows("energy").count() == new_entries
    assert not rows("energy").filter(pk=too_old["id"]).exists()
