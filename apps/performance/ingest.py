"""Service layer for activities from the outside world (CSV import, CRM webhook).

An :class:`Ingest` takes parsed :class:`~apps.performance.formats.Activity` rows, resolves the
rep and the local day, and writes them in chunks: one lookup of the existing rows and one bulk
upsert (INSERT ... ON CONFLICT DO UPDATE) per chunk, keyed by a uuid5 of (kind, rep, source,
external id) so a re-import addresses the same rows and changes nothing. Derived day call
figures are recomputed for the days a chunk touched. Only ``services.py`` uses this module.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from apps.core.sql import hold_until_commit, insert_parts, rows_json
from apps.core.time import is_valid_timezone, local_date, zone
from apps.performance.choices import MeetingStatus
from apps.performance.formats import Activity, RowRejected, parse_amount_minor
from apps.performance.models import Call, DailyCallStats, Meeting

CHUNK_ROWS = 2000
REPORT_MAX_ROWS = 1000
UNKNOWN_REPS_MAX = 100
FUTURE_TOLERANCE = dt.timedelta(minutes=10)
HISTORY = dt.timedelta(days=730)
CONVERSATION_SECONDS = 120
# Chunks at least this large are written with COPY on PostgreSQL (see upsert_rows).
COPY_MIN_ROWS = 500
# Namespace of the ids of imported rows (stable forever: changing it duplicates re-imports).
IMPORT_NAMESPACE = uuid.UUID("8d0c6f53-3f7e-4d47-9c2e-3b8a7f1f64a1")

CALL_FIELDS = ("occurred_at", "tz", "local_date", "duration_seconds", "connected", "disposition")
MEETING_FIELDS = (
    "occurred_at",
    "tz",
    "local_date",
    "status",
    "decision_maker_present",
    "budget",
    "authority",
    "need",
    "timeline",
    "bant_score",
    "qualified",
    "deal_value_cents",
    "currency",
)
STATS_FIELDS = ("calls_made", "connected", "conversations", "talk_minutes")


@dataclass
class Rep:
    """What resolving a row needs to know about its rep (satisfies core.time.HasLocalClock)."""

    id: uuid.UUID
    email: str
    timezone: str
    day_boundary_hour: int
    min_bant: int


def imported_id(kind: str, user_id: uuid.UUID, source: str, external_id: str) -> uuid.UUID:
    return uuid.uuid5(IMPORT_NAMESPACE, f"{kind}:{user_id}:{source}:{external_id}")


def derived_stats_id(user_id: uuid.UUID, source: str, day: dt.date) -> uuid.UUID:
    return uuid.uuid5(IMPORT_NAMESPACE, f"day:{user_id}:{source}:{day.isoformat()}")


def bant_score(*, budget: bool, authority: bool, need: bool, timeline: bool) -> int:
    return int(budget) + int(authority) + int(need) + int(timeline)


def is_qualified(*, status: str, score: int, min_bant: int) -> bool:
    """The documented rule: a meeting is qualified when it was held and BANT >= the team's min."""
    return status == MeetingStatus.HELD and score >= min_bant


