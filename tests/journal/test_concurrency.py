"""A phone that retries while the first request is still running: real concurrent requests
against PostgreSQL. Exactly one copy of each entry, and never a 500."""

from __future__ import annotations

import datetime as dt
import random
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.journal.services import EntryInput, entries_upsert
from tests.journal.helpers import KINDS, VALID, batch, item, put, rows, total_rows
from tests.races import while_another_transaction_holds

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 5


def _run_at_once(clients: list[APIClient], send: Callable[[int, APIClient], Any]) -> list[Any]:
    barrier = threading.Barrier(len(clients))
    responses: list[Any] = [None] * len(clients)
    failures: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            responses[index] = send(index, clients[index])
        except BaseException as exc:  # surfaced in the main thread below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    return responses


def _clients(make_client, user, count: int = THREADS) -> list[APIClient]:
    # Each thread its own client (and so its own session cookie and DB connection).
    return [make_client(user) for _ in range(count)]


def _fifty_items() -> list[dict]:
    out = []
    for i in range(50):
        kind = KINDS[i % len(KINDS)]
        out.append(item(kind, uuid.uuid4(), {**VALID[kind], "note": f"queued {i}"}))
    return out


def test_same_batch_from_five_threads_stores_one_copy(consenting_user, make_client):
    items = _fifty_items()

    responses = _run_at_once(
        _clients(make_client, consenting_user), lambda _i, client: batch(client, items)
    )

    assert [r.status_code for r in responses] == [200] * THREADS, [r.content for r in responses]
    for response in responses:
        results = response.json()["results"]
        assert len(results) == 50
        # Every thread is told its items are stored (a retry replays "created").
        assert {r["result"] for r in results} == {"created"}, results
    # ... and all get the same answer: the timestamps of the rows that were really stored.
    assert len({r.content for r in responses}) == 1
    assert total_rows() == 50
    for sent in items:
        assert rows(sent["kind"]).filter(pk=sent["id"], user=consenting_user).count() == 1


def test_same_batch_in_different_orders_does_not_deadlock(consenting_user, make_client):
    items = _fifty_items()
    orders = [random.Random(seed).sample(items, len(items)) for seed in range(THREADS)]

    responses = _run_at_once(
        _clients(make_client, consenting_user),
        lambda i, client: batch(client, orders[i]),
    )

    assert [r.status_code for r in responses] == [200] * THREADS, [r.content for r in responses]
    for response in responses:
        assert {r["result"] for r in response.json()["results"]} == {"created"}
    assert total_rows() == 50


def test_same_put_from_five_threads(consenting_user, make_client):
    entry_id = uuid.uuid4()

    responses = _run_at_once(
        _clients(make_client, consenting_user),
        lambda _i, client: put(client, "energy", entry_id, VALID["energy"]),
    )

    assert [r.status_code for r in responses] == [201] * THREADS
    assert len({r.content for r in responses}) == 1
    assert rows("energy").count() == 1


def test_conflicting_edits_at_once_keep_the_latest_client_time(consenting_user, make_client):
    entry_id = uuid.uuid4()
    first = {**VALID["energy"], "client_updated_at": "2026-11-26T15:00:00Z"}
    put(make_client(consenting_user), "energy", entry_id, first)
    edits = [
        {**VALID["energy"], "level": level, "client_updated_at": f"2026-11-26T15:0{level}:00Z"}
        for level in range(1, THREADS + 1)
    ]

    responses = _run_at_once(
        _clients(make_client, consenting_user),
        lambda i, client: put(client, "energy", entry_id, edits[i]),
    )

    assert all(r.status_code == 200 for r in responses), [r.content for r in responses]
    # (the level-4 edit equals the stored entry: "unchanged" when it runs first)
    assert {r.json()["result"] for r in responses} <= {"updated", "stale", "unchanged"}
    assert rows("energy").get().level == THREADS


def test_two_users_racing_for_one_id(consenting_user, other_user, make_client, grant_all):
    """Only one of them gets the id; the other is told 404, never a 500."""
    grant_all(other_user)
    entry_id = uuid.uuid4()
    clients = [make_client(consenting_user), make_client(other_user)] * 2

    responses = _run_at_once(
        clients, lambda _i, client: put(client, "sleep", entry_id, VALID["sleep"])
    )

    codes = sorted(r.status_code for r in responses)
    assert set(codes) <= {201, 404}, [r.content for r in responses]
    owner = rows("sleep").get().user_id
    for client_user, response in zip([consenting_user, other_user] * 2, responses, strict=True):
        assert response.status_code == (201 if client_user.pk == owner else 404)


def test_an_id_taken_by_another_user_mid_write_is_a_404_not_a_500(
    api, consenting_user, other_user, grant_all
):
    """The other user's insert is not yet committed when this write inserts the same id, so
    this write's insert waits for it, then finds the id taken and answers 404."""
    grant_all(other_user)
    entry_id = uuid.uuid4()
    at = dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC)
    other_users_insert = EntryInput(
        kind="energy", id=entry_id, values={"occurred_at": at, "level": 3}
    )
    # A first request warms this process up (the other transaction waits for the raced
    # request whatever its speed; this keeps the wait short).
    assert api.get("/api/v1/journal/days").status_code == 200

    with while_another_transaction_holds(
        lambda: entries_upsert(user=other_user, items=[other_users_insert])
    ):
        response = put(api, "energy", entry_id, VALID["energy"])

    assert response.status_code == 404, response.content
    assert rows("energy").get().user_id == other_user.pk


