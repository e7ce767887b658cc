"""Hand-built statements for the few writes every phone makes many times a day.

The ORM compiles each queryset anew on every call (~0.2-0.5 ms of CPU for a simple insert or
select, more than the statement itself costs PostgreSQL). These helpers build their SQL text once
per model from its ``_meta`` (so a schema change cannot leave them behind) and convert values
with the fields' own ``get_db_prep_save``, as the ORM's insert compiler does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from functools import cache
from typing import Any

import orjson
import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models import Field, Model
from psycopg.types.json import Json, Jsonb


@cache
def insert_parts(
    model: type[Model],
) -> tuple[list[Field[Any, Any]], str, str, str, list[str], str]:
    """The fields of ``model``'s rows and the pieces of its INSERT: head (``INSERT INTO t
    (columns) ``), one row of ``%s`` placeholders, the ``SELECT`` of many rows from one JSON
    parameter (``rows_json``), each column's type, and the tail for ``insert_new``."""
    meta = model._meta
    quote = connection.ops.quote_name
    fields: list[Field[Any, Any]] = list(meta.concrete_fields)
    # Identifiers come from the model's _meta, never from input; values are parameters.
    columns = ", ".join(quote(str(f.column)) for f in fields)
    head = f"INSERT INTO {quote(meta.db_table)} ({columns}) "
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    # Many rows go as one JSON text that PostgreSQL turns into rows of the table's own type.
    # Cheaper on both sides than an array per column (as Django's bulk insert sends): psycopg
    # inspects and converts every array in Python, ~15 of them per kind, which for the small
    # mixed batches a phone syncs cost more than the rows themselves (decisions.md).
    many = f"SELECT {columns} FROM json_populate_recordset(NULL::{quote(meta.db_table)}, %s::json)"  # noqa: S608
    types = [
        str(f.rel_db_type(connection) if f.is_relation else f.db_type(connection)) for f in fields
    ]
    pk = quote(str(meta.pk.column))
    tail = f" ON CONFLICT ({pk}) DO NOTHING RETURNING {pk}"
    return fields, head, row, many, types, tail


