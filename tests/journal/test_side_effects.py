"""A change marks the touched days' features for recomputation in the same transaction
(``insights.StaleDay``), so no committed change can lose its recomputation; the broker is not
involved in a write at all. The broker is the outside world, so it is the one thing replaced
here."""

from __future__ import annotations

import uuid

import pytest

from apps.insights.models import StaleDay
from energytrack.celery import app as celery_app
from tests.journal.helpers import VALID, batch, entry_url, item, put, rows

pytestmark = pytest.mark.django_db


def marked(user) -> list[str]:
    return sorted(
        d.isoformat()
        for d in StaleDay.objects.filter(user=user).values_list("local_date", flat=True)
    )


@pytest.fixture
def broker_down(monkeypatch):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(celery_app, "send_task", refuse)


def test_create_marks_its_day(api, consenting_user):
    put(api, "energy", uuid.uuid4(), VALID["energy"])

    assert marked(consenting_user) == ["2026-11-26"]


@pytest.mark.postgres
def test_marking_a_day_again_updates_its_row_in_place(api, consenting_user):
    """Every write re-marks its day: with marked_at in no index, PostgreSQL updates the row on
    its page (HOT) and adds nothing to the table's indexes."""
    from django.db import connection

    def updates() -> tuple[int, int]:
        # This transaction's own counts so far: (rows updated, of which in place).
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_stat_get_xact_tuples_updated(c.oid), "
                "pg_stat_get_xact_tuples_hot_updated(c.oid) "
                "FROM pg_class c WHERE c.relname = 'insights_staleday'"
            )
            return cursor.fetchone()

    put(api, "energy", uuid.uuid4(), VALID["energy"])
    updated, in_place = updates()
    for _ in range(3):
        put(api, "energy", uuid.uuid4(), VALID["energy"])

    assert updates() == (updated + 3, in_place + 3)
    assert marked(consenting_user) == ["2026-11-26"]


def test_moving_an_entry_marks_the_old_and_the_new_day(api, consenting_user):
    entry_id = uuid.uuid4()
    put(api, "energy", entry_id, VALID["energy"])
    StaleDay.objects.all().delete()

    put(api, "energy", entry_id, {**VALID["energy"], "occurred_at": "2026-11-24T10:00Z"})

    assert marked(consenting_user) == ["2026-11-24", "2026-11-26"]


def test_a_batch_marks_all_its_days(api, consenting_user):
    items = [
        item("energy", uuid.uuid4()),
        item("alcohol", uuid.uuid4()),
        item("sleep", uuid.uuid4()),
        item("energy", uuid.uuid4(), {**VALID["energy"], "level": 0}),
    ]
    batch(api, items)

    assert marked(consenting_user) == ["2026-11-25", "2026-11-26"]


def test_nothing_is_marked_when_nothing_changed(api, consenting_user):
    entry_id = uuid.uuid4()
    put(api, "energy", entry_id, {**VALID["energy"], "client_updated_at": "2026-11-26T15:00Z"})
    StaleDay.objects.all().delete()

    put(api, "energy", entry_id, {**VALID["energy"], "client_updated_at": "2026-11-26T15:00Z"})
    put(api, "energy", entry_id, {**VALID["energy"], "client_updated_at": "2026-11-26T15:30Z"})
    put(
        api,
        "energy",
        entry_id,
        {**VALID["energy"], "level": 9, "client_updated_at": "2026-11-26T14:00Z"},
    )
    put(api, "energy", uuid.uuid4(), {**VALID["energy"], "level": 0})

    assert marked(consenting_user) == []


def test_delete_marks_the_day(api, consenting_user):
    entry_id = uuid.uuid4()
    put(api, "alcohol", entry_id, VALID["alcohol"])
    StaleDay.objects.all().delete()

    api.delete(entry_url("alcohol", entry_id))

    assert marked(consenting_user) == ["2026-11-25"]


def test_withdrawal_with_deletion_marks_the_days(api, consenting_user):
    put(api, "alcohol", uuid.uuid4(), VALID["alcohol"])
    put(api, "alcohol", uuid.uuid4(), {**VALID["alcohol"], "occurred_at": "2026-11-20T21:00Z"})
    StaleDay.objects.all().delete()

    api.post("/api/v1/privacy/consents/alcohol/withdraw", {"delete_entries": True}, format="json")

    assert marked(consenting_user) == ["2026-11-20", "2026-11-25"]


def test_refused_checkin_marks_nothing(api, consenting_user):
    body = {
        "id": str(uuid.uuid4()),
        "level": 5,
        "sleep": {"bedtime": "2026-11-26T09:00:00+01:00", "wake_time": "2026-11-26T07:00+01:00"},
    }

    response = api.post("/api/v1/journal/checkin", body, format="json")

    assert response.status_code == 400
    assert marked(consenting_user) == []
    assert rows("energy").count() == 0


def test_broker_down_does_not_fail_any_write(api, consenting_user, broker_down):
    entry_id = uuid.uuid4()
    created = put(api, "energy", entry_id, VALID["energy"])
    batched = batch(api, [item("meal", uuid.uuid4())])
    checked_in = api.post(
        "/api/v1/journal/checkin", {"id": str(uuid.uuid4()), "level": 5}, format="json"
    )
    deleted = api.delete(entry_url("energy", entry_id))

    assert (created.status_code, batched.status_code) == (201, 200)
    assert (checked_in.status_code, deleted.status_code) == (201, 204)
    assert rows("meal").count() == 1
