"""Every journal read, always scoped to the owner. Outputs are plain dicts built from
``values()`` rows: a 90-day day view is six queries and no model instantiation."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Field, QuerySet
from django.db.models.expressions import RawSQL

from apps.journal.models import ENTRY_MODELS, JournalEntry, JournalState

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


# The day view is what the phone opens most: it carries what a day card shows and edits
# (the entry detail has the bookkeeping timestamps).
DAY_VIEW_FIELDS = ("id", "occurred_at", "tz", "note")
# Long enough to serve a morning's repeat reads; short enough that Redis holds only the
# active reps' views.
DAY_VIEW_CACHE_SECONDS = 600


def day_view(*, user: Any, date_from: dt.date, date_to: dt.date) -> list[dict[str, Any]]:
    """Every entry of every kind per local day, newest day first: one query per kind."""
    days: dict[dt.date, dict[str, list[Any]]] = {}
    for kind, model in ENTRY_MODELS.items():
        queryset = model.objects.filter(
            user=user, local_date__gte=date_from, local_date__lte=date_to
        ).order_by("occurred_at")
        for local_date, entry in _day_view_rows(kind, model, queryset):
            days.setdefault(local_date, {}).setdefault(kind, []).append(entry)
    return [
        {"local_date": day.isoformat(), "entries": days[day]} for day in sorted(days, reverse=True)
    ]


def _day_view_rows(kind: str, model: type[JournalEntry], queryset: QuerySet[Any]) -> Any:
    names = (*DAY_VIEW_FIELDS, *_kind_fields(kind))
    if connection.vendor == "postgresql":
        # PostgreSQL renders each entry as JSON text: no per-field parsing and re-encoding in
        # Python. Instants come out in its native ISO 8601 form (the connection is in UTC, so
        # "+00:00"); notes are ciphertext in the database, so they are filled in here.
        table = model._meta.db_table
        parts = []
        for name in names:
            field = model._meta.get_field(name)
            assert isinstance(field, Field)
            column = f'"{table}"."{field.column}"'
            if name == "note":
                parts.append("'note', ''")
            elif model._meta.get_field(name).get_internal_type() == "DecimalField":
                parts.append(f"'{name}', {column}::text")
            else:
                parts.append(f"'{name}', {column}")
        parts.append(f"'kind', '{kind}'")
        rows = queryset.annotate(
            entry_json=RawSQL(f"json_build_object({', '.join(parts)})::text", ())  # noqa: S611
        ).values_list("local_date", "entry_json", "note")
        for local_date, entry_json, note in rows:
            if note:
                entry = json.loads(entry_json)
                entry["note"] = note
                yield local_date, RawJSON(json.dumps(entry))
            else:
                yield local_date, RawJSON(entry_json)
        return
    converters = [_converter(model, name) for name in names]
    for local_date, *values in queryset.values_list("local_date", *names):
        entry = {
            name: (convert(value) if convert is not None and value is not None else value)
            for name, convert, value in zip(names, converters, values, strict=True)
        }
        entry["kind"] = kind
        yield local_date, entry


class RawJSON(str):
    """Text that is already JSON; the day-view renderer inserts it without re-encoding."""

    __slots__ = ()


def journal_version(*, user: Any) -> int:
    """The version every journal write moves on (0 before the first write)."""
    version = JournalState.objects.filter(user=user).values_list("version", flat=True).first()
    return version or 0


def day_view_json(*, user: Any, version: int, date_from: dt.date, date_to: dt.date) -> str:
    """The day view's ``days`` as JSON, from the cache while the journal version is unchanged
    (a write moves the version on, so an outdated copy is never found again)."""
    key = f"journal:days:{user.pk}:{version}:{date_from.isoformat()}:{date_to.isoformat()}"
    days_json = cache.get(key)
    if days_json is None:
        days_json = render_days(day_view(user=user, date_from=date_from, date_to=date_to))
        cache.set(key, days_json, timeout=DAY_VIEW_CACHE_SECONDS)
    return str(days_json)


def render_days(days: list[dict[str, Any]]) -> str:
    """The day view's ``days`` as JSON, splicing pre-rendered entries in as they are."""
    rendered = []
    for day in days:
        kinds = []
        for kind, entries in day["entries"].items():
            items = ",".join(e if isinstance(e, RawJSON) else json.dumps(e) for e in entries)
            kinds.append(f"{json.dumps(kind)}:[{items}]")
        rendered.append(
            f'{{"local_date":{json.dumps(day["local_date"])},"entries":{{{",".join(kinds)}}}}}'
        )
    return f"[{','.join(rendered)}]"


def render_day_view(head: dict[str, Any], days_json: str) -> bytes:
    head_json = json.dumps(head)
    return f'{head_json[:-1]},"days":{days_json}}}'.encode()


def _iso_instant(value: dt.datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _converter(model: type[JournalEntry], name: str) -> Any:
    field = model._meta.get_field(name)
    internal = field.get_internal_type()
    if internal == "DateTimeField":
        return _iso_instant
    if internal in ("UUIDField", "DecimalField"):
        return str
    return None


def has_checkin_on(*, user: Any, day: dt.date) -> bool:
    return ENTRY_MODELS["energy"].objects.filter(user=user, local_date=day).exists()


def category_entry_count(*, user: Any, category: str) -> int:
    return sum(
        model.objects.filter(user=user).count()
        for model in ENTRY_MODELS.values()
        if category == model.CATEGORY
    )
