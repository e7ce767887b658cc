from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from apps.core.sql import pk_param
from apps.privacy.models import (
    Category,
    ConsentEvent,
    ConsentState,
    DataExport,
    PrivacyPreference,
)


def retention_cutoff(now: dt.datetime) -> dt.datetime:
    """Raw entries, and the records of their deletions, from before this are not kept."""
    return now - dt.timedelta(days=round(settings.RETENTION_MONTHS * 30.44))


def consented_categories(*, user: Any) -> set[str]:
    # Read on every journal write: SQL text built once instead of a queryset compiled per call.
    table = connection.ops.quote_name(ConsentState._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT category FROM {table} WHERE user_id = %s AND granted",  # noqa: S608
            [pk_param(user)],
        )
        return {category for (category,) in cursor.fetchall()}


def consented_categories_by_user(*, user_ids: list[Any], hold: bool = False) -> dict[str, set[str]]:
    """Each user's consented categories, keyed by the user's key as text (one query).

    ``hold`` (inside the transaction that stores what is derived from them): the consent rows
    read are locked ``FOR SHARE`` until it commits, as a journal write locks them. A withdrawal
    under way is waited for and its category then read as withdrawn; one that starts later waits
    for this transaction, and then deletes what it stored. Without the lock, consents read
    before a withdrawal committed would let derived data of the category be stored after the
    withdrawal deleted it. (SQLite: a plain read; it lets one transaction write at a time.)
    """
    granted: dict[str, set[str]] = {str(uid): set() for uid in user_ids}
    rows: Any
    if hold and connection.vendor == "postgresql":
        meta = ConsentState._meta
        table = connection.ops.quote_name(meta.db_table)
        user_type = meta.get_field("user").rel_db_type(connection)
        # Locked in one order (user, category) whoever takes several: no deadlock between two.
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT user_id, category FROM {table} "  # noqa: S608
                f"WHERE user_id = ANY(%s::{user_type}[]) AND granted "
                "ORDER BY user_id, category FOR SHARE",
                [[str(uid) for uid in user_ids]],
            )
            rows = cursor.fetchall()
    else:
        rows = ConsentState.objects.filter(user_id__in=user_ids, granted=True).values_list(
            "user_id", "category"
        )
    for uid, category in rows:
        granted.setdefault(str(uid), set()).add(category)
    return granted


def consent_held_sql() -> str:
    """A query with one row per category the user consents to; parameters: ``user_id``, the
    user's key (as ``core.sql.pk_param`` gives it), and ``categories``, an array (as
    ``core.sql.array_literal`` gives it).

    For a write that checks consent in the statement that stores the data (PostgreSQL). The rows
    are locked ``FOR SHARE`` until the write commits: a withdrawal (which updates its row first,
    then deletes the category's entries) waits for the write and so deletes its entries too; a
    write that comes second waits for the withdrawal and then reads the withdrawn row, as row
    locks always read the newest version. Whatever locks both (withdrawal, erasure, this
    write) takes the consent rows first, in category order, then the journal row, so none of
    them can deadlock.
    """
    table = connection.ops.quote_name(ConsentState._meta.db_table)
    return (
        f"SELECT category FROM {table} WHERE user_id = %(user_id)s "  # noqa: S608
        "AND category = ANY(%(categories)s::text[]) "
        "AND granted ORDER BY category FOR SHARE"
    )


def consent_states(*, user: Any) -> dict[str, ConsentState]:
    return {state.category: state for state in ConsentState.objects.filter(user=user)}


def consent_history(*, user: Any) -> QuerySet[ConsentEvent]:
    return ConsentEvent.objects.filter(user=user).order_by("-created_at")


ALL_CATEGORIES: tuple[str, ...] = tuple(Category.values)


def export_get(*, user: Any, export_id: Any) -> DataExport:
    return DataExport.objects.get(user=user, pk=export_id)


def privacy_preference(*, user: Any) -> bool:
    return PrivacyPreference.objects.filter(user=user, keep_aggregates=True).exists()
