"""The one thing other apps call when their data changes: mark days for recomputation.

Kept apart from ``services`` (which reads the journal and sales data) so the apps that write
that data can import it without a cycle.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from django.db import connection
from django.utils import timezone

from apps.core.sql import array_literal
from apps.insights.models import StaleDay


def days_mark_stale(*, user_id: Any, dates: Iterable[dt.date]) -> None:
    """Call inside the transaction that changed the days: one statement, however many days."""
    days_mark_stale_many({user_id: dates})


def days_mark_stale_many(marks: Mapping[Any, Iterable[dt.date]]) -> None:
    """``days_mark_stale`` for many users at once (a webhook drain, an import): one statement.

    The rows are marked in (user, day) order, the order every marker takes, so two
    transactions marking overlapping days wait for each other instead of deadlocking."""
    pairs = sorted({(user_id, day) for user_id, dates in marks.items() for day in dates})
    if not pairs:
        return
    now = timezone.now()
    if connection.vendor != "postgresql":
        StaleDay.objects.bulk_create(
            [StaleDay(user_id=user_id, local_date=day, marked_at=now) for user_id, day in pairs],
            update_conflicts=True,
            unique_fields=["user", "local_date"],
            update_fields=["marked_at"],
        )
        return
    # Every journal write runs this: SQL text instead of a bulk_create compiled per call.
    with connection.cursor() as cursor:
        users = {user_id for user_id, _ in pairs}
        if len(users) == 1:
            days = array_literal(d for _, d in pairs)
            params = {"user_id": next(iter(users)), "marked_at": now, "days": days}
            cursor.execute(_mark_sql(""), params)
        else:
            cursor.execute(
                _mark_many_sql(),
                {"users": [u for u, _ in pairs], "days": [d for _, d in pairs], "marked_at": now},
            )


def days_mark_stale_after(when: str) -> str:
    """``days_mark_stale`` as a step of a PostgreSQL ``WITH`` query that marks the days only if
    ``when`` holds: a condition on what the query's earlier steps did, so that the days are
    marked only if the write happened. Parameters: ``user_id`` (the user's key), ``marked_at``
    and ``days`` (an array, as ``core.sql.array_literal`` gives it)."""
    return _mark_sql(f"WHERE {when}")


def _mark_sql(where: str) -> str:
    # The table comes from _meta, ``where`` from the caller's code; values are parameters.
    table = connection.ops.quote_name(StaleDay._meta.db_table)
    return (
        f"INSERT INTO {table} (user_id, local_date, marked_at) "  # noqa: S608
        f"SELECT %(user_id)s, day, %(marked_at)s FROM unnest(%(days)s::date[]) AS day {where} "
        "ON CONFLICT (user_id, local_date) DO UPDATE SET marked_at = EXCLUDED.marked_at"
    )


@cache
def _mark_many_sql() -> str:
    meta = StaleDay._meta
    user_type = meta.get_field("user").rel_db_type(connection)
    # The table and type come from _meta; values are parameters.
    return (
        f"INSERT INTO {connection.ops.quote_name(meta.db_table)} "  # noqa: S608
        "(user_id, local_date, marked_at) "
        f"SELECT m.user_id, m.day, %(marked_at)s FROM unnest(%(users)s::{user_type}[], "
        "%(days)s::date[]) AS m(user_id, day) ORDER BY m.user_id, m.day "
        "ON CONFLICT (user_id, local_date) DO UPDATE SET marked_at = EXCLUDED.marked_at"
    )
