"""The pending-deliveries index is built without blocking webhook writes on PostgreSQL."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader


def _sql(*args: str) -> str:
    out = StringIO()
    call_command("sqlmigrate", "performance", "0002", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_index_builds_concurrently_on_postgresql_and_plainly_elsewhere():
    migration = MigrationLoader(connection).get_migration(
        "performance", "0002_webhook_pending_index"
    )
    # Non-atomic only where it builds concurrently; SQLite rebuilds the table in a transaction.
    assert migration.atomic is (connection.vendor != "postgresql")
    forwards, backwards = _sql(), _sql("--backwards")
    if connection.vendor == "postgresql":
        assert 'CREATE INDEX CONCURRENTLY "webhook_event_pending"' in forwards
        assert 'DROP INDEX CONCURRENTLY IF EXISTS "webhook_event_pending"' in backwards
    else:
        assert 'CREATE INDEX "webhook_event_pending"' in forwards
        assert "CONCURRENTLY" not in forwards + backwards
    # Outside a transaction on PostgreSQL, which refuses CONCURRENTLY inside one.
    assert ("BEGIN" in forwards) is (connection.vendor != "postgresql")
