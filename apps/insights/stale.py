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
        cursor.execute(
            f"{_insert_head()} SELECT %s, day, %s FROM unnest(%s::date[]) AS day {_ON_CONFLICT}",  # noqa: S608
            [user_id, now, days],
        )


def day_mark_stale_after(*, user_id: Any, day: dt.date, source: str) -> tuple[str, list[Any]]:
    """``days_mark_stale`` of one day as a PostgreSQL ``WITH`` query (SQL, parameters) that runs
    once per row of ``source``, a name defined earlier in the same ``WITH``: the day is marked
    only if the write it follows happened."""
    return (
        # ``source`` is a name from the caller's code, never input; the values are parameters.
        f"{_insert_head()} SELECT %s, %s::date, %s FROM {source} {_ON_CONFLICT}",  # noqa: S608
        [user_id, day, timezone.now()],
    )


def _insert_head() -> str:
    table = connection.ops.quote_name(StaleDay._meta.db_table)
    return f"INSERT INTO {table} (user_id, local_date, marked_at)"


_ON_CONFLICT = "ON CONFLICT (user_id, local_date) DO UPDATE SET marked_at = EXCLUDED.marked_at"