@dataclass
class Ingest:
    source: str
    # Team imports and webhooks: reps by lower-case e-mail. A rep's own import: ``self_rep``.
    reps: dict[str, Rep] = field(default_factory=dict)
    self_rep: Rep | None = None
    # The team that brings the rows (a team's import, a team's CRM connection); None for a
    # rep's own import. Written on insert only: the row of an activity another team brought
    # first keeps that team (see flush_together).
    team_id: uuid.UUID | None = None
    default_tz: str = ""
    default_currency: str = ""
    write: bool = True
    # False: only parse and resolve (the validation pass); no database access at all.
    classify: bool = True
    label: Callable[[str], str] = str
    now: dt.datetime = field(default_factory=timezone.now)

    counts: Counter[str] = field(default_factory=Counter)
    report: list[dict[str, Any]] = field(default_factory=list)
    report_truncated: bool = False
    unknown_reps: list[str] = field(default_factory=list)
    touched: dict[uuid.UUID, set[dt.date]] = field(default_factory=dict)
    # False: the caller rebuilds the day call figures of ``call_days`` once for many ingests.
    rebuild_call_stats: bool = True
    call_days: set[tuple[uuid.UUID, dt.date]] = field(default_factory=set)
    _seen: dict[str, int] = field(default_factory=dict)
    _calls: list[tuple[int, uuid.UUID, dict[str, Any]]] = field(default_factory=list)
    _meetings: list[tuple[int, uuid.UUID, dict[str, Any]]] = field(default_factory=list)

    @property
    def pending(self) -> int:
        return len(self._calls) + len(self._meetings)

    @property
    def rows_seen(self) -> int:
        return sum(self.counts.values())

    def reject(self, row: int, column: str, reason: str) -> None:
        self.counts["rejected"] += 1
        if len(self.report) < REPORT_MAX_ROWS:
            self.report.append({"row": row, "column": self.label(column), "reason": reason})
        else:
            self.report_truncated = True

    def skip(self) -> None:
        self.counts["skipped"] += 1

    def add(self, row: int, activity: Activity) -> None:
        """Resolve one activity and queue it for the next flush (or count it as valid)."""
        try:
            kind, pk, values = self._resolve(row, activity)
        except RowRejected as exc:
            self.reject(row, exc.column, exc.reason)
            return
        if not self.classify:
            self.counts["valid"] += 1
            return
        (self._calls if kind == "call" else self._meetings).append((row, pk, values))

    # --- resolution (no database) -----------------------------------------------------------

    def _rep_for(self, email: str) -> Rep:
        if self.self_rep is not None:
            if email and email != self.self_rep.email:
                raise RowRejected(
                    "owner_email",
                    "This row is another person's; you can import only your own activities "
                    "(an org admin imports for the team).",
                )
            return self.self_rep
        if not email:
            raise RowRejected("owner_email", "The rep's e-mail address is missing.")
        rep = self.reps.get(email)
        if rep is None:
            if email not in self.unknown_reps and len(self.unknown_reps) < UNKNOWN_REPS_MAX:
                self.unknown_reps.append(email)
            raise RowRejected(
                "owner_email", f"No member of this team has the e-mail address {email}."
            )
        return rep

    def _resolve(self, row: int, activity: Activity) -> tuple[str, uuid.UUID, dict[str, Any]]:
        rep = self._rep_for(activity.owner_email)
        tz_name = activity.tz or self.default_tz or rep.timezone
        if not is_valid_timezone(tz_name):
            raise RowRejected("tz", "Unknown time zone; use an IANA name such as Europe/Amsterdam.")
        if activity.on_date is not None:
            # A date without a time: the activity belongs to that day; noon marks the instant.
            # The date is the whole day: today's is not in the future, whatever the hour (a CRM
            # export of this morning's calls at 09:00); before noon its instant is the day's
            # start, not now, so that importing the same file again changes nothing.
            day = activity.on_date
            occurred_at = dt.datetime.combine(day, dt.time(12), tzinfo=zone(tz_name))
            in_future = day > self.now.astimezone(zone(tz_name)).date()
            if not in_future and occurred_at > self.now:
                occurred_at = dt.datetime.combine(day, dt.time(0), tzinfo=zone(tz_name))
        else:
            assert activity.occurred_at is not None
            occurred_at = activity.occurred_at
            if occurred_at.tzinfo is None:
                occurred_at = occurred_at.replace(tzinfo=zone(tz_name))
            day = local_date(rep, occurred_at, tz_name=tz_name)
            in_future = occurred_at > self.now + FUTURE_TOLERANCE
        occurred_at = occurred_at.astimezone(dt.UTC)
        if occurred_at < self.now - HISTORY:
            raise RowRejected("occurred_at", "The activity is more than two years ago.")

        common = {
            "user_id": rep.id,
            "team_id": self.team_id,
            "source": self.source,
            "external_id": activity.external_id,
            "occurred_at": occurred_at,
            "tz": tz_name,
            "local_date": day,
        }
        if activity.kind == "call":
            if in_future:
                raise RowRejected("occurred_at", "The call is in the future.")
            values = {
                **common,
                "duration_seconds": activity.duration_seconds,
                "connected": activity.connected,
                "disposition": activity.disposition,
            }
        else:
            values = {**common, **self._meeting_values(activity, rep, in_future=in_future)}
        first_row = self._seen.setdefault(f"{activity.kind}:{rep.id}:{activity.external_id}", row)
        if first_row != row:
            raise RowRejected(
                "external_id", f"The same activity id as row {first_row}; each activity once."
            )
        # The validation pass needs no ids (uuid5 is a measurable share of the CPU time).
        pk = (
            imported_id(activity.kind, rep.id, self.source, activity.external_id)
            if self.classify
            else IMPORT_NAMESPACE
        )
        return activity.kind, pk, values

    def _meeting_values(self, activity: Activity, rep: Rep, *, in_future: bool) -> dict[str, Any]:
        status = activity.status
        if status == "by_time":
            status = MeetingStatus.SCHEDULED if in_future else MeetingStatus.HELD
        if in_future and status in (MeetingStatus.HELD, MeetingStatus.NO_SHOW):
            raise RowRejected("occurred_at", "A meeting in the future cannot have been held yet.")
        currency = activity.currency or self.default_currency
        if activity.deal_value_cents is not None:
            cents = activity.deal_value_cents
        else:
            cents = parse_amount_minor("deal_value", activity.deal_value_text, currency)
        if cents and not currency:
            raise RowRejected(
                "currency", "A deal value needs a currency (a column, or the import's currency)."
            )
        score = bant_score(
            budget=activity.budget,
            authority=activity.authority,
            need=activity.need,
            timeline=activity.timeline,
        )
        return {
            "status": status,
            "decision_maker_present": activity.decision_maker_present,
            "budget": activity.budget,
            "authority": activity.authority,
            "need": activity.need,
            "timeline": activity.timeline,
            "bant_score": score,
            "qualified": is_qualified(status=status, score=score, min_bant=rep.min_bant),
            "deal_value_cents": cents,
            "currency": currency if cents else activity.currency,
        }

    # --- writing ------------------------------------------------------------------------------

    def flush(self) -> None:
        flush_together([self])

    def _note_days(self, days: Iterable[tuple[uuid.UUID, dt.date]]) -> None:
        for user_id, day in days:
            self.touched.setdefault(user_id, set()).add(day)


