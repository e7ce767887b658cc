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
    table = connection.ops.quote_name(StaleDay._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (user_id, local_date, marked_at) "  # noqa: S608
            "SELECT %s, day, %s FROM unnest(%s::date[]) AS day "
            "ON CONFLICT (user_id, local_date) DO UPDATE SET marked_at = EXCLUDED.marked_at",
            [user_id, now, days],
        )
