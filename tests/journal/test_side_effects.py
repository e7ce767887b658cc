"""After a change the journal asks (after commit) for the touched days' features to be
recomputed; the broker being down never fails the write. The broker is the outside world,
so it is the one thing replaced here."""

from __future__ import annotations

import uuid

import pytest

from energytrack.celery import app as celery_app
from tests.journal.helpers import VALID, batch, entry_url, item, put, rows

pytestmark = pytest.mark.django_db

TASK = "apps.insights.tasks.day_features_refresh"


@pytest.fixture
def sent(monkeypatch):
    calls: list[tuple[str, tuple]] = []

    def fake_send_task(name, args=(), **options):
        calls.append((name, tuple(args)))

    monkeypatch.setattr(celery_app, "send_task", fake_send_task)
    return calls


@pytest.fixture
def broker_down(monkeypatch):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(celery_app, "send_task", refuse)


def test_create_asks_for_its_day_after_commit(
    api, consenting_user, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        put(api, "energy", uuid.uuid4(), VALID["energy"])
    assert sent == []  # nothing before the commit

    for callback in callbacks:
        callback()

    assert sent == [(TASK, (str(consenting_user.pk), ["2026-11-26"]))]


def test_moving_an_entry_refreshes_the_old_and_the_new_day(
    api, consenting_user, sent, django_capture_on_commit_callbacks
):
    entry_id = uuid.uuid4()
    put(api, "energy", entry_id, VALID["energy"])

    with django_capture_on_commit_callbacks(execute=True):
        put(api, "energy", entry_id, {**VALID["energy"], "occurred_at": "2026-11-24T10:00Z"})

    assert sent == [(TASK, (str(consenting_user.pk), ["2026-11-24", "2026-11-26"]))]


def test_a_batch_sends_one_task_for_all_its_days(
    api, consenting_user, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        batch(
            api,
            [
                item("energy", uuid.uuid4()),
                item("alcohol", uuid.uuid4()),
                item("sleep", uuid.uuid4()),
                item("energy", uuid.uuid4(), {**VALID["energy"], "level": 0}),
            ],
        )

    assert sent == [(TASK, (str(consenting_user.pk), ["2026-11-25", "2026-11-26"]))]


def test_nothing_is_sent_when_nothing_changed(
    api, consenting_user, sent, django_capture_on_commit_callbacks
):
    entry_id = uuid.uuid4()
    put(api, "energy", entry_id, {**VALID["energy"], "client_updated_at": "2026-11-26T15:00Z"})

    with django_capture_on_commit_callbacks(execute=True):
        put(api, "energy", entry_id, {**VALID["energy"], "client_updated_at": "2026-11-26T15:00Z"})
        put(api, "energy", entry_id, {**VALID["energy"], "client_updated_at": "2026-11-26T15:30Z"})
        put(
            api,
            "energy",
            entry_id,
            {**VALID["energy"], "level": 9, "client_updated_at": "2026-11-26T14:00Z"},
        )
        put(api, "energy", uuid.uuid4(), {**VALID["energy"], "level": 0})

    assert sent == []


def test_delete_refreshes_the_day(api, consenting_user, sent, django_capture_on_commit_callbacks):
    entry_id = uuid.uuid4()
    put(api, "alcohol", entry_id, VALID["alcohol"])

    with django_capture_on_commit_callbacks(execute=True):
        api.delete(entry_url("alcohol", entry_id))

    assert sent == [(TASK, (str(consenting_user.pk), ["2026-11-25"]))]


def test_withdrawal_with_deletion_refreshes_the_days(
    api, consenting_user, sent, django_capture_on_commit_callbacks
):
    put(api, "alcohol", uuid.uuid4(), VALID["alcohol"])
    put(api, "alcohol", uuid.uuid4(), {**VALID["alcohol"], "occurred_at": "2026-11-20T21:00Z"})

    with django_capture_on_commit_callbacks(execute=True):
        api.post(
            "/api/v1/privacy/consents/alcohol/withdraw", {"delete_entries": True}, format="json"
        )

    assert sent == [(TASK, (str(consenting_user.pk), ["2026-11-20", "2026-11-25"]))]


def test_refused_checkin_sends_nothing(
    api, consenting_user, sent, django_capture_on_commit_callbacks
):
    body = {
        "id": str(uuid.uuid4()),
        "level": 5,
        "sleep": {"bedtime": "2026-11-26T09:00:00+01:00", "wake_time": "2026-11-26T07:00+01:00"},
    }

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.post("/api/v1/journal/checkin", body, format="json")

    assert response.status_code == 400
    assert callbacks == []
    assert sent == []


def test_broker_down_does_not_fail_any_write(
    api, consenting_user, broker_down, django_capture_on_commit_callbacks
):
    entry_id = uuid.uuid4()
    with django_capture_on_commit_callbacks(execute=True):
        created = put(api, "energy", entry_id, VALID["energy"])
        batched = batch(api, [item("meal", uuid.uuid4())])
        checked_in = api.post(
            "/api/v1/journal/checkin", {"id": str(uuid.uuid4()), "level": 5}, format="json"
        )
        deleted = api.delete(entry_url("energy", entry_id))

    assert (created.status_code, batched.status_code) == (201, 200)
    assert (checked_in.status_code, deleted.status_code) == (201, 204)
    assert rows("meal").count() == 1