def test_an_id_deleted_by_its_owner_mid_write_rolls_the_whole_check_in_back(
    api, consenting_user, other_user, grant_all
):
    """The sleep id of this check-in belongs to another user, who holds the row and deletes it
    while this write waits: the insert found the id taken, the read then finds nothing. The
    check-in is one act: it answers 409 "send it again" and stores neither part."""
    grant_all(other_user)
    sleep_id = uuid.uuid4()
    wake = dt.datetime(2026, 11, 26, 6, 30, tzinfo=dt.UTC)
    entries_upsert(
        user=other_user,
        items=[EntryInput(kind="sleep", id=sleep_id, values={"occurred_at": wake})],
    )
    owners_row = rows("sleep").filter(pk=sleep_id)
    assert api.get("/api/v1/journal/days").status_code == 200  # warm-up, as above

    with while_another_transaction_holds(
        lambda: owners_row.select_for_update().get(), finish=owners_row.delete
    ):
        response = api.post(
            "/api/v1/journal/checkin",
            {"id": str(uuid.uuid4()), "level": 6, "sleep": {"id": str(sleep_id), "quality": 3}},
            format="json",
        )

    assert response.status_code == 409, response.content
    assert total_rows() == 0


def test_a_withdrawal_committed_while_a_write_waits_is_honoured(api, consenting_user):
    """The withdrawal has updated the consent row and deleted the category's entries, but not
    committed, when a new entry arrives. The one-statement write reads consent with a row lock,
    so it waits for the withdrawal and then sees the withdrawn row: a 403 and nothing stored
    (a plain read would see the consent as it was when the statement began, and store)."""
    from apps.privacy.services import consent_withdraw

    assert api.get("/api/v1/journal/days").status_code == 200  # warm-up, as above

    with while_another_transaction_holds(
        lambda: consent_withdraw(user=consenting_user, category="energy", delete_entries=True)
    ):
        response = put(api, "energy", uuid.uuid4(), VALID["energy"])

    assert response.status_code == 403, response.content
    assert response.json()["category"] == "energy"
    assert total_rows() == 0


def test_a_withdrawal_waits_for_a_write_in_progress_and_deletes_its_entry(api, consenting_user):
    """The other way round: a write holding the consent row makes the withdrawal wait, and the
    withdrawal then deletes what that write stored. No deadlock: both take the consent row
    first, then the journal lock."""
    entry = EntryInput(
        kind="energy",
        id=uuid.uuid4(),
        values={"occurred_at": dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC), "level": 4},
    )
    assert api.get("/api/v1/journal/days").status_code == 200  # warm-up, as above

    with while_another_transaction_holds(
        lambda: entries_upsert(user=consenting_user, items=[entry])
    ):
        response = api.post(
            "/api/v1/privacy/consents/energy/withdraw", {"delete_entries": True}, format="json"
        )

    assert response.status_code == 200, response.content
    assert response.json()["entries_deleted"] == 1
    assert total_rows() == 0


@pytest.mark.parametrize("how", ["PUT", "batch"])
def test_an_older_edit_sent_while_its_entry_is_being_deleted_stays_deleted(
    api, consenting_user, how
):
    """The phone's deletion is committing while another phone's older edit of the same entry
    arrives: the edit's statement waits for the deletion's journal lock. It read the rep's
    deletions before that commit, so it must not trust that read: the deletion stands."""
    from apps.journal.models import DeletedEntry
    from apps.journal.services import entry_delete

    entry_id = uuid.uuid4()
    made = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
    body = {**VALID["energy"], "client_updated_at": made.isoformat()}
    assert put(api, "energy", entry_id, body).status_code == 201
    older_edit = {
        **body,
        "level": 2,
        "client_updated_at": (made + dt.timedelta(minutes=5)).isoformat(),
    }
    new_id = uuid.uuid4()

    with while_another_transaction_holds(
        lambda: entry_delete(
            user=consenting_user,
            kind="energy",
            entry_id=entry_id,
            deleted_at=made + dt.timedelta(minutes=10),
        )
    ):
        if how == "PUT":
            response = put(api, "energy", entry_id, older_edit)
        else:
            response = batch(api, [item("energy", entry_id, older_edit), item("energy", new_id)])

    assert response.status_code == 200, response.content
    answer = response.json() if how == "PUT" else response.json()["results"][0]
    assert answer["result"] == "stale", answer
    assert not rows("energy").filter(pk=entry_id).exists()
    assert DeletedEntry.objects.filter(entry_id=entry_id).exists()
    if how == "batch":
        assert response.json()["results"][1]["result"] == "created"
        assert rows("energy").filter(pk=new_id).exists()


@pytest.mark.parametrize("how", ["PUT", "batch", "check-in"])
def test_a_write_that_waited_for_the_accounts_erasure_is_refused_not_a_500(
    api, consenting_user, how
):
    """The phone's queue flushes while the rep erases the account on another device: the write
    was signed in when it began, then waited for the erasure. It is answered as signed out
    (401) and stores nothing; before, the write's journal row, whose user was gone, failed at
    commit (a 500)."""
    from apps.journal.models import JournalState
    from apps.privacy.services import user_erase

    assert api.get("/api/v1/journal/days").status_code == 200  # warm-up, as above

    with while_another_transaction_holds(lambda: user_erase(user=consenting_user)):
        if how == "PUT":
            response = put(api, "energy", uuid.uuid4(), VALID["energy"])
        elif how == "batch":
            response = batch(api, [item("energy", uuid.uuid4()), item("sleep", uuid.uuid4())])
        else:
            response = api.post(
                "/api/v1/journal/checkin", {"id": str(uuid.uuid4()), "level": 5}, format="json"
            )

    assert response.status_code == 401, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"]  # as for any signed-out request
    assert response.json()["type"].endswith("/not-authenticated")
    assert total_rows() == 0
    assert not JournalState.objects.exists()
