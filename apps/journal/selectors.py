"""Every journal read, always scoped to the owner. Outputs are plain dicts built from
``values()`` rows: a 90-day day view is six queries and no model instantiation."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import uuid
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import QuerySet

from apps.core.cache import set_unless_held
from apps.core.crypto import decrypt_text
from apps.core.renderers import jsonable
from apps.core.sql import pk_param, server_bound_cursor
from apps.core.time import iso_instant
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


def entry_to_dict(kind: str, entry: JournalEntry | dict[str, Any]) -> dict[str, Any]:
    names = (*OUTPUT_FIELDS, *_kind_fields(kind))
    if isinstance(entry, dict):
        out = {name: jsonable(entry[name]) for name in names}
    else:
        out = {name: jsonable(getattr(entry, name)) for name in names}
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


def day_view(*, user: Any, date_from: dt.date, date_to: dt.date) -> list[dict[str, Any]]:
    """Every entry of every kind per local day, newest day first (one query per kind)."""
    days: dict[dt.date, dict[str, list[Any]]] = {}
    for kind, queryset in _day_view_querysets(user, date_from, date_to).items():
        for local_date, entry in _day_view_rows(kind, queryset.order_by("occurred_at")):
            days.setdefault(local_date, {}).setdefault(kind, []).append(entry)
    return [
        {"local_date": day.isoformat(), "entries": days[day]} for day in sorted(days, reverse=True)
    ]


def _day_view_querysets(
    user: Any, date_from: dt.date, date_to: dt.date
) -> dict[str, QuerySet[Any]]:
    return {
        kind: model.objects.filter(user=user, local_date__gte=date_from, local_date__lte=date_to)
        for kind, model in ENTRY_MODELS.items()
    }


# A Fernet token is URL-safe base64 that starts with its version byte (0x80) and a 64-bit
# timestamp whose top bytes are zero: "gAAAAA". Text a rep typed is a JSON string, whose quotes
# are escaped, so it can never match.
_NOTE_TOKEN = re.compile(r'"note" : "(gAAAAA[A-Za-z0-9_=-]*)"')


def day_view_days_json(*, user: Any, date_from: dt.date, date_to: dt.date) -> str:
    """The day view's ``days`` array as JSON text.

    On PostgreSQL one query joins each entry's stored JSON (``day_view_json``, kept by a
    trigger, migration 0003) into days: Python touches no row. Notes leave the database as
    ciphertext and are decrypted here. Elsewhere: ``day_view`` rendered.
    """
    if connection.vendor != "postgresql":
        return render_days(day_view(user=user, date_from=date_from, date_to=date_to))
    with server_bound_cursor() as cursor:
        cursor.execute(_day_view_sql(), _day_view_params(user, date_from, date_to))
        days_json: str = cursor.fetchone()[0]
    return _with_notes(days_json)


def _day_view_params(user: Any, date_from: dt.date, date_to: dt.date) -> dict[str, Any]:
    return {"user_id": user.pk, "date_from": date_from, "date_to": date_to}


def _with_notes(days_json: str) -> str:
    if '"note" : "gAAAAA' not in days_json:
        return days_json
    return _NOTE_TOKEN.sub(lambda m: f'"note" : {json.dumps(decrypt_text(m.group(1)))}', days_json)


@functools.cache
def _day_view_sql() -> str:
    """The six kinds in a UNION ALL, grouped by day and kind, joined as text. Built once:
    compiling six querysets and their union cost more CPU than PostgreSQL's whole answer."""
    quote = connection.ops.quote_name
    # Identifiers and kinds come from the models, never from input; values are parameters.
    union = " UNION ALL ".join(
        f"SELECT local_date, occurred_at, '{kind}' AS kind, day_view_json "  # noqa: S608
        f"FROM {quote(model._meta.db_table)} WHERE user_id = %(user_id)s "
        "AND local_date >= %(date_from)s AND local_date <= %(date_to)s"
        for kind, model in ENTRY_MODELS.items()
    )
    # Kinds and dates are fixed strings with nothing to escape; each entry is already JSON.
    return (
        "SELECT '[' || coalesce(string_agg(d.day, ',' ORDER BY d.local_date DESC), '') || ']' "  # noqa: S608
        "FROM ("
        ' SELECT k.local_date, \'{"local_date":"\' || k.local_date || \'","entries":{\' '
        "   || string_agg('\"' || k.kind || '\":[' || k.items || ']', ',') || '}}' AS day"
        " FROM ("
        "  SELECT e.local_date, e.kind,"
        "   string_agg(e.day_view_json, ',' ORDER BY e.occurred_at, e.day_view_json) AS items"
        f"  FROM ({union}) AS e GROUP BY e.local_date, e.kind"
        " ) AS k GROUP BY k.local_date"
        ") AS d"
    )


