"""The one thing other apps call when their data changes: mark days for recomputation.

Kept apart from ``services`` (which reads the journal and sales data) so the apps that write
that data can import it without a cycle.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.utils import timezone

from apps.insights.models import StaleDay


def days_mark_stale(*, user_id: Any, dates: Iterable[dt.date]) -> None:
    """Call inside the transaction that changed the days: one statement, however many days."""
    days = sorted(set(dates))
    if not days:
        return
    now = timezone.now()
    if connection.vendor != "postgresql":
        StaleDay.objects.bulk_create(
            [StaleDay(user_id=user_id, local_date=day, marked_at=now) for day in days],
            update_conflicts=True,
            unique_fields=["user", "local_date"],
            update_fields=["marked_at"],
        )
        return
    # Every journal write runs this: SQL text instead of a bulk_create compiled per call.
    with connection.cursor() as cursor:
        cursor.execute(_mark_sql(""), {"user_id": user_id, "marked_at": now, "days": days})


def days_mark_stale_after(when: str) -> str:
    """``days_mark_stale`` as a step of a PostgreSQL ``WITH`` query that marks the days only if
    ``when`` holds: a condition on what the query's earlier steps did, so that the days are
    marked only if the write happened. Parameters: ``user_id`` (the user's key), ``marked_at``
    and ``days`` (a list)."""
    return _mark_sql(f"WHERE {when}")


def _mark_sql(where: str) -> str:
    # The table comes from _meta, ``where`` from the caller's code; values are parameters.
    table = connection.ops.quote_name(StaleDay._meta.db_table)
    return (
        f"INSERT INTO {table} (user_id, local_date, marked_at) "  # noqa: S608
        f"SELECT %(user_id)s, day, %(marked_at)s FROM unnest(%(days)s::date[]) AS day {where} "
        "ON CONFLICT (user_id, local_date) DO UPDATE SET marked_at = EXCLUDED.marked_at"
    )