# One item queued by an ingest: (ingest, row, primary key, values).
_Queued = tuple[Ingest, int, uuid.UUID, dict[str, Any]]


def flush_together(ingests: list[Ingest]) -> None:
    """Write what several ingests queued, in their order, with one read and one upsert per
    kind for all of them (a webhook drain: a batch of deliveries).

    Each ingest's counts (created / updated / unchanged) and touched days are what flushing
    them one after another would give: an activity sent again by a later delivery is compared
    with the earlier delivery's values, and the last values are stored. The ingests share their
    ``source``, ``team_id``, ``write``, ``rebuild_call_stats`` and ``now`` (the first one's are
    used); without ``rebuild_call_stats`` the call days of all of them are noted on the first.

    The team is inserted, never updated (it is not in the compared or updated fields): one CRM
    activity is one row of the rep (its id is a uuid5 of rep, source and external id), so
    another team importing it again refreshes its values and leaves it the first team's, and
    the rep's own figures count it once.
    """
    if not any(ingest.pending for ingest in ingests):
        return
    first = ingests[0]
    calls = [(ingest, *item) for ingest in ingests for item in ingest._calls]
    meetings = [(ingest, *item) for ingest in ingests for item in ingest._meetings]
    # Inside a caller's transaction (a drain batch) no savepoint: a failure aborts the batch.
    with transaction.atomic(savepoint=False):
        if calls:
            changed, days = _classify(Call, calls, CALL_FIELDS)
            if first.write and changed:
                upsert_rows(
                    Call,
                    [{"id": pk, **values} for pk, values in changed.items()],
                    update_fields=CALL_FIELDS,
                    now=first.now,
                )
                if first.rebuild_call_stats:
                    call_stats_rebuild(source=first.source, days=days, now=first.now)
                else:
                    first.call_days |= days
        if meetings:
            changed, _days = _classify(Meeting, meetings, MEETING_FIELDS)
            if first.write and changed:
                upsert_rows(
                    Meeting,
                    [
                        {
                            "id": pk,
                            "client_updated_at": first.now,
                            "last_result": "imported",
                            **values,
                        }
                        for pk, values in changed.items()
                    ],
                    update_fields=(*MEETING_FIELDS, "client_updated_at"),
                    now=first.now,
                )
    for ingest in ingests:
        ingest._calls = []
        ingest._meetings = []


