"""Every write to the journal.

Writes are idempotent upserts keyed by the client's UUID so a phone on a bad connection can
retry anything: the same request twice gives one row and the same answer; an older edit
arriving late loses to a newer one (last write by the phone's clock wins); one bad item in a
batch never blocks the others, and a rejected item leaves no row behind.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, UUIDField, Value
from django.utils import timezone

from apps.accounts.selectors import user_exists
from apps.core.cache import delete_prefixed, hold
from apps.core.errors import ApplicationError, account_erased_error
from apps.core.sql import (
    array_literal,
    insert_many_after,
    insert_new,
    insert_new_after,
    insert_values,
    pk_param,
    server_bound_cursor,
)
from apps.core.throttles import WriteWindow, write_window
from apps.core.time import calendar_date, is_valid_timezone, iso_instant, local_date, zone
from apps.insights.stale import days_mark_stale, days_mark_stale_after
from apps.journal.models import (
    ENTRY_MODELS,
    DeletedEntry,
    DeletedKind,
    JournalEntry,
    JournalState,
)
from apps.journal.selectors import day_view_cache_prefix, day_view_hold_key
from apps.privacy.selectors import consent_held_sql, consented_categories, retention_cutoff

logger = logging.getLogger(__name__)

FUTURE_TOLERANCE = dt.timedelta(minutes=10)
HISTORY_BEFORE_ACCOUNT = dt.timedelta(days=365)
MAX_SLEEP = dt.timedelta(hours=16)
COMMON_FIELDS = ("occurred_at", "tz", "note", "client_updated_at")
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "sleep": ("bedtime", "duration_minutes", "quality"),
    "meal": ("meal_type", "heaviness", "tags"),
    "exercise": ("exercise_type", "duration_minutes", "intensity"),
    "alcohol": ("standard_drinks", "context"),
    "energy": ("level", "focus", "mood"),
    "activity": ("what", "duration_minutes", "effect"),
}
_BLANK_DEFAULTS: dict[str, Any] = {
    "note": "",
    "meal_type": "",
    "heaviness": "",
    "tags": [],
    "exercise_type": "",
    "intensity": "",
    "context": "",
    "what": "",
    "effect": "",
}
STATUS_FOR_RESULT = {"created": 201, "updated": 200, "unchanged": 200, "stale": 200}
# Problem types of item-level refusals, so a single PUT answers like every other endpoint.
CODE_FOR_STATUS = {403: "consent-required", 404: "not-found", 409: "conflict"}


@dataclass
class EntryInput:
    """One validated entry as the API parsed it (field-level checks already passed)."""

    kind: str
    id: uuid.UUID
    values: dict[str, Any]
    request_hash: str = ""
    # The phone sent no time for this write (a check-in without ``occurred_at``): the server's
    # clock stamped it, so it cannot be ordered against the rep's own edits and deletions. It
    # creates the entry or repeats its first answer, and never overwrites or revives one.
    server_timed: bool = False


@dataclass
class UpsertOutcome:
    kind: str | None
    id: uuid.UUID | None
    result: str
    status: int
    # The stored entry; a new entry written in one statement comes as its values (a dict).
    entry: JournalEntry | dict[str, Any] | None = None
    detail: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    code: str = ""

    def as_error(self, errors: dict[str, list[str]] | None = None) -> ApplicationError:
        """The refusal as the business error a single-entry endpoint raises."""
        return ApplicationError(
            self.detail,
            status_code=self.status,
            code=self.code or CODE_FOR_STATUS.get(self.status, "invalid"),
            errors=self.errors if errors is None else errors,
            extra=self.extra,
        )


def _reject(item: EntryInput, exc: ApplicationError) -> UpsertOutcome:
    return UpsertOutcome(
        kind=item.kind,
        id=item.id,
        result="rejected",
        status=exc.status_code,
        detail=exc.message,
        errors=exc.errors,
        extra=exc.extra,
        code=exc.code,
    )


def _not_yours(kind: str, entry_id: uuid.UUID) -> UpsertOutcome:
    # Same words as for an id that does not exist at all: no existence oracle.
    return UpsertOutcome(
        kind=kind,
        id=entry_id,
        result="rejected",
        status=404,
        detail="No such entry of yours.",
        code="not-found",
    )


def _lock_journal(user: Any, window: WriteWindow | None = None, *, counted: bool = False) -> None:
    """Serialise one user's journal writes (held until commit) and bump the journal version.

    A phone that retries while its first request still runs sends the same entries twice at
    once; without this the two transactions lock rows in different orders (deadlock) or both
    claim to have created the same row. Other users are not blocked. The version bump is what
    invalidates the rep's cached day views; a write that is rolled back also rolls it back. A
    refused write that is not rolled back (a PUT answered 400 or 404) stays counted, and moves
    the version: the limit counts attempts, and a phone reads its day view afresh once.

    The same statement counts the write in the current window of the write limit. With a
    ``window`` (the rep's own writes through the API) a write beyond the limit is refused: the
    caller's transaction rolls back, count included. Erasure, withdrawal and imports are counted
    but never refused. ``counted``: the one-statement attempt already counted this request.
    """
    current = window or write_window()
    with connection.cursor() as cursor:
        cursor.execute(
            _journal_bump_sql("VALUES (%(user_id)s, 1, %(window)s, %(writes)s)"),
            {"user_id": pk_param(user), "window": current.number, "writes": 0 if counted else 1},
        )
        writes, version = cursor.fetchone()
    # Version 1: the row was inserted, either on the rep's first write or because an erasure
    # of the account deleted it while this request waited. The user row is then read afresh;
    # without it the write would fail at commit (the row's foreign key), a 500.
    if version == 1 and not user_exists(pk=user.pk):
        raise account_erased_error()
    if window is not None and window.limit is not None and writes > window.limit:
        raise window.refused()


def _journal_bump_sql(rows: str, *, limited: bool = False) -> str:
    """Insert or bump the rep's journal row; ``rows`` gives (user, 1, window, writes to add).
    Returns the writes counted in the window and the new version. ``limited``: one more
    parameter, ``limit``; a write beyond it leaves the row as it was and returns no row."""
    table = connection.ops.quote_name(JournalState._meta.db_table)
    counted = (
        f"CASE WHEN {table}.write_window = EXCLUDED.write_window "
        f"THEN {table}.writes_in_window + EXCLUDED.writes_in_window "
        "ELSE EXCLUDED.writes_in_window END"
    )
    return (
        f"INSERT INTO {table} (user_id, version, write_window, writes_in_window) {rows} "
        f"ON CONFLICT (user_id) DO UPDATE SET version = {table}.version + 1, "
        f"writes_in_window = {counted}, write_window = EXCLUDED.write_window "
        + (f"WHERE {counted} <= %(limit)s " if limited else "")
        + "RETURNING writes_in_window, version"
    )


# A sync of more entries is first asked whether any of its ids is taken, and goes in one
# statement only if none is: a sync that holds one entry already stored (an edit made offline)
# would have its new entries inserted, rolled back and inserted again. Up to this many that
# waste costs less than the question; 10-20 entries are what a phone sends after a day offline.
TOGETHER_MAX_ENTRIES = 50


def _ids_taken(items: list[EntryInput]) -> bool:
    """Whether any of the items' ids is stored already, by anyone (one statement)."""
    ids: dict[str, list[str]] = defaultdict(list)
    for item in items:
        ids[item.kind].append(str(item.id))
    with server_bound_cursor() as cursor:
        cursor.execute(
            _ids_taken_sql(), {kind: array_literal(ids.get(kind, ())) for kind in ENTRY_MODELS}
        )
        return bool(cursor.fetchone()[0])


@functools.cache
def _ids_taken_sql() -> str:
    # Every kind, with no ids for those absent: one text for all syncs, prepared once.
    quote = connection.ops.quote_name
    # Table and column names from the models' _meta; the ids are parameters.
    exists = [
        f"EXISTS (SELECT 1 FROM {quote(model._meta.db_table)} "  # noqa: S608
        f"WHERE {quote(str(model._meta.pk.column))} = ANY(%({kind})s::uuid[]))"
        for kind, model in sorted(ENTRY_MODELS.items())
    ]
    return "SELECT " + " OR ".join(exists)


# The window's limit when there is none: PostgreSQL's largest integer.
_NO_LIMIT = 2**31 - 1


def _insert_together(
    user: Any, items: list[EntryInput], now: dt.datetime, window: WriteWindow | None
) -> tuple[list[UpsertOutcome] | None, set[tuple[str, uuid.UUID]], bool]:
    """New entries, of any kinds and any number, in one statement (PostgreSQL), all or none.

    The general path is BEGIN, journal lock, consent read, one insert per kind, stale-day mark,
    COMMIT: six round trips and more for the writes a phone makes most (the check-in, with or
    without last night's sleep and drinks; a single PUT; the sync of what it queued offline,
    all new entries). Here the same steps are one ``WITH`` query (``_together_sql``). One entry
    runs in autocommit; several run in a transaction that is rolled back unless every one was
    inserted. Anything but a clean insert of all (invalid values, a missing consent, an id
    already taken or sent twice) returns no outcomes and the general path answers it, so every
    refusal keeps one implementation. Also returns the (kind, id) pairs found taken, which the
    general path then does not try to insert again, and whether this request's write was
    counted (committed) already. A write beyond the ``window``'s limit changes nothing and is
    refused here (as in ``_lock_journal``, where the refusal rolls back).
    """
    if connection.vendor != "postgresql" or not items:
        return None, set(), False
    by_kind: dict[str, list[int]] = defaultdict(list)
    # Each kind's rows in id order, as the general path takes them: row locks in one order.
    for index in sorted(range(len(items)), key=lambda i: items[i].id):
        by_kind[items[index].kind].append(index)
    # One entry: a statement for its kind alone. Several: one statement for every kind, with
    # no rows for those absent, so that all syncs share one text, prepared once per connection
    # (a text per combination of kinds was planned anew on most syncs).
    kinds = tuple(sorted(by_kind)) if len(items) == 1 else tuple(sorted(ENTRY_MODELS))
    if any(len({items[i].id for i in indexes}) != len(indexes) for indexes in by_kind.values()):
        return None, set(), False
    try:
        values = [_prepare(user=user, item=item, now=now) for item in items]
    except ApplicationError:
        return None, set(), False
    if _any_expired(items, values, now):
        return None, set(), False
    stamp = timezone.now()
    # The rows as their values, not model instances: the answer is built from the same dicts.
    entries = [
        {
            **v,
            "id": item.id,
            "user_id": user.pk,
            "request_hash": item.request_hash,
            "last_result": "created",
            "created_at": stamp,
            "updated_at": stamp,
        }
        for item, v in zip(items, values, strict=True)
    ]
    current = window or write_window()
    limit = window.limit if window is not None and window.limit is not None else _NO_LIMIT
    params = {
        "user_id": pk_param(user),
        "categories": array_literal(ENTRY_MODELS[kind].CATEGORY for kind in by_kind),
        "window": current.number,
        "entries": len(by_kind),
        "limit": limit,
        "marked_at": stamp,
        "days": array_literal(sorted({v["local_date"] for v in values})),
        "inserted": len(items),
    }
    many = len(items) > 1
    shape = tuple((kind, many) for kind in kinds)
    for i, kind in enumerate(kinds):
        rows = [entries[j] for j in by_kind.get(kind, [])]
        params.update(insert_values(ENTRY_MODELS[kind], rows, f"entry{i}", many=many))
    with transaction.atomic() if len(items) > 1 else contextlib.nullcontext():
        with server_bound_cursor() as cursor:
            cursor.execute(_together_sql(shape), params)
            consented, writes, allowed, *inserted = cursor.fetchone()
        # No count with every consent held: the journal row was left as it was (over the
        # limit). A first write of several entries can be over it too: raised inside their
        # transaction, its count rolls back.
        if window is not None and consented == len(by_kind) and (writes is None or writes > limit):
            raise window.refused()
        if sum(len(ids) for ids in inserted) != len(items):
            if len(items) > 1:
                transaction.set_rollback(True)
            if writes is not None and writes <= limit and not allowed:
                # Counted within the limit, yet not allowed: another write or deletion of the
                # rep's committed after this statement began. Nothing was tried; none is taken.
                return None, set(), len(items) == 1
            new = {
                (kind, entry_id)
                for kind, ids in zip(kinds, inserted, strict=True)
                for entry_id in ids
            }
            taken = {
                (item.kind, item.id)
                for item in items
                if (item.kind, item.id) not in new and consented == len(by_kind)
            }
            # One entry ran in autocommit: its count stays. Several: rolled back with them.
            return None, taken, writes is not None and len(items) == 1
    return (
        [
            UpsertOutcome(kind=item.kind, id=item.id, result="created", status=201, entry=entry)
            for item, entry in zip(items, entries, strict=True)
        ],
        set(),
        True,
    )


@functools.cache
def _together_sql(shape: tuple[tuple[str, bool], ...]) -> str:
    """The consent rows (held until commit), then the journal lock, version and write count, then
    one insert per kind (only within the write limit; ``shape``: each kind and whether its rows
    come as one JSON parameter), then the stale days if all ``inserted`` were inserted, each
    step running only if the one before it succeeded. Returns the number of consent rows found,
    the writes counted in the window (NULL: consent missing or the limit reached, nothing
    counted), whether the inserts were allowed (within the limit, and no write or deletion of
    the rep's committed since the statement's snapshot) and, per kind, the ids it inserted."""
    # One kind per category: the consent rows are complete when there is one per kind.
    # Identifiers from the models' _meta, fixed names and counts; every value is a parameter.
    lock = _journal_bump_sql(
        "SELECT %(user_id)s, 1, %(window)s, 1 WHERE (SELECT count(*) FROM consent) = %(entries)s",
        limited=True,
    )
    table = connection.ops.quote_name(JournalState._meta.db_table)
    steps = [
        f"consent AS ({consent_held_sql()})",
        # The version this statement's snapshot holds. Every act that deletes or writes the
        # rep's entries moves it in its transaction, so if the locked row's version is not the
        # next one, such an act committed after the snapshot (this statement may have waited
        # for its lock): what the snapshot says of deletions is out of date, and nothing is
        # inserted here; the general path reads afresh.
        f"seen AS (SELECT version FROM {table} WHERE user_id = %(user_id)s)",  # noqa: S608
        f"journal AS ({lock})",
        "allowed AS (SELECT 1 FROM journal WHERE writes_in_window <= %(limit)s "
        "AND version = COALESCE((SELECT version FROM seen), 0) + 1)",
        *(
            f"entry{i} AS ("
            + (
                insert_many_after(
                    ENTRY_MODELS[kind],
                    "allowed",
                    f"entry{i}",
                    unless=_deleted_sql(kind, "new_row.id", "new_row.client_updated_at"),
                )
                if many
                else insert_new_after(
                    ENTRY_MODELS[kind],
                    "allowed",
                    f"entry{i}",
                    unless=_deleted_sql(
                        kind,
                        f"%(entry{i}_id)s::uuid",
                        f"%(entry{i}_client_updated_at)s::timestamptz",
                    ),
                )
            )
            + ")"
            for i, (kind, many) in enumerate(shape)
        ),
    ]
    counts = " + ".join(f"(SELECT count(*) FROM entry{i})" for i in range(len(shape)))  # noqa: S608
    steps.append(f"stale AS ({days_mark_stale_after(f'{counts} = %(inserted)s')} RETURNING 1)")
    ids = ", ".join(f"ARRAY(SELECT id FROM entry{i})" for i in range(len(shape)))  # noqa: S608
    return (
        f"WITH {', '.join(steps)} SELECT (SELECT count(*) FROM consent), "  # noqa: S608
        "(SELECT writes_in_window FROM journal), EXISTS (SELECT 1 FROM allowed), "
        f"{ids}"
    )


def _deleted_sql(kind: str, entry_id: str, edited_at: str) -> str:
    """Whether the rep deleted the entry of ``kind`` whose id is the SQL ``entry_id``, or every
    entry of the kind after ``edited_at`` (SQL: the entry's ``client_updated_at``): such an entry
    is not inserted by the one statement, and the general path answers it."""
    if kind not in ENTRY_MODELS:
        raise ValueError(f"Unknown entry kind {kind!r}")
    quote = connection.ops.quote_name
    # ``kind`` is one of ENTRY_MODELS' keys, ``entry_id`` and ``edited_at`` SQL from this module.
    return (
        f"EXISTS (SELECT 1 FROM {quote(DeletedEntry._meta.db_table)} AS deleted "  # noqa: S608
        f"WHERE deleted.user_id = %(user_id)s AND deleted.kind = '{kind}' "
        f"AND deleted.entry_id = {entry_id}) "
        f"OR EXISTS (SELECT 1 FROM {quote(DeletedKind._meta.db_table)} AS every "
        f"WHERE every.user_id = %(user_id)s AND every.kind = '{kind}' "
        f"AND every.deleted_at >= {edited_at})"
    )


def _prepare(
    *, user: Any, item: EntryInput, now: dt.datetime, check_history: bool = True
) -> dict[str, Any]:
    """Business validation and derived fields; returns the full column values to store.

    ``check_history=False`` (imports of the rep's own export) skips only the age rules, "not
    long before the account existed" (a guard against typos, not against real history) and
    "within the retention period".
    """
    values: dict[str, Any] = {name: _BLANK_DEFAULTS.get(name) for name in KIND_FIELDS[item.kind]}
    values["note"] = ""
    values.update(item.values)
    tz_name = values.get("tz") or user.timezone
    if not is_valid_timezone(tz_name):
        raise ApplicationError(
            "Unknown time zone.",
            errors={"tz": ["Use an IANA time zone name such as Europe/Amsterdam."]},
        )
    values["tz"] = tz_name
    occurred_at: dt.datetime = values["occurred_at"]
    if occurred_at > now + FUTURE_TOLERANCE:
        raise ApplicationError(
            "The time is in the future. Check the clock on your phone.",
            errors={"occurred_at": ["Must not be more than 10 minutes in the future."]},
        )
    if check_history:
        _check_not_too_old(user=user, occurred_at=occurred_at, now=now)
    client_updated_at: dt.datetime = values.get("client_updated_at") or now
    if client_updated_at > now + FUTURE_TOLERANCE:
        raise ApplicationError(
            "The edit time is in the future. Check the clock on your phone.",
            errors={"client_updated_at": ["Must not be more than 10 minutes in the future."]},
        )
    values["client_updated_at"] = client_updated_at

    if item.kind == "sleep":
        bedtime = values.get("bedtime")
        if bedtime is not None:
            if bedtime >= occurred_at:
                raise ApplicationError(
                    "The wake time must be after the bedtime.",
                    errors={
                        "bedtime": ["Must be before the wake time (occurred_at)."],
                        "occurred_at": ["Must be after the bedtime."],
                    },
                )
            if occurred_at - bedtime > MAX_SLEEP:
                raise ApplicationError(
                    "A night's sleep can be at most 16 hours.",
                    errors={"bedtime": ["Sleep must be 16 hours or less (0-960 minutes)."]},
                )
            values["duration_minutes"] = int((occurred_at - bedtime).total_seconds() // 60)
        # A night belongs to the day it ends: the calendar day of waking up.
        values["local_date"] = calendar_date(user, occurred_at, tz_name=tz_name)
    else:
        values["local_date"] = local_date(user, occurred_at, tz_name=tz_name)
    return values


def _check_not_too_old(*, user: Any, occurred_at: dt.datetime, now: dt.datetime) -> None:
    """Refuse a time before the account's history limit or before the retention period.

    An entry older than the retention period would be answered "created" and then deleted by
    the next nightly purge without a trace (and "created" again when sent again).
    """
    history_from = user.date_joined - HISTORY_BEFORE_ACCOUNT
    kept_from = retention_cutoff(now)
    earliest = max(history_from, kept_from)
    if occurred_at >= earliest:
        return
    if kept_from > history_from:
        months = settings.RETENTION_MONTHS
        raise ApplicationError(
            f"The time is older than the retention period ({months} months): such entries are "
            "not kept.",
            errors={
                "occurred_at": [
                    f"Must be at or after {_iso_minute(earliest)}. Entries older than the "
                    f"retention period ({months} months) are not kept."
                ]
            },
        )
    raise ApplicationError(
        "The time is too long ago.",
        errors={"occurred_at": [f"Must be at or after {_iso_minute(earliest)}."]},
    )


def _iso_minute(instant: dt.datetime) -> str:
    """An instant as the API writes it, to the minute (later: still within the limit)."""
    rounded = instant.astimezone(dt.UTC).replace(second=0, microsecond=0)
    if rounded < instant:
        rounded += dt.timedelta(minutes=1)
    return rounded.isoformat(timespec="minutes").replace("+00:00", "Z")


def _same(entry: JournalEntry, values: dict[str, Any]) -> bool:
    for name, value in values.items():
        if name == "client_updated_at":
            continue
        current = getattr(entry, name)
        if isinstance(current, Decimal) and value is not None:
            value = Decimal(value)
        if current != value:
            return False
    return True


def entries_upsert(
    *,
    user: Any,
    items: list[EntryInput],
    all_or_nothing: bool = False,
    window: WriteWindow | None = None,
) -> list[UpsertOutcome]:
    """Upsert many entries of mixed kinds with a fixed number of queries per kind.

    Returns one outcome per item, in the order of ``items``. With ``all_or_nothing`` one
    rejected item rolls back every other one (the outcomes still say what each would have been).
    With a ``window`` the write counts against the rep's write limit and beyond it is refused
    (ApplicationError 429, nothing stored).
    """
    if not items:
        # A sync whose every item was refused while parsing: nothing to store, nothing counted.
        return []
    now = timezone.now()
    taken: set[tuple[str, uuid.UUID]] = set()
    counted = False
    if len(items) > TOGETHER_MAX_ENTRIES and connection.vendor == "postgresql":
        # Measured with 100 new entries: ~4 ms of CPU less in one statement than on the
        # general path, and one stored entry among them costs ~5 ms more if tried anyway.
        together_first = not _ids_taken(items)
    else:
        together_first = bool(items)
    if together_first:
        together, taken, counted = _insert_together(user, items, now, window)
        if together is not None:
            return together
    outcomes: list[UpsertOutcome | None] = [None] * len(items)
    prepared: dict[str, dict[uuid.UUID, tuple[int, EntryInput, dict[str, Any]]]] = defaultdict(dict)
    changed_days: set[dt.date] = set()
    with transaction.atomic():
        _lock_journal(user, window, counted=counted)
        # Read under the lock: a withdrawal that deletes the category's entries takes the same
        # lock, so nothing of a withdrawn category is stored after its entries were deleted.
        consented = consented_categories(user=user)
        for index, item in enumerate(items):
            model = ENTRY_MODELS[item.kind]
            try:
                if model.CATEGORY not in consented:
                    from apps.privacy.services import consent_require

                    consent_require(user=user, category=model.CATEGORY, consented=consented)
                if item.id in prepared[item.kind]:
                    raise ApplicationError(
                        "This id appears twice in the batch.", errors={"id": ["Duplicate id."]}
                    )
                values = _prepare(user=user, item=item, now=now)
                prepared[item.kind][item.id] = (index, item, values)
            except ApplicationError as exc:
                outcomes[index] = _reject(item, exc)
        if all_or_nothing and any(outcome is not None for outcome in outcomes):
            transaction.set_rollback(True)
            return _completed(items, outcomes, unattempted="skipped")

        deleted, every_deleted = _deletions(user, prepared)
        # Kinds and ids in a fixed order: row locks are always taken in the same order.
        for kind in sorted(prepared):
            if prepared[kind]:
                _upsert_kind(
                    user,
                    kind,
                    prepared[kind],
                    outcomes,
                    changed_days,
                    taken,
                    deleted[kind],
                    every_deleted.get(kind),
                    expired_before=retention_cutoff(now),
                )
        # No outcome: a taken id whose row vanished before it could be read (a 409 below).
        if all_or_nothing and any(o is None or o.result == "rejected" for o in outcomes):
            transaction.set_rollback(True)
        elif changed_days:
            _after_change(user, changed_days)
    return _completed(items, outcomes)


def _completed(
    items: list[EntryInput], outcomes: list[UpsertOutcome | None], unattempted: str = "rejected"
) -> list[UpsertOutcome]:
    """Every item's outcome; an item without one was not written (``unattempted``: "skipped"
    when another item's refusal stopped an all-or-nothing write before it was tried)."""
    return [
        outcome
        if outcome is not None
        else UpsertOutcome(kind=item.kind, id=item.id, result="skipped", status=200)
        if unattempted == "skipped"
        else UpsertOutcome(
            kind=item.kind,
            id=item.id,
            result="rejected",
            status=409,
            detail="This entry changed while it was being saved; send it again.",
            code="conflict",
        )
        for item, outcome in zip(items, outcomes, strict=True)
    ]


def _deletions(
    user: Any, prepared: dict[str, dict[uuid.UUID, Any]]
) -> tuple[defaultdict[str, dict[uuid.UUID, dt.datetime]], dict[str, dt.datetime]]:
    """When the rep deleted entries of these kinds and ids, if they did (kind -> id -> time),
    and when every entry of a kind, if that happened (kind -> time). One query."""
    found: defaultdict[str, dict[uuid.UUID, dt.datetime]] = defaultdict(dict)
    every: dict[str, dt.datetime] = {}
    ids = [entry_id for by_id in prepared.values() for entry_id in by_id]
    if not ids:
        return found, every
    entries = DeletedEntry.objects.filter(user=user, entry_id__in=ids).values_list(
        "kind", "entry_id", "deleted_at"
    )
    kinds = (
        DeletedKind.objects.filter(user=user, kind__in=list(prepared))
        .annotate(entry_id=Value(None, output_field=UUIDField()))
        .values_list("kind", "entry_id", "deleted_at")
    )
    for kind, entry_id, deleted_at in entries.union(kinds, all=True):
        if entry_id is None:
            every[kind] = deleted_at
        elif entry_id in prepared.get(kind, {}):
            found[kind][entry_id] = deleted_at
    return found, every


def _expired(item: EntryInput, values: dict[str, Any], before: dt.datetime) -> bool:
    """A change made before the retention period: a deletion that overruled it may have been
    purged since, so it cannot be told apart from a change the rep undid. It creates no entry
    (a stored entry is still compared with it)."""
    return not item.server_timed and values["client_updated_at"] < before


def _any_expired(items: list[EntryInput], values: list[dict[str, Any]], now: dt.datetime) -> bool:
    before = retention_cutoff(now)
    return any(_expired(item, v, before) for item, v in zip(items, values, strict=True))


_EXPIRED = (
    "This change was made longer ago than the journal keeps entries and their deletions "
    "(the retention period); it is not stored."
)

_EVERY_DELETED = (
    "Every entry of this kind was deleted when its consent was withdrawn, after this change was "
    "made; it is not stored."
)

_SERVER_TIMED_KEPT = (
    "This entry is already stored and this change has no time of its own (occurred_at), so it "
    "cannot be ordered against the stored one; it was kept."
)


def _upsert_kind(
    user: Any,
    kind: str,
    by_id: dict[uuid.UUID, tuple[int, EntryInput, dict[str, Any]]],
    outcomes: list[UpsertOutcome | None],
    changed_days: set[dt.date],
    known_taken: set[tuple[str, uuid.UUID]],
    deleted: dict[uuid.UUID, dt.datetime],
    every_deleted: dt.datetime | None = None,
    *,
    expired_before: dt.datetime,
) -> None:
    model = ENTRY_MODELS[kind]
    if every_deleted is not None:
        # Made before the rep withdrew the consent and had the kind's entries deleted: not
        # stored, whatever its id. Without a time of its own a change cannot be placed before
        # the deletion, so it is taken as the new entry it says it is.
        for index, item, values in by_id.values():
            if not item.server_timed and values["client_updated_at"] <= every_deleted:
                outcomes[index] = UpsertOutcome(
                    kind=kind, id=item.id, result="stale", status=200, detail=_EVERY_DELETED
                )
    # An edit of an entry the rep deleted later than the edit was made: the deletion stands.
    # One made after the deletion creates the entry again (last write wins).
    for entry_id, deleted_at in deleted.items():
        index, item, values = by_id[entry_id]
        if outcomes[index] is not None:
            continue
        if item.server_timed or values["client_updated_at"] <= deleted_at:
            outcomes[index] = UpsertOutcome(
                kind=kind,
                id=entry_id,
                result="stale",
                status=200,
                detail="This entry was deleted after this change was made; it stays deleted.",
            )
    ids = sorted(entry_id for entry_id in by_id if outcomes[by_id[entry_id][0]] is None)
    # Insert first: most writes are new entries, and for them this one statement is the whole
    # write. An id that exists (this user's or anyone else's) is not inserted and is read below.
    candidates = [
        model(
            id=entry_id,
            user=user,
            request_hash=by_id[entry_id][1].request_hash,
            last_result="created",
            **by_id[entry_id][2],
        )
        for entry_id in ids
        # The one statement did not insert a deleted id, nor (by its time alone) an entry of a
        # kind deleted with a withdrawal: such an id was not necessarily taken.
        if (kind, entry_id) not in known_taken or entry_id in deleted or every_deleted is not None
        # Older than any deletion kept: a purged one could have overruled it. Not created; a
        # stored entry is still compared with it below (last write wins).
        if not _expired(by_id[entry_id][1], by_id[entry_id][2], expired_before)
    ]
    created = insert_new(model, candidates)
    for entry in candidates:
        if entry.pk in created:
            index, _item, values = by_id[entry.pk]
            outcomes[index] = UpsertOutcome(
                kind=kind, id=entry.pk, result="created", status=201, entry=entry
            )
            changed_days.add(values["local_date"])
    revived = [entry_id for entry_id in deleted if entry_id in created]
    if revived:
        DeletedEntry.objects.filter(user=user, kind=kind, entry_id__in=revived).delete()
    taken = [entry_id for entry_id in ids if entry_id not in created]
    if not taken:
        return
    # Not filtered by user: an id that belongs to someone else must answer 404. An id whose row
    # was deleted between the insert and this read gets no outcome: "send it again" (409).
    existing = {
        entry.pk: entry
        for entry in model.objects.select_for_update().filter(pk__in=taken).order_by("pk")
    }

    to_update: list[JournalEntry] = []
    advanced: list[JournalEntry] = []
    for entry_id, entry in existing.items():
        index, item, values = by_id[entry_id]
        if entry.user_id != user.pk:
            outcomes[index] = _not_yours(kind, entry_id)
            continue
        if item.request_hash and entry.request_hash == item.request_hash:
            # An exact retry: answer what the first request was answered.
            result = entry.last_result
            outcomes[index] = UpsertOutcome(
                kind=kind, id=entry_id, result=result, status=STATUS_FOR_RESULT[result], entry=entry
            )
            continue
        if item.server_timed or values["client_updated_at"] < entry.client_updated_at:
            outcomes[index] = UpsertOutcome(
                kind=kind,
                id=entry_id,
                result="stale",
                status=200,
                entry=entry,
                detail=_SERVER_TIMED_KEPT
                if item.server_timed
                else "A newer edit of this entry is already stored; it was kept.",
            )
            continue
        if _same(entry, values):
            if values["client_updated_at"] > entry.client_updated_at:
                # The newest edit by the phone's clock, though it repeats the content: an older
                # edit arriving after it must lose to it ("stale"), as to any newer edit.
                entry.client_updated_at = values["client_updated_at"]
                advanced.append(entry)
            outcomes[index] = UpsertOutcome(
                kind=kind, id=entry_id, result="unchanged", status=200, entry=entry
            )
            continue
        changed_days.add(entry.local_date)
        for name, value in values.items():
            setattr(entry, name, value)
        entry.request_hash = item.request_hash
        entry.last_result = "updated"
        entry.updated_at = timezone.now()
        changed_days.add(values["local_date"])
        to_update.append(entry)
        outcomes[index] = UpsertOutcome(
            kind=kind, id=entry_id, result="updated", status=200, entry=entry
        )
    if to_update:
        fields = [
            *COMMON_FIELDS,
            *KIND_FIELDS[kind],
            "local_date",
            "request_hash",
            "last_result",
            "updated_at",
        ]
        model.objects.bulk_update(to_update, fields)
    if advanced:
        model.objects.bulk_update(advanced, ["client_updated_at"])
    for entry_id in taken:
        index, item, values = by_id[entry_id]
        if entry_id not in existing and _expired(item, values, expired_before):
            outcomes[index] = UpsertOutcome(
                kind=kind, id=entry_id, result="stale", status=200, detail=_EXPIRED
            )


def entry_upsert(
    *, user: Any, item: EntryInput, window: WriteWindow | None = None
) -> UpsertOutcome:
    outcome = entries_upsert(user=user, items=[item], window=window)[0]
    if outcome.result == "rejected":
        raise outcome.as_error()
    return outcome


def entry_delete(
    *,
    user: Any,
    kind: str,
    entry_id: uuid.UUID,
    window: WriteWindow | None = None,
    deleted_at: dt.datetime | None = None,
) -> None:
    """Delete one of the user's entries; someone else's id is DoesNotExist (a 404).

    ``deleted_at``: when the rep deleted it, by the phone's clock (at most 10 minutes ahead
    of the server's, as edit times are). Last write wins by the phone's clock: an entry edited
    after that time is kept (409); otherwise the deletion is recorded with that time, against
    which edits arriving later are judged. Without it the deletion is the newest write (as
    before phones sent their time): it is recorded at now, or at the entry's last edit if that
    is stamped later by a phone whose clock runs ahead.
    """
    model = ENTRY_MODELS[kind]
    now = timezone.now()
    if deleted_at is not None and deleted_at > now + FUTURE_TOLERANCE:
        raise ApplicationError(
            "The deletion time is in the future. Check the clock on your phone.",
            errors={"deleted_at": ["Must not be more than 10 minutes in the future."]},
        )
    with transaction.atomic():
        _lock_journal(user, window)
        entry = model.objects.select_for_update().filter(user=user, pk=entry_id).first()
        if entry is None:
            raise model.DoesNotExist
        # Phone time against phone time: the entry's edit time is as the phone sent it.
        if deleted_at is not None and entry.client_updated_at > deleted_at:
            raise ApplicationError(
                "The entry was changed after you deleted it, so it was kept. Delete it again "
                "if it should go.",
                status_code=409,
                code="edited-after-deletion",
                extra={"client_updated_at": iso_instant(entry.client_updated_at)},
            )
        when = deleted_at if deleted_at is not None else max(now, entry.client_updated_at)
        day = entry.local_date
        entry.delete()
        # Remembered, so that an older edit of it arriving later does not bring it back.
        DeletedEntry.objects.bulk_create(
            [DeletedEntry(user=user, kind=kind, entry_id=entry_id, deleted_at=when)],
            update_conflicts=True,
            unique_fields=["user", "kind", "entry_id"],
            update_fields=["deleted_at"],
        )
        _after_change(user, {day})


# Longer than any request may run (gunicorn's worker timeout is 30 s): a day view read before
# the deletion committed is cached, if at all, before the hold ends.
DAY_VIEW_HOLD_SECONDS = 60


def day_views_forget(user_pk: Any) -> None:
    """After the transaction that deleted a rep's entries for good (erasure, withdrawal with
    deletion): the rep's day views cached in Redis go too. A moved version already keeps them
    from being served, but they would hold the deleted entries until they expire. A read that
    began before the commit could cache its copy after the deletion: for ``DAY_VIEW_HOLD_SECONDS``
    the rep's views are held (not cached), and the hold is set before the deletion."""

    def forget() -> None:
        hold(day_view_hold_key(user_pk), DAY_VIEW_HOLD_SECONDS)
        delete_prefixed(day_view_cache_prefix(user_pk))

    transaction.on_commit(forget)


def entries_delete_for_category(*, user: Any, category: str) -> int:
    """Delete every entry of one consent category (withdrawal with deletion)."""
    deleted = 0
    days: set[dt.date] = set()
    with transaction.atomic():
        # The journal lock: an upsert that read the consent before it was withdrawn finishes
        # first, so its entries are deleted here too.
        _lock_journal(user)
        for model in ENTRY_MODELS.values():
            if category == model.CATEGORY:
                entries = model.objects.filter(user=user)
                days.update(entries.values_list("local_date", flat=True).distinct())
                deleted += entries.delete()[0]
                # Which of them the rep had deleted before goes too: nothing of the category
                # stays. One row says when they all went, so that after a new grant an edit
                # made before now, still queued on a phone, does not store its entry again.
                DeletedEntry.objects.filter(user=user, kind=model.KIND).delete()
                DeletedKind.objects.bulk_create(
                    [DeletedKind(user=user, kind=model.KIND, deleted_at=timezone.now())],
                    update_conflicts=True,
                    unique_fields=["user", "kind"],
                    update_fields=["deleted_at"],
                )
        if days:
            # Day features derived from the deleted entries must be recomputed without them.
            _after_change(user, days)
            day_views_forget(user.pk)
    return deleted


def entries_purge_before(*, cutoff: dt.datetime) -> int:
    """Retention: delete every user's entries that happened before ``cutoff``.

    Day features are purged by their own app; nothing is recomputed for days this old. Every
    journal version moves on, so no cached day view still shows a purged entry.
    """
    with transaction.atomic():
        purged = sum(
            model.objects.filter(occurred_at__lt=cutoff).delete()[0]
            for model in ENTRY_MODELS.values()
        )
        DeletedEntry.objects.filter(deleted_at__lt=cutoff).delete()
        DeletedKind.objects.filter(deleted_at__lt=cutoff).delete()
        if purged:
            JournalState.objects.update(version=F("version") + 1)
    return purged


def entries_import(*, user: Any, items: list[EntryInput]) -> int:
    """Re-create entries from the rep's own export, all or nothing.

    The same rules as a write (consent per category, ranges, no future times) except the age
    rules (account age, retention period). Callers give new ids: exported ids stay with the
    account they came from.
    """
    now = timezone.now()
    by_kind: dict[str, list[JournalEntry]] = defaultdict(list)
    days: set[dt.date] = set()
    with transaction.atomic():
        _lock_journal(user)
        consented = consented_categories(user=user)
        for position, item in enumerate(items, start=1):
            model = ENTRY_MODELS[item.kind]
            try:
                if model.CATEGORY not in consented:
                    from apps.privacy.services import consent_require

                    consent_require(user=user, category=model.CATEGORY, consented=consented)
                values = _prepare(user=user, item=item, now=now, check_history=False)
            except ApplicationError as exc:
                raise ApplicationError(
                    f"Journal entry {position} ({item.kind}) cannot be imported: {exc.message}",
                    status_code=exc.status_code,
                    code=exc.code,
                    errors={f"journal.{item.kind}.{k}": v for k, v in exc.errors.items()},
                    extra=exc.extra,
                ) from exc
            by_kind[item.kind].append(model(id=item.id, user=user, last_result="created", **values))
            days.add(values["local_date"])
        for kind in sorted(by_kind):
            ENTRY_MODELS[kind].objects.bulk_create(by_kind[kind], batch_size=1000)
        if days:
            _after_change(user, days)
    return sum(len(entries) for entries in by_kind.values())


def quick_checkin(
    *, user: Any, data: dict[str, Any], request_hash: str, window: WriteWindow | None = None
) -> dict[str, UpsertOutcome]:
    """Energy now, plus optionally last night's sleep and last evening's drinks, atomically.

    Sub-entries without an id get one derived from the check-in id, so a retried check-in
    is still one sleep entry and one drinks entry.
    """
    now = timezone.now()
    occurred_at = data.get("occurred_at") or now
    server_timed = data.get("occurred_at") is None
    tz_name = data.get("tz") or user.timezone
    energy_id: uuid.UUID = data["id"]
    # Every part is an edit made when the phone stamped the check-in: a retry that arrives
    # after the rep edited a part is the older write and loses to the edit (last write wins).
    edited = {"client_updated_at": occurred_at}
    items: dict[str, EntryInput] = {
        "energy": EntryInput(
            kind="energy",
            id=energy_id,
            values={
                "occurred_at": occurred_at,
                "tz": tz_name,
                "level": data["level"],
                "focus": data.get("focus"),
                "mood": data.get("mood"),
                **edited,
            },
            request_hash=request_hash,
            server_timed=server_timed,
        )
    }
    if "sleep" in data:
        sleep = data["sleep"]
        items["sleep"] = EntryInput(
            kind="sleep",
            id=sleep.get("id") or uuid.uuid5(energy_id, "sleep"),
            values={
                "occurred_at": sleep.get("wake_time") or occurred_at,
                "tz": tz_name,
                "bedtime": sleep.get("bedtime"),
                "duration_minutes": sleep.get("duration_minutes"),
                "quality": sleep.get("quality"),
                **edited,
            },
            request_hash=request_hash,
            server_timed=server_timed,
        )
    if "drinks" in data:
        drinks = data["drinks"]
        try:
            evening = drinks.get("occurred_at") or _last_evening(occurred_at, tz_name)
        except OverflowError:
            # A time in the first day of year 1 has no evening before it; the check of the
            # parts below refuses such a time (400 naming occurred_at).
            evening = occurred_at
        items["drinks"] = EntryInput(
            kind="alcohol",
            id=drinks.get("id") or uuid.uuid5(energy_id, "drinks"),
            values={
                "occurred_at": evening,
                "tz": tz_name,
                "standard_drinks": drinks["standard_drinks"],
                "context": drinks.get("context", ""),
                **edited,
            },
            request_hash=request_hash,
            server_timed=server_timed,
        )
    # All or nothing: a morning check-in is one act for the rep.
    outcomes = entries_upsert(
        user=user, items=list(items.values()), all_or_nothing=True, window=window
    )
    by_name = dict(zip(items, outcomes, strict=True))
    rejected = [(name, o) for name, o in by_name.items() if o.result == "rejected"]
    if rejected:
        name, outcome = rejected[0]
        raise outcome.as_error(
            {_checkin_field(name, key): msgs for key, msgs in outcome.errors.items()}
        )
    return by_name


# Entry fields as the check-in body names them: the night's wake time is the sleep entry's
# occurred_at, and the one tz of the body applies to every part.
_CHECKIN_FIELDS = {"sleep": {"occurred_at": "wake_time"}}


def _checkin_field(part: str, field_name: str) -> str:
    if part == "energy" or field_name == "tz":
        return field_name
    return f"{part}.{_CHECKIN_FIELDS.get(part, {}).get(field_name, field_name)}"


def _last_evening(instant: dt.datetime, tz_name: str) -> dt.datetime:
    local = instant.astimezone(zone(tz_name))
    evening = (local - dt.timedelta(days=1)).replace(hour=21, minute=0, second=0, microsecond=0)
    return evening.astimezone(dt.UTC)


def _after_change(user: Any, days: set[dt.date]) -> None:
    """Mark the touched days for recomputation, in the writing transaction (never lost)."""
    days_mark_stale(user_id=user.pk, dates=days)