def _day_view_rows(kind: str, queryset: QuerySet[Any]) -> Any:
    names = (*DAY_VIEW_FIELDS, *_kind_fields(kind))
    model = ENTRY_MODELS[kind]
    converters = [_converter(model, name) for name in names]
    for local_date, *values in queryset.values_list("local_date", *names):
        entry = {
            name: (convert(value) if convert is not None and value is not None else value)
            for name, convert, value in zip(names, converters, values, strict=True)
        }
        entry["kind"] = kind
        yield local_date, entry


@functools.cache
def _day_view_state_sql() -> str:
    """The journal version and, unless it is the one the caller knows, the days: one query.

    The days are an uncorrelated subquery (an InitPlan), which PostgreSQL runs only when the
    ``CASE`` needs it: a known version costs the version's lookup alone."""
    state = connection.ops.quote_name(JournalState._meta.db_table)
    return (
        "SELECT s.version, CASE WHEN s.version = %(known)s::bigint THEN NULL "  # noqa: S608
        f"ELSE ({_day_view_sql()}) END "
        f"FROM (SELECT coalesce((SELECT version FROM {state} WHERE user_id = %(user_id)s), 0)"
        " AS version) AS s"
    )


def journal_version(*, user: Any) -> int:
    """The version every journal write moves on (0 before the first write)."""
    # Raw SQL: the ORM's query building cost more than running it.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT version FROM {JournalState._meta.db_table} WHERE user_id = %s",  # noqa: S608
            [pk_param(user)],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def _current_days(
    *, user: Any, date_from: dt.date, date_to: dt.date, known: int | None
) -> tuple[int, str | None]:
    """The journal version and the days as JSON, or ``None`` for the days while the version
    is ``known`` (the caller already has them)."""
    if connection.vendor != "postgresql":
        version = journal_version(user=user)
        if version == known:
            return version, None
        return version, day_view_days_json(user=user, date_from=date_from, date_to=date_to)
    params = {**_day_view_params(user, date_from, date_to), "known": known}
    with server_bound_cursor() as cursor:
        cursor.execute(_day_view_state_sql(), params)
        version, days_json = cursor.fetchone()
    # Notes stay ciphertext here: this text is what the cache keeps (day_view_state).
    return int(version), days_json


def day_view_cache_prefix(user_pk: Any) -> str:
    """What every cached day view of one rep starts with (the range follows)."""
    return f"journal:days:{user_pk}:"


def day_view_hold_key(user_pk: Any) -> str:
    """While set, no day view of the rep is cached (``journal.services.day_views_forget``);
    outside the cache prefix, so deleting the cached views keeps it."""
    return f"journal:days-held:{user_pk}"


def day_view_state(
    *, user: Any, date_from: dt.date, date_to: dt.date, phone_version: int | None = None
) -> tuple[int, str | None]:
    """The journal version and the day view's ``days`` as JSON; ``None`` for the days when the
    version is still ``phone_version`` (the phone has them: answer 304).

    Always one query: the version decides whether the days are built, in the same statement.
    Without a version from the phone, the days built for the last version read are taken from
    the cache (one ``GET``) and built only if the version moved on; a write moves it on, so an
    outdated copy is never served. The cache holds the notes as the database does, encrypted
    (Redis is shared with the broker and may be persisted); they are decrypted per response.
    """
    timeout = settings.JOURNAL_DAY_VIEW_CACHE_SECONDS
    key = f"{day_view_cache_prefix(user.pk)}{date_from.isoformat()}:{date_to.isoformat()}"
    cached: tuple[int, str] | None = None
    known = phone_version
    if known is None and timeout:
        found = cache.get(key)
        if isinstance(found, tuple) and len(found) == 2:
            cached = found
            known = cached[0]
    version, days_json = _current_days(user=user, date_from=date_from, date_to=date_to, known=known)
    if days_json is not None:
        if timeout:
            # Read before a deletion committed, this copy may hold what it deleted: refused
            # while the deletion holds the rep's views (never served either way: its version
            # is gone).
            set_unless_held(key, (version, days_json), timeout, day_view_hold_key(user.pk))
        return version, _with_notes(days_json)
    if cached is not None:
        return version, _with_notes(cached[1])
    return version, None


def render_days(days: list[dict[str, Any]]) -> str:
    """The day view's ``days`` as JSON, splicing pre-rendered entries in as they are."""
    rendered = []
    for day in days:
        kinds = []
        for kind, entries in day["entries"].items():
            items = ",".join(json.dumps(e) for e in entries)
            kinds.append(f"{json.dumps(kind)}:[{items}]")
        rendered.append(
            f'{{"local_date":{json.dumps(day["local_date"])},"entries":{{{",".join(kinds)}}}}}'
        )
    return f"[{','.join(rendered)}]"


def render_day_view(head: dict[str, Any], days_json: str) -> bytes:
    head_json = json.dumps(head)
    return f'{head_json[:-1]},"days":{days_json}}}'.encode()


def _converter(model: type[JournalEntry], name: str) -> Any:
    field = model._meta.get_field(name)
    internal = field.get_internal_type()
    if internal == "DateTimeField":
        return iso_instant
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