def _classify(
    model: Any, items: list[_Queued], compared: tuple[str, ...]
) -> tuple[dict[uuid.UUID, dict[str, Any]], set[tuple[uuid.UUID, dt.date]]]:
    """Count each item on its ingest and note its days there; returns the values to store by
    key (the last item's for a key queued twice) and every (user, day) touched."""
    current = {
        row["id"]: row
        for row in model.objects.filter(pk__in={pk for _, _, pk, _ in items}).values(
            "id", "user_id", *compared
        )
    }
    changed: dict[uuid.UUID, dict[str, Any]] = {}
    all_days: set[tuple[uuid.UUID, dt.date]] = set()
    for ingest, _row, pk, values in items:
        old = current.get(pk)
        if old is None:
            ingest.counts["created"] += 1
        elif all(old[name] == values[name] for name in compared):
            ingest.counts["unchanged"] += 1
            continue
        else:
            ingest.counts["updated"] += 1
            if ingest.write:
                ingest._note_days([(old["user_id"], old["local_date"])])
            all_days.add((old["user_id"], old["local_date"]))
        if ingest.write:
            ingest._note_days([(values["user_id"], values["local_date"])])
        all_days.add((values["user_id"], values["local_date"]))
        current[pk] = {"id": pk, **values}
        changed[pk] = values
    return changed, all_days


def upsert_rows(
    model: Any,
    rows: list[dict[str, Any]],
    *,
    update_fields: tuple[str, ...],
    now: dt.datetime,
    conflict: tuple[str, ...] = (),
) -> None:
    """INSERT ... ON CONFLICT DO UPDATE of ``update_fields`` for rows keyed by attname; the
    conflict target is ``conflict`` (field names), by default the primary key.

    On PostgreSQL a large chunk in a transaction goes through COPY into a temporary table and
    one INSERT ... SELECT: measured about 3x faster than bulk_create for 2,000 rows (Django
    builds and binds every value in Python); anything else is one statement taking the rows as
    one JSON parameter (``core.sql.rows_json``), its text built once per model (a drain batch
    of a few deliveries paid more for compiling ``bulk_create`` than for running it). Other
    databases use bulk_create.
    """
    if not rows:
        return
    meta = model._meta
    target = conflict or (meta.pk.name,)
    if connection.vendor != "postgresql":
        model.objects.bulk_create(
            [model(**row) for row in rows],
            update_conflicts=True,
            unique_fields=list(target),
            update_fields=[*update_fields, "updated_at"],
        )
        return
    fields = list(meta.concrete_fields)
    stamps = {"created_at": now, "updated_at": now}
    defaults = {f.attname: stamps.get(f.attname, f.get_default()) for f in fields}
    attnames = [f.attname for f in fields]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    on_conflict = _on_conflict(model, target, (*update_fields, "updated_at"))
    with connection.cursor() as cursor:
        if len(rows) < COPY_MIN_ROWS or not connection.in_atomic_block:
            values = [
                [
                    field.get_db_prep_save(row.get(name, defaults[name]), connection)
                    for field, name in zip(fields, attnames, strict=True)
                ]
                for row in rows
            ]
            cursor.execute(_upsert_many_sql(model) + on_conflict, [rows_json(fields, values)])
            return
        table = quote(meta.db_table)
        temp = quote(f"ingest_{meta.db_table}")
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {temp} (LIKE {table}) ON COMMIT DROP")
        cursor.execute(f"TRUNCATE {temp}")
        with cursor.cursor.copy(f"COPY {temp} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row.get(name, defaults[name]) for name in attnames])
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {temp} "  # noqa: S608 - names from model meta
            + on_conflict
        )


