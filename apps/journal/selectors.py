"""Every journal read, always scoped to the owner. Outputs are plain dicts built from
``values()`` rows: a 90-day day view is six queries and no model instantiation."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from apps.journal.models import ENTRY_MODELS, JournalEntry

OUTPUT_FIELDS = (
    "id",
    "occurred_at",
    "tz",
    "local_date",
    "note",
    "client_updated_at",
    "created_at",
    "updated_at",
)


def _kind_fields(kind: str) -> tuple[str, ...]:
    from apps.journal.services import KIND_FIELDS

    return KIND_FIELDS[kind]


def entry_queryset(*, user: Any, kind: str) -> QuerySet[JournalEntry]:
    return ENTRY_MODELS[kind].objects.filter(user=user)


def entry_get(*, user: Any, kind: str, entry_id: uuid.UUID) -> JournalEntry:
    return entry_queryset(user=user, kind=kind).get(pk=entry_id)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def entry_to_dict(kind: str, entry: JournalEntry | dict[str, Any]) -> dict[str, Any]:
    names = (*OUTPUT_FIELDS, *_kind_fields(kind))
    if isinstance(entry, dict):
        out = {name: _jsonable(entry[name]) for name in names}
    else:
        out = {name: _jsonable(getattr(entry, name)) for name in names}
    out["kind"] = kind
    return out


def entry_list(
    *, user: Any, kind: str, date_from: dt.date | None = None, date_to: dt.date | None = None
) -> QuerySet[JournalEntry]:
    queryset = entry_queryset(user=user, kind=kind)
    if date_from:
        queryset = queryset.filter(local_date__gte=date_from)
    if date_to:
        queryset = queryset.filter(local_date__lte=date_to)
    return queryset


def day_view(*, user: Any, date_from: dt.date, date_to: dt.date) -> list[dict[str, Any]]:
    """Every entry of every kind per local day, newest day first: one query per kind."""
    days: dict[dt.date, dict[str, list[dict[str, Any]]]] = {}
    for kind, model in ENTRY_MODELS.items():
        rows = (
            model.objects.filter(user=user, local_date__gte=date_from, local_date__lte=date_to)
            .order_by("occurred_at")
            .values(*OUTPUT_FIELDS, *_kind_fields(kind))
        )
        for row in rows:
            days.setdefault(row["local_date"], {}).setdefault(kind, []).append(
                entry_to_dict(kind, row)
            )
    return [
        {"local_date": day.isoformat(), "entries": days[day]} for day in sorted(days, reverse=True)
    ]


def has_checkin_on(*, user: Any, day: dt.date) -> bool:
    return ENTRY_MODELS["energy"].objects.filter(user=user, local_date=day).exists()


def category_entry_count(*, user: Any, category: str) -> int:
    return sum(
        model.objects.filter(user=user).count()
        for model in ENTRY_MODELS.values()
        if category == model.CATEGORY
    )
