"""The hand-built statements of apps.core.sql on a real database."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.sql import insert_new, server_bound_cursor
from apps.journal.models import EnergyCheckin
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _entry(user, entry_id: uuid.UUID | None = None) -> EnergyCheckin:
    import datetime as dt

    at = dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC)
    return EnergyCheckin(
        id=entry_id or uuid.uuid4(),
        user=user,
        occurred_at=at,
        tz="Europe/Amsterdam",
        local_date=at.date(),
        client_updated_at=at,
        level=5,
    )


def test_insert_new_returns_only_the_keys_it_inserted():
    user = UserFactory()
    first = _entry(user)
    assert insert_new(EnergyCheckin, [first]) == {first.pk}
    second = _entry(user)
    # The taken key is left alone, the free one is inserted: one statement for both.
    assert insert_new(EnergyCheckin, [_entry(user, first.pk), second]) == {second.pk}
    assert EnergyCheckin.objects.count() == 2


@pytest.mark.postgres
def test_a_statement_run_often_through_the_server_bound_cursor_is_prepared_once():
    """The hot write path relies on PostgreSQL planning its WITH query once per connection
    (settings: prepare_threshold); Django's own cursors never prepare."""
    marker = f"prepared-{uuid.uuid4().hex}"
    with CaptureQueriesContext(connection) as captured:
        for _ in range(8):
            with server_bound_cursor() as cursor:
                cursor.execute(f"SELECT %s::text, '{marker}'", ["x"])
                assert cursor.fetchone()[0] == "x"
    # The query log keeps the statement, values rendered in, after it was prepared too.
    assert [q["sql"] for q in captured.captured_queries] == [f"SELECT 'x'::text, '{marker}'"] * 8
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans + custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE %s",
            [f"%{marker}%"],
        )
        (runs,) = cursor.fetchone()
    # Prepared on its fifth run; the later runs executed the prepared statement.
    assert runs >= 3


@pytest.mark.postgres
def test_django_cursors_still_bind_on_the_client():
    marker = f"client-{uuid.uuid4().hex}"
    for _ in range(8):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT %s::text, '{marker}'", ["x"])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            [f"%{marker}%"],
        )
        assert cursor.fetchone()[0] == 0