@functools.cache
def _upsert_many_sql(model: Any) -> str:
    _fields, head, _row, many, _types, _tail = insert_parts(model)
    return head + many


@functools.cache
def _on_conflict(model: Any, target: tuple[str, ...], update_fields: tuple[str, ...]) -> str:
    quote = connection.ops.quote_name
    column = {f.name: f.column for f in model._meta.concrete_fields}
    updates = ", ".join(
        f"{quote(column[name])} = EXCLUDED.{quote(column[name])}" for name in update_fields
    )
    keys = ", ".join(quote(column[name]) for name in target)
    return f" ON CONFLICT ({keys}) DO UPDATE SET {updates}"


def call_day_aggregates() -> dict[str, Any]:
    """Day call figures from :class:`Call` rows grouped by (user, day): calls_made,
    connected_calls, conversations (connected, over two minutes) and talk_seconds (connected)."""
    return {
        "calls_made": Count("id"),
        "connected_calls": Count("id", filter=Q(connected=True)),
        "conversations": Count(
            "id", filter=Q(connected=True, duration_seconds__gt=CONVERSATION_SECONDS)
        ),
        "talk_seconds": Sum("duration_seconds", filter=Q(connected=True)),
    }


def call_stats_rebuild(
    *, source: str, days: set[tuple[uuid.UUID, dt.date]], now: dt.datetime
) -> None:
    """Recompute the derived day call figures of ``source`` for (user, day) pairs from Calls.

    One rebuild of a source at a time, until the caller's transaction commits: two writers at
    once (two imports, two CRM connections' drains) each counted only the calls it could see,
    and the later commit lost the other's. Waiting, the second counts after the first
    committed (each statement reads what is committed by then).
    """
    if not days:
        return
    hold_until_commit(f"call-stats:{source}")
    user_ids = {user_id for user_id, _ in days}
    dates = {day for _, day in days}
    totals = {
        (row["user_id"], row["local_date"]): row
        for row in Call.objects.filter(user_id__in=user_ids, local_date__in=dates, source=source)
        .values("user_id", "local_date")
        .annotate(**call_day_aggregates())
        .order_by()
    }
    rows = [
        {
            "id": derived_stats_id(user_id, source, day),
            "user_id": user_id,
            "local_date": day,
            "source": source,
            "calls_made": total["calls_made"],
            "connected": total["connected_calls"],
            "conversations": total["conversations"],
            "talk_minutes": round((total["talk_seconds"] or 0) / 60),
            "client_updated_at": now,
            "last_result": "imported",
        }
        for (user_id, day), total in totals.items()
        if (user_id, day) in days
    ]
    upsert_rows(
        DailyCallStats,
        rows,
        update_fields=(*STATS_FIELDS, "client_updated_at"),
        now=now,
        conflict=("user", "local_date", "source"),
    )
    emptied = days - set(totals)
    if emptied:
        condition = Q()
        for user_id, day in emptied:
            condition |= Q(user_id=user_id, local_date=day)
        DailyCallStats.objects.filter(condition, source=source).delete()