def _json_value(value: Any) -> Any:
    """What orjson does not write itself, as PostgreSQL reads it back into the column: a
    number as its text, a JSON field's adapter as its value."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Json | Jsonb):
        # Django wraps a JSONField's value in psycopg's adapter; without a custom encoder
        # (none in this project's models) the wrapped value is what the column stores.
        return value.obj
    raise TypeError(f"{type(value).__name__} has no JSON form for a row")


def rows_json(fields: Sequence[Field[Any, Any]], rows: Iterable[Sequence[Any]]) -> str:
    """Rows of database values (``get_db_prep_save``'s), in ``fields`` order, as the one
    parameter of ``insert_parts``' many-row ``SELECT``. orjson writes UUIDs, dates and instants
    (RFC 3339, with their offset) as PostgreSQL reads them."""
    columns = [str(f.column) for f in fields]
    return orjson.dumps(
        [dict(zip(columns, row, strict=True)) for row in rows], default=_json_value
    ).decode()


# Field classes whose ``get_db_prep_save`` hands PostgreSQL the very value it was given when
# that value already has the exact type the field stores (the ORM's conversions are identities
# then). Checked by exact class: a subclass (an encrypted text, say) may convert, and goes
# through its own method. Not integers: Django hands PostgreSQL those wrapped in the column's
# own integer type (psycopg's Int2, Int4, Int8).
_STORED_AS_IS: dict[type[Field[Any, Any]], type] = {
    models.CharField: str,
    models.TextField: str,
    models.BooleanField: bool,
    models.UUIDField: uuid.UUID,
    models.DateField: dt.date,
    models.DateTimeField: dt.datetime,
}


@cache
def _prep_plan(model: type[Model]) -> list[tuple[Field[Any, Any], str, type | None]]:
    """Per field of ``insert_parts(model)``: the field, its attribute and the one type whose
    values it stores as they are (None: always through ``get_db_prep_save``)."""
    return [
        (field, str(field.attname), _STORED_AS_IS.get(type(field)))
        for field in insert_parts(model)[0]
    ]


@cache
def _filled_on_save(model: type[Model]) -> list[Field[Any, Any]]:
    """The fields of ``model`` that fill themselves in on save (``auto_now``, ``auto_now_add``)."""
    return [
        field
        for field in insert_parts(model)[0]
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
    ]


def _naive(value: Any) -> bool:
    return isinstance(value, dt.datetime) and value.tzinfo is None


def _row(model: type[Model], obj: Model) -> list[Any]:
    """The database values of a new ``obj``; its ``auto_now`` fields are filled in on it, as
    ``save()`` would."""
    for field in _filled_on_save(model):
        field.pre_save(obj, add=True)
    # A new instance keeps each field's value under its attribute name.
    return _row_of(model, obj.__dict__)


def _row_of(model: type[Model], values: dict[str, Any]) -> list[Any]:
    """The database values of a row given as ``values`` (each field's attribute name to its
    value, ``auto_now`` fields included), in ``insert_parts`` order. Building no model instance
    saves ~15 µs of CPU on a journal entry."""
    # The connection itself rather than the thread-local proxy, which each field would look up
    # again (a few microseconds a field, on every write).
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        return [field.get_db_prep_save(values[name], db) for field, name, _ in _prep_plan(model)]
    row = []
    for field, attname, as_is in _prep_plan(model):
        value = values[attname]
        # A 100-item sync converts 1,500 values: the common ones skip the ORM's conversion
        # chain (to_python, get_prep_value, the backend's adapt_*), which returns them as they
        # are. A naive time goes through it (Django warns and makes it aware).
        if as_is is not None and (value is None or (type(value) is as_is and not _naive(value))):
            row.append(value)
        else:
            row.append(field.get_db_prep_save(value, db))
    return row


def insert_new(model: type[Model], objs: Sequence[Model]) -> set[Any]:
    """Insert the rows whose primary key is free; returns the keys actually inserted.

    ``INSERT ... ON CONFLICT (pk) DO NOTHING RETURNING pk``: a key that already exists (whoever
    owns it) is left untouched and not returned, so the caller can decide what it means. Fields
    with ``auto_now``/``auto_now_add`` are filled on the objects, as ``save()`` would.
    """
    if not objs:
        return set()
    fields, head, row, many, _types, tail = insert_parts(model)
    rows = [_row(model, obj) for obj in objs]
    # Bound by PostgreSQL (parameters apart from the text), prepared once per connection.
    with server_bound_cursor() as cursor:
        if len(rows) == 1 or connection.vendor != "postgresql":
            cursor.execute(
                head + "VALUES " + ", ".join([row] * len(rows)) + tail,
                [value for values in rows for value in values],
            )
        else:
            cursor.execute(head + many + tail, [rows_json(fields, rows)])
        # SQLite returns a UUID key as its hex text.
        return {model._meta.pk.to_python(pk) for (pk,) in cursor.fetchall()}


def insert_new_after(model: type[Model], source: str, name: str, *, unless: str = "") -> str:
    """``insert_new`` of one row as a step of a PostgreSQL ``WITH`` query, run once per row of
    ``source`` (a name defined earlier in the same ``WITH``; no row there, no insert). Its
    parameters are named ``<name>_<column>``, as ``insert_values(model, [row], name)`` gives
    them; the step returns the key if the row was inserted. ``unless``: a condition (SQL from
    the caller's code) under which the row is not inserted either.
    """
    fields, head, _row_sql, _many, types, tail = insert_parts(model)
    # Typed, because an untyped parameter in a SELECT list is text, which PostgreSQL will not
    # store in a number.
    row = ", ".join(
        f"%({name}_{field.column})s::{db_type}"
        for field, db_type in zip(fields, types, strict=True)
    )
    where = f" WHERE NOT ({unless})" if unless else ""
    # Names and types from the model's _meta, ``source`` and ``name`` from the caller's code.
    return f"{head}SELECT {row} FROM {source}{where}{tail}"  # noqa: S608


def insert_many_after(model: type[Model], source: str, name: str, *, unless: str = "") -> str:
    """``insert_new`` of any number of rows as a step of a PostgreSQL ``WITH`` query, run only
    if ``source`` (a name defined earlier in the same ``WITH``) has a row. The rows are the one
    parameter ``name``, as ``rows_json`` gives them; the step returns the keys it inserted.
    ``unless``: a condition on the row's columns (``new_row.<column>``; SQL from the caller's
    code) under which that row is not inserted."""
    fields, head, _row_sql, _many, _types, tail = insert_parts(model)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in fields)
    # Names from the model's _meta, ``source`` and ``name`` from the caller's code.
    return (
        f"{head}SELECT {columns} FROM json_populate_recordset("  # noqa: S608
        f"NULL::{quote(model._meta.db_table)}, %({name})s::json) AS new_row "
        f"WHERE EXISTS (SELECT 1 FROM {source})" + (f" AND NOT ({unless})" if unless else "") + tail
    )


def insert_values(
    model: type[Model], rows: Sequence[dict[str, Any]], name: str, *, many: bool = False
) -> dict[str, Any]:
    """The parameters of ``insert_new_after(model, source, name)`` for one row, or with
    ``many`` of ``insert_many_after(model, source, name)`` for any number (none included).
    Each row maps every field's attribute name to its value (``_row_of``); a field that would
    fill itself in on save (``auto_now``) has its value given too."""
    fields = insert_parts(model)[0]
    if many:
        return {name: rows_json(fields, [_row_of(model, row) for row in rows])}
    (row,) = rows
    values = _row_of(model, row)
    return {f"{name}_{field.column}": value for field, value in zip(fields, values, strict=True)}


# An element PostgreSQL's array input reads as itself: no quotes, braces, commas, backslashes,
# spaces, and not the word NULL.
_PLAIN_ELEMENT = re.compile(r"[A-Za-z0-9_.:-]+")


def array_literal(values: Iterable[str | dt.date]) -> str:
    """Plain values (names, dates) as the text of a PostgreSQL array, for a parameter cast in
    the statement (``%(days)s::date[]``).

    psycopg adapts a Python list element by element and looks up an array type for it: ~30 µs
    of CPU a list, measured (docs/decisions.md), a tenth of what a journal write costs in Python
    besides its request; the text of one small array costs ~1 µs. A value that would need
    quoting is refused, never quoted: the values this is for never need it.
    """
    items = [v.isoformat() if isinstance(v, dt.date) else v for v in values]
    for item in items:
        if not _PLAIN_ELEMENT.fullmatch(item) or item.upper() == "NULL":
            raise ValueError(f"{item!r} is not a plain array element")
    return "{" + ",".join(items) + "}"


def pk_param(obj: Model) -> Any:
    """An object's primary key as raw SQL takes it on this database (SQLite: UUIDs as hex)."""
    return obj._meta.pk.get_db_prep_value(obj.pk, connection)


def hold_until_commit(name: str) -> None:
    """Take the PostgreSQL advisory lock ``name`` until the current transaction ends: whoever
    takes the same name next waits for this transaction to commit or roll back. Must run
    inside a transaction. SQLite lets one transaction write at a time anyway: nothing to do."""
    if connection.vendor != "postgresql":
        return
    key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


@contextmanager
def server_bound_cursor() -> Iterator[CursorWrapper]:
    """A Django cursor (error translation, query log) whose parameters PostgreSQL binds itself.

    Django's cursors send each statement with its values spelled out as literals, so PostgreSQL
    parses and plans it anew every time; for a ``WITH`` query of four steps that planning costs
    more than running it. Sent with separate parameters, the same text is prepared once per
    connection (psycopg's ``prepare_threshold``, see settings) and then only executed. PostgreSQL
    only; other databases get Django's own cursor.
    """
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        with db.cursor() as cursor:
            yield cursor
        return
    # What Django's cursor() does before it builds its own client-binding cursor, without
    # building that cursor, which would go unused (~10 µs of CPU on every journal write):
    # the health check, the connection, the thread check, its errors translated.
    db.close_if_health_check_failed()
    db.ensure_connection()
    db.validate_thread_sharing()
    with db.wrap_database_errors:
        # A plain psycopg cursor binds server-side; it shares the connection's adapters.
        raw = psycopg.Cursor(db.connection)
    wrapper = _ServerBoundDebugWrapper if db.queries_logged else CursorWrapper
    with wrapper(raw, db) as wrapped:
        yield wrapped


class _ServerBoundDebugWrapper(CursorDebugWrapper):
    """Query logging (tests, DEBUG) for a server-bound cursor. Django reads the statement back
    from a client-side cursor, and a prepared one has no text to give; the log gets the SQL
    with its values rendered in, as Django logs its own server-side-binding cursors."""

    def execute(self, sql: Any, params: Any = None) -> Any:
        with self.debug_sql(_rendered(sql, params)):
            return CursorWrapper.execute(self, sql, params)


def _rendered(sql: str, params: Any) -> str:
    try:
        return str(connection.ops.compose_sql(sql, params))  # type: ignore[attr-defined]
    except psycopg.DataError:
        return sql
