"""Every write of sales figures: manual entries, CSV imports, CRM connections and webhooks.

Manual writes are idempotent upserts keyed by the client's UUID (the same request twice gives
one row and the same answer, like the journal). Imports and webhooks upsert by external id, so
re-importing a file changes nothing. A rejected request writes nothing. Side effects (Celery)
are sent after commit and never fail a request when the broker is down.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import io
import json
import logging
import secrets
import shutil
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db import connection as db_connection
from django.db.models import F, Q
from django.utils import timezone

from apps.core.errors import ApplicationError
from apps.core.jsonvalues import loads_storable
from apps.core.sql import hold_until_commit
from apps.core.tasks import enqueue_on_commit, send_task_safely
from apps.core.time import is_valid_timezone, local_date
from apps.insights.stale import days_mark_stale, days_mark_stale_many
from apps.performance import selectors
from apps.performance.choices import (
    DEFAULT_QUALIFIED_MIN_BANT,
    ImportMode,
    ImportStatus,
    MeetingStatus,
    Source,
    WebhookEventStatus,
)
from apps.performance.currencies import is_currency
from apps.performance.formats import (
    FORMATS,
    Activity,
    FileRejected,
    Header,
    RowRejected,
    column_label,
    count_rows,
    iter_rows,
    open_text,
    parse_row,
    parse_webhook_activity,
    read_header,
    sniff_text_start,
)
from apps.performance.ingest import (
    CHUNK_ROWS,
    HISTORY,
    Ingest,
    bant_score,
    call_stats_rebuild,
    flush_together,
    is_qualified,
)
from apps.performance.models import (
    CrmConnection,
    DailyCallStats,
    ImportJob,
    Meeting,
    WebhookEvent,
)

logger = logging.getLogger(__name__)

FUTURE_TOLERANCE = dt.timedelta(minutes=10)
MAX_SCHEDULED_AHEAD = dt.timedelta(days=366)
STATUS_FOR_RESULT = {"created": 201, "updated": 200, "unchanged": 200, "stale": 200}
DEFAULT_IMPORT_MAX_BYTES = 100 * 1024 * 1024
DEFAULT_IMPORT_SYNC_MAX_BYTES = 1024 * 1024
SNIFF_BYTES = 64 * 1024
COPY_BUFFER = 1024 * 1024
IMPORT_RUNNING_STALE = dt.timedelta(minutes=10)
IMPORT_QUEUED_STALE = dt.timedelta(minutes=5)
WEBHOOK_TOLERANCE_SECONDS = 300
WEBHOOK_PENDING_STALE = dt.timedelta(minutes=1)
WEBHOOK_MAX_ACTIVITIES = 500
WEBHOOK_ERRORS_KEPT = 100
# The drain flag outlives the drain's delay (settings.WEBHOOK_DRAIN_DELAY_SECONDS) by this much:
# a drain starts that long after the first delivery that queued it, because a CRM sends in
# bursts and a drain pays a fixed per-batch cost (the team's rep directory, the call
# statistics, a dozen statements) once for the whole burst instead of once per delivery.
WEBHOOK_DRAIN_FLAG_SECONDS = 30
WEBHOOK_DRAIN_BATCH = 100
WEBHOOK_DRAIN_MAX_EVENTS = 5000
WEBHOOK_EVENTS_KEPT = dt.timedelta(days=7)
SECRET_PREFIX = "whsec_"  # noqa: S105 - a public marker, not a secret
CALL_VALUE_FIELDS = ("local_date", "calls_made", "connected", "conversations", "talk_minutes")
MEETING_VALUE_FIELDS = (
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


# --- manual entry ----------------------------------------------------------------------------


@dataclass
class UpsertOutcome:
    result: str
    status: int
    entry: Any
    detail: str = ""


def _not_yours() -> ApplicationError:
    return ApplicationError("No such entry of yours.", status_code=404, code="not-found")


def _imported_read_only() -> ApplicationError:
    return ApplicationError(
        "These figures come from your CRM; change them there and import again.",
        status_code=409,
        code="imported-read-only",
    )


def _refuse_reserved_id(entry_id: uuid.UUID) -> None:
    """A new manual entry may not take a version-5 UUID: those are the ids the server derives
    for imported rows (``ingest.imported_id``, ``derived_stats_id``) from ids anyone can know, so
    a rep's entry under one would be overwritten by, or break, a colleague's import."""
    if entry_id.version == 5:
        raise ApplicationError(
            "This id is reserved for imported figures.",
            errors={"id": ["Use a random (version 4) or a version 7 UUID."]},
        )


def _check_client_time(client_updated_at: dt.datetime, now: dt.datetime) -> None:
    if client_updated_at > now + FUTURE_TOLERANCE:
        raise ApplicationError(
            "The edit time is in the future. Check the clock on your phone.",
            errors={"client_updated_at": ["Must not be more than 10 minutes in the future."]},
        )


def _day_clash(day: dt.date, existing_id: uuid.UUID) -> ApplicationError:
    return ApplicationError(
        f"You already entered call figures for {day.isoformat()}; update that entry instead.",
        status_code=409,
        code="day-exists",
        errors={"local_date": ["There is already an entry for this day."]},
        extra={"existing_id": str(existing_id)},
    )


def _replay_or_compare(
    entry: Any, values: dict[str, Any], request_hash: str, client_updated_at: dt.datetime
) -> UpsertOutcome | None:
    if request_hash and entry.request_hash == request_hash:
        # An exact retry: answer what the first request was answered.
        result = entry.last_result if entry.last_result in STATUS_FOR_RESULT else "updated"
        return UpsertOutcome(result, STATUS_FOR_RESULT[result], entry)
    if client_updated_at < entry.client_updated_at:
        return UpsertOutcome(
            "stale",
            200,
            entry,
            "A newer edit of this entry is already stored; it was kept.",
        )
    if all(getattr(entry, name) == value for name, value in values.items()):
        return UpsertOutcome("unchanged", 200, entry)
    return None


def call_stats_upsert(
    *, user: Any, stats_id: uuid.UUID, values: dict[str, Any], request_hash: str = ""
) -> UpsertOutcome:
    """Create or update the rep's own call figures of one day by client UUID."""
    now = timezone.now()
    values = dict(values)
    client_updated_at: dt.datetime = values.pop("client_updated_at", None) or now
    _check_client_time(client_updated_at, now)
    values = {name: values[name] for name in CALL_VALUE_FIELDS}
    day: dt.date = values["local_date"]
    today = local_date(user, now)
    if day > today + dt.timedelta(days=1):
        raise ApplicationError(
            "The day is in the future.", errors={"local_date": ["Must not be after tomorrow."]}
        )
    if day < (now - HISTORY).date():
        raise ApplicationError(
            "The day is too long ago.", errors={"local_date": ["At most two years back."]}
        )
    if values["connected"] > values["calls_made"]:
        raise ApplicationError(
            "More connected calls than calls made.",
            errors={"connected": ["Must not exceed calls_made."]},
        )
    if values["conversations"] > values["connected"]:
        raise ApplicationError(
            "More conversations than connected calls.",
            errors={"conversations": ["Must not exceed connected."]},
        )
    with transaction.atomic():
        entry = DailyCallStats.objects.select_for_update().filter(pk=stats_id).first()
        if entry is None:
            _refuse_reserved_id(stats_id)
            clash = (
                DailyCallStats.objects.filter(user=user, local_date=day, source=Source.MANUAL)
                .values_list("pk", flat=True)
                .first()
            )
            if clash is not None:
                raise _day_clash(day, clash)
            try:
                with transaction.atomic():
                    entry = DailyCallStats.objects.create(
                        id=stats_id,
                        user=user,
                        source=Source.MANUAL,
                        client_updated_at=client_updated_at,
                        request_hash=request_hash,
                        last_result="created",
                        **values,
                    )
            except IntegrityError:
                # A concurrent request stored this id (or this day) first.
                entry = DailyCallStats.objects.select_for_update().filter(pk=stats_id).first()
                if entry is None:
                    raise _day_clash(day, stats_id) from None
            else:
                _after_change(user.pk, {day})
                return UpsertOutcome("created", 201, entry)
        if entry.user_id != user.pk:
            raise _not_yours()
        if entry.source != Source.MANUAL:
            raise _imported_read_only()
        decided = _replay_or_compare(entry, values, request_hash, client_updated_at)
        if decided is not None:
            return decided
        if day != entry.local_date:
            clash = (
                DailyCallStats.objects.filter(user=user, local_date=day, source=Source.MANUAL)
                .exclude(pk=entry.pk)
                .values_list("pk", flat=True)
                .first()
            )
            if clash is not None:
                raise _day_clash(day, clash)
        days = {entry.local_date, day}
        _apply_update(entry, values, CALL_VALUE_FIELDS, client_updated_at, request_hash)
        _after_change(user.pk, days)
    return UpsertOutcome("updated", 200, entry)


def _apply_update(
    entry: Any,
    values: dict[str, Any],
    value_fields: Sequence[str],
    client_updated_at: dt.datetime,
    request_hash: str,
) -> None:
    """Write an accepted edit of a manual entry, with its last-write-wins bookkeeping."""
    for name, value in values.items():
        setattr(entry, name, value)
    entry.client_updated_at = client_updated_at
    entry.request_hash = request_hash
    entry.last_result = "updated"
    entry.save(
        update_fields=[
            *value_fields,
            "client_updated_at",
            "request_hash",
            "last_result",
            "updated_at",
        ]
    )


def meeting_upsert(
    *, user: Any, meeting_id: uuid.UUID, values: dict[str, Any], request_hash: str = ""
) -> UpsertOutcome:
    """Create or update one of the rep's own meetings by client UUID."""
    now = timezone.now()
    raw = dict(values)
    client_updated_at: dt.datetime = raw.pop("client_updated_at", None) or now
    _check_client_time(client_updated_at, now)
    prepared = _meeting_values(user=user, raw=raw, now=now)
    with transaction.atomic():
        entry = Meeting.objects.select_for_update().filter(pk=meeting_id).first()
        if entry is None:
            _refuse_reserved_id(meeting_id)
            try:
                with transaction.atomic():
                    entry = Meeting.objects.create(
                        id=meeting_id,
                        user=user,
                        source=Source.MANUAL,
                        client_updated_at=client_updated_at,
                        request_hash=request_hash,
                        last_result="created",
                        **prepared,
                    )
            except IntegrityError:
                entry = Meeting.objects.select_for_update().get(pk=meeting_id)
            else:
                _after_change(user.pk, {prepared["local_date"]})
                return UpsertOutcome("created", 201, entry)
        if entry.user_id != user.pk:
            raise _not_yours()
        if entry.source != Source.MANUAL:
            raise _imported_read_only()
        decided = _replay_or_compare(entry, prepared, request_hash, client_updated_at)
        if decided is not None:
            return decided
        days = {entry.local_date, prepared["local_date"]}
        _apply_update(entry, prepared, MEETING_VALUE_FIELDS, client_updated_at, request_hash)
        _after_change(user.pk, days)
    return UpsertOutcome("updated", 200, entry)


def _meeting_values(*, user: Any, raw: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    tz_name = raw.get("tz") or user.timezone
    if not is_valid_timezone(tz_name):
        raise ApplicationError(
            "Unknown time zone.",
            errors={"tz": ["Use an IANA time zone name such as Europe/Amsterdam."]},
        )
    occurred_at: dt.datetime = raw["occurred_at"]
    status = raw["status"]
    if occurred_at > now + FUTURE_TOLERANCE and status in (
        MeetingStatus.HELD,
        MeetingStatus.NO_SHOW,
    ):
        raise ApplicationError(
            "A meeting in the future cannot have been held yet.",
            errors={"occurred_at": ["Must not be in the future for a held or no-show meeting."]},
        )
    if occurred_at > now + MAX_SCHEDULED_AHEAD:
        raise ApplicationError(
            "The meeting is more than a year ahead.",
            errors={"occurred_at": ["Must be within a year from now."]},
        )
    if occurred_at < now - HISTORY:
        raise ApplicationError(
            "The meeting is too long ago.", errors={"occurred_at": ["At most two years back."]}
        )
    cents = raw.get("deal_value_cents") or 0
    currency = (raw.get("currency") or "").upper()
    if currency and not is_currency(currency):
        raise ApplicationError(
            "Unknown currency.", errors={"currency": ["Use an ISO 4217 code such as EUR."]}
        )
    if cents and not currency:
        raise ApplicationError(
            "A deal value needs a currency.",
            errors={"currency": ["Required when deal_value_cents is more than 0."]},
        )
    flags = {
        name: bool(raw.get(name, False)) for name in ("budget", "authority", "need", "timeline")
    }
    score = bant_score(**flags)
    min_bant = selectors.rep_thresholds(user_ids=[user.pk]).get(user.pk, DEFAULT_QUALIFIED_MIN_BANT)
    return {
        "occurred_at": occurred_at,
        "tz": tz_name,
        "local_date": local_date(user, occurred_at, tz_name=tz_name),
        "status": status,
        "decision_maker_present": bool(raw.get("decision_maker_present", False)),
        **flags,
        "bant_score": score,
        "qualified": is_qualified(status=status, score=score, min_bant=min_bant),
        "deal_value_cents": cents,
        "currency": currency,
    }


def call_stats_delete(*, user: Any, stats_id: uuid.UUID) -> None:
    entry = DailyCallStats.objects.filter(user=user, pk=stats_id).first()
    if entry is None:
        raise DailyCallStats.DoesNotExist
    if entry.source != Source.MANUAL:
        raise _imported_read_only()
    day = entry.local_date
    with transaction.atomic():
        entry.delete()
        _after_change(user.pk, {day})


def meeting_delete(*, user: Any, meeting_id: uuid.UUID) -> None:
    entry = Meeting.objects.filter(user=user, pk=meeting_id).first()
    if entry is None:
        raise Meeting.DoesNotExist
    if entry.source != Source.MANUAL:
        raise _imported_read_only()
    day = entry.local_date
    with transaction.atomic():
        entry.delete()
        _after_change(user.pk, {day})


def meetings_requalify(*, user_ids: list[uuid.UUID]) -> int:
    """Re-derive ``qualified`` after a team's rule or a rep's teams changed. Idempotent.

    The days whose meetings changed are marked stale: their day features (qualified
    meetings, which insights and coaching summaries read) are recomputed."""
    thresholds = selectors.rep_thresholds(user_ids=user_ids)
    changed = 0
    days: dict[Any, set[dt.date]] = defaultdict(set)
    with transaction.atomic():
        for min_bant in range(5):
            ids = [u for u in user_ids if thresholds.get(u, DEFAULT_QUALIFIED_MIN_BANT) == min_bant]
            if not ids:
                continue
            rule = Q(status=MeetingStatus.HELD, bant_score__gte=min_bant)
            meetings = Meeting.objects.filter(user_id__in=ids)
            for flips, qualified in (
                (meetings.filter(rule, qualified=False), True),
                (meetings.filter(~rule, qualified=True), False),
            ):
                rows = list(flips.select_for_update().values_list("pk", "user_id", "local_date"))
                if rows:
                    Meeting.objects.filter(pk__in=[pk for pk, _u, _d in rows]).update(
                        qualified=qualified
                    )
                    changed += len(rows)
                    for _pk, user_id, day in rows:
                        days[user_id].add(day)
        for user_id, touched in days.items():
            _after_change(user_id, touched)
    return changed


def meetings_requalify_later(*, user_ids: list[Any]) -> None:
    """After the caller's commit: a team's BANT minimum or a rep's teams changed."""
    from apps.core.tasks import enqueue_on_commit

    if user_ids:
        enqueue_on_commit(
            "apps.performance.tasks.meetings_requalify", sorted(str(u) for u in user_ids)
        )


# --- CSV import ------------------------------------------------------------------------------


@dataclass
class ImportOptions:
    format: str
    mode: str = ImportMode.ALL_OR_NOTHING
    dry_run: bool = False
    column_map: dict[str, str] = field(default_factory=dict)
    timezone: str = ""
    currency: str = ""


@dataclass
class ImportOutcome:
    counts: dict[str, int]
    report: list[dict[str, Any]]
    report_truncated: bool
    unknown_reps: list[str]
    touched: dict[uuid.UUID, set[dt.date]]
    rows_total: int
    failed: bool = False
    detail: str = ""


def import_max_bytes() -> int:
    return int(getattr(settings, "IMPORT_MAX_BYTES", DEFAULT_IMPORT_MAX_BYTES))


def import_submit(
    *, user: Any, team_id: uuid.UUID | None, options: ImportOptions, upload: UploadedFile
) -> tuple[ImportJob, bool]:
    """Check an upload and run it (small files, in the request) or queue it (large files).

    Returns the job and whether it was queued. A file that cannot be read at all, or, in
    all_or_nothing mode, a small file with any invalid row, is a 400 that writes nothing.
    """
    team = selectors.team_get_admin(user=user, team_id=team_id) if team_id else None
    size = upload.size or 0
    limit = import_max_bytes()
    if size > limit:
        raise ApplicationError(
            f"The file is larger than the {limit // (1024 * 1024)} MB an import accepts; "
            "split it into smaller files.",
            status_code=413,
            code="payload-too-large",
        )
    if options.timezone and not is_valid_timezone(options.timezone):
        raise ApplicationError(
            "Unknown time zone.",
            errors={"timezone": ["Use an IANA name such as Europe/Amsterdam."]},
        )
    if options.currency and not is_currency(options.currency):
        raise ApplicationError(
            "Unknown currency.", errors={"currency": ["Use an ISO 4217 code such as EUR."]}
        )
    binary: IO[bytes] = upload.open("rb")
    _preflight(binary, options, owner_required=team is not None)
    now = timezone.now()
    job = ImportJob(
        id=uuid.uuid4(),
        created_by=user,
        team=team,
        format=options.format,
        mode=options.mode,
        dry_run=options.dry_run,
        options={
            "column_map": options.column_map,
            "timezone": options.timezone,
            "currency": options.currency,
        },
        file_name=(upload.name or "")[:255],
        file_size=size,
    )
    sync_limit = int(getattr(settings, "IMPORT_SYNC_MAX_BYTES", DEFAULT_IMPORT_SYNC_MAX_BYTES))
    if size <= sync_limit:
        job.status = ImportStatus.RUNNING
        job.started_at = now
        with transaction.atomic():
            outcome = _execute(job, binary, progress=None)
            if outcome.failed and not job.dry_run:
                raise ApplicationError(
                    outcome.detail,
                    code="import-rejected",
                    errors={"file": [outcome.detail]},
                    extra=_report_extra(outcome),
                )
            _finish(job, outcome)
            job.save()
            _after_import(outcome)
        return job, False

    job.status = ImportStatus.QUEUED
    job.file_path = f"imports/{job.pk}.csv"
    target = Path(settings.MEDIA_ROOT) / job.file_path
    target.parent.mkdir(parents=True, exist_ok=True)
    binary.seek(0)
    with target.open("wb") as out:
        shutil.copyfileobj(binary, out, COPY_BUFFER)
    try:
        with transaction.atomic():
            job.save()
            enqueue_on_commit(
                "apps.performance.tasks.import_job_run", str(job.pk), ignore_result=True
            )
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return job, True


def _preflight(binary: IO[bytes], options: ImportOptions, *, owner_required: bool) -> None:
    spec = FORMATS[options.format]
    binary.seek(0)
    head = binary.read(SNIFF_BYTES)
    binary.seek(0)
    text = open_text(binary)
    try:
        sniff_text_start(head)
        read_header(text, spec, options.column_map, owner_required=owner_required)
    except FileRejected as exc:
        raise ApplicationError(exc.reason, code="import-file-invalid", errors=exc.errors) from None
    finally:
        text.detach()


def _report_extra(outcome: ImportOutcome) -> dict[str, Any]:
    return {
        "counts": outcome.counts,
        "report": outcome.report,
        "report_truncated": outcome.report_truncated,
        "unknown_reps": outcome.unknown_reps,
    }


Progress = Callable[[str, int, int | None], None]


def _execute(job: ImportJob, binary: IO[bytes], *, progress: Progress | None) -> ImportOutcome:
    """Read the file once (valid_rows_only, dry runs) or twice (all_or_nothing: validate every
    row first, write only if all are valid), writing in chunks."""
    spec = FORMATS[job.format]
    options = job.options or {}
    owner_required = job.team_id is not None
    reps = selectors.team_rep_directory(team_id=job.team_id) if job.team_id else {}
    self_rep = None if job.team_id else selectors.rep_for_user(user=job.created_by)
    write = not job.dry_run
    now = timezone.now()

    def new_ingest(*, classify: bool) -> Ingest:
        return Ingest(
            source=Source.CSV,
            reps=reps,
            self_rep=self_rep,
            # The rows a team's import brings are that team's; a rep's own import, the rep's.
            team_id=job.team_id,
            default_tz=options.get("timezone", ""),
            default_currency=options.get("currency", ""),
            write=write and classify,
            classify=classify,
            now=now,
        )

    rows_total: int | None = None
    ingest = new_ingest(classify=False)
    try:
        if job.mode == ImportMode.ALL_OR_NOTHING and write:
            rows_total = _pass(binary, spec, options, owner_required, ingest, progress, "checking")
            if ingest.counts["rejected"]:
                detail = (
                    f"{ingest.counts['rejected']} of {rows_total} rows are invalid; nothing was "
                    "imported. Fix them, or import with mode valid_rows_only."
                )
                return _outcome(ingest, rows_total, failed=True, detail=detail)
        elif progress is not None:
            rows_total = _count(binary, spec, options, owner_required)
            progress("counting", 0, rows_total)
        ingest = new_ingest(classify=True)
        phase = "writing" if write else "checking"
        # All or nothing means nothing stays if the write pass fails after its first chunk (a
        # value the check pass let through and PostgreSQL refuses): one transaction. Its
        # progress is then seen when it commits.
        with (
            transaction.atomic()
            if job.mode == ImportMode.ALL_OR_NOTHING and write
            else contextlib.nullcontext()
        ):
            rows_total = _pass(binary, spec, options, owner_required, ingest, progress, phase)
    except FileRejected as exc:
        return _outcome(ingest, rows_total or ingest.rows_seen, failed=True, detail=exc.reason)
    detail = ""
    if job.dry_run and job.mode == ImportMode.ALL_OR_NOTHING and ingest.counts["rejected"]:
        detail = (
            f"{ingest.counts['rejected']} rows are invalid: in all_or_nothing mode nothing "
            "would be imported."
        )
    return _outcome(ingest, rows_total, failed=False, detail=detail)


def _outcome(ingest: Ingest, rows_total: int, *, failed: bool, detail: str) -> ImportOutcome:
    counts = {
        name: ingest.counts.get(name, 0)
        for name in ("created", "updated", "unchanged", "rejected", "skipped")
    }
    if "valid" in ingest.counts:
        counts["valid"] = ingest.counts["valid"]
    return ImportOutcome(
        counts=counts,
        report=ingest.report,
        report_truncated=ingest.report_truncated,
        unknown_reps=ingest.unknown_reps,
        touched=ingest.touched,
        rows_total=rows_total,
        failed=failed,
        detail=detail,
    )


def _open_pass(
    binary: IO[bytes], spec: Any, options: dict[str, Any], owner_required: bool
) -> tuple[io.TextIOWrapper, Header]:
    binary.seek(0)
    text = open_text(binary)
    try:
        header = read_header(
            text, spec, options.get("column_map", {}), owner_required=owner_required
        )
    except BaseException:
        text.detach()
        raise
    return text, header


def _count(binary: IO[bytes], spec: Any, options: dict[str, Any], owner_required: bool) -> int:
    text, header = _open_pass(binary, spec, options, owner_required)
    try:
        return count_rows(text, header)
    finally:
        text.detach()


def _pass(
    binary: IO[bytes],
    spec: Any,
    options: dict[str, Any],
    owner_required: bool,
    ingest: Ingest,
    progress: Progress | None,
    phase: str,
) -> int:
    text, header = _open_pass(binary, spec, options, owner_required)
    ingest.label = lambda canonical: column_label(header, canonical)
    rows = 0
    try:
        for row_number, cells in iter_rows(text, header):
            rows += 1
            try:
                activity = parse_row(spec, header, cells)
            except RowRejected as exc:
                ingest.reject(row_number, exc.column, exc.reason)
            else:
                if activity is None or not activity.is_call_row:
                    ingest.skip()
                else:
                    ingest.add(row_number, activity)
            if rows % CHUNK_ROWS == 0:
                ingest.flush()
                if progress is not None:
                    progress(phase, rows, None)
        ingest.flush()
    finally:
        text.detach()
    if progress is not None:
        progress(phase, rows, rows)
    return rows


def _finish(job: ImportJob, outcome: ImportOutcome) -> None:
    job.status = ImportStatus.FAILED if outcome.failed else ImportStatus.DONE
    job.phase = ""
    job.rows_total = outcome.rows_total
    job.rows_done = outcome.rows_total if not outcome.failed else job.rows_done
    job.counts = outcome.counts
    job.report = outcome.report
    job.report_truncated = outcome.report_truncated
    job.unknown_reps = outcome.unknown_reps
    job.detail = outcome.detail[:500]
    job.finished_at = timezone.now()


def _after_import(outcome: ImportOutcome) -> None:
    days_mark_stale_many(outcome.touched)


def import_job_run(*, job_id: uuid.UUID) -> None:
    """Run a queued import (Celery). Idempotent: a finished job is left alone, a job another
    worker is running is skipped, and re-running a half-done job upserts the same rows."""
    job = _import_job_claim(job_id)
    if job is None:
        return
    path = Path(settings.MEDIA_ROOT) / job.file_path
    if not job.file_path or not path.exists():
        job.status = ImportStatus.FAILED
        job.detail = "The uploaded file is no longer there; upload it again."
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "detail", "finished_at", "updated_at"])
        return

    def progress(phase: str, rows_done: int, rows_total: int | None) -> None:
        update: dict[str, Any] = {
            "phase": phase,
            "rows_done": rows_done,
            "updated_at": timezone.now(),
        }
        if rows_total is not None:
            update["rows_total"] = rows_total
        ImportJob.objects.filter(pk=job.pk).update(**update)

    try:
        with path.open("rb") as binary:
            outcome = _execute(job, binary, progress=progress)
    except (OperationalError, InterfaceError):
        raise  # transient: Celery retries, the sweeper re-dispatches a stalled job
    except Exception:
        logger.exception("import %s stopped by an unexpected error", job.pk)
        job.status = ImportStatus.FAILED
        job.detail = (
            "An internal error stopped the import; nothing was imported."
            if job.mode == ImportMode.ALL_OR_NOTHING
            else "An internal error stopped the import; rows already written stay."
        )
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "detail", "finished_at", "updated_at"])
        raise
    _finish(job, outcome)
    job.file_path = ""
    job.save()
    path.unlink(missing_ok=True)
    _after_import(outcome)


def _import_job_claim(job_id: uuid.UUID) -> ImportJob | None:
    now = timezone.now()
    with transaction.atomic():
        job = (
            ImportJob.objects.select_for_update()
            .select_related("created_by")
            .filter(pk=job_id)
            .first()
        )
        if job is None or job.status in (ImportStatus.DONE, ImportStatus.FAILED):
            return None
        if job.status == ImportStatus.RUNNING and job.updated_at > now - IMPORT_RUNNING_STALE:
            return None
        job.status = ImportStatus.RUNNING
        job.started_at = now
        job.rows_done = 0
        job.phase = ""
        job.save(update_fields=["status", "started_at", "rows_done", "phase", "updated_at"])
    return job


# --- CRM connections and webhooks ------------------------------------------------------------


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def crm_connection_create(*, team: Any, name: str) -> tuple[CrmConnection, str]:
    """A new connection; the secret is returned once and stored encrypted."""
    secret = _new_secret()
    connection = CrmConnection.objects.create(team=team, name=name, secret=secret)
    return connection, secret


def crm_connection_rotate(
    *, connection: CrmConnection, keep_previous_minutes: int = 0
) -> tuple[CrmConnection, str]:
    """A new secret at once; the old one stays valid for ``keep_previous_minutes`` (0: none)."""
    now = timezone.now()
    secret = _new_secret()
    if keep_previous_minutes > 0:
        connection.previous_secret = connection.secret
        connection.previous_secret_expires_at = now + dt.timedelta(minutes=keep_previous_minutes)
    else:
        connection.previous_secret = ""
        connection.previous_secret_expires_at = None
    connection.secret = secret
    connection.secret_rotated_at = now
    connection.secret_version = F("secret_version") + 1
    connection.save(
        update_fields=[
            "secret",
            "previous_secret",
            "previous_secret_expires_at",
            "secret_rotated_at",
            "secret_version",
            "updated_at",
        ]
    )
    connection.refresh_from_db(fields=["secret_version"])
    _SECRETS_CACHE.pop(connection.pk, None)
    return connection, secret


def crm_connection_delete(*, connection: CrmConnection) -> None:
    _SECRETS_CACHE.pop(connection.pk, None)
    connection.delete()


def webhook_signature(secret: str, timestamp: str, raw_body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``f"{timestamp}.{raw_body}"`` (what a CRM sends)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + raw_body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def _unauthorized(message: str, code: str) -> ApplicationError:
    return ApplicationError(message, status_code=401, code=code)


@dataclass(frozen=True)
class WebhookReceipt:
    id: uuid.UUID
    event_id: str
    status: str = WebhookEventStatus.PENDING


def webhook_receive(
    *,
    connection_id: uuid.UUID,
    raw_body: bytes,
    timestamp: str | None,
    signature: str | None,
) -> WebhookReceipt:
    """Verify, record and enqueue one delivery. Nothing is written unless all checks pass.

    This is the hot path of the CRM integration (target: at least 60 % of the throughput of
    an authenticated no-op). The secrets come from a short-lived per-process cache, and the
    event is recorded by one statement that inserts only while the connection still exists
    with the same secret version; when it does not, the secrets are read afresh and checked
    again, so a rotation or a deletion takes effect at once in every process.
    """
    now = timezone.now()
    cached = _secrets_cached(connection_id, now)
    # ASCII digits, at most 12 (unix seconds until the year 33658): str.isdigit() also takes
    # "²", which int() refuses, and 400 nines overflow the comparison below.
    stamp = (timestamp or "").strip()
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise _unauthorized(
            "The X-Energytrack-Timestamp header (unix seconds) is missing.", "webhook-timestamp"
        )
    if abs(now.timestamp() - int(stamp)) > WEBHOOK_TOLERANCE_SECONDS:
        raise _unauthorized(
            "The timestamp is more than 5 minutes away from our clock; the delivery is refused.",
            "webhook-timestamp",
        )
    timestamp = stamp
    given = (signature or "").strip()
    if not given.isascii():
        # compare_digest refuses non-ASCII str; no signature we make has any.
        given = ""
    if not _signed_by(cached, timestamp, raw_body, given, now):
        # The cache may predate a rotation: decide with the stored secrets.
        cached = _secrets_fresh(connection_id)
        if not _signed_by(cached, timestamp, raw_body, given, now):
            raise _unauthorized(
                "The X-Energytrack-Signature header does not match the body.", "webhook-signature"
            )
    event_id, activities = _webhook_body(raw_body)
    event_pk = _webhook_event_insert(
        connection_id=connection_id,
        version=cached.version,
        event_id=event_id,
        activities=activities,
        now=now,
    )
    if event_pk is None:
        fresh = _secrets_fresh(connection_id)
        if fresh.version != cached.version:
            if not _signed_by(fresh, timestamp, raw_body, given, now):
                raise _unauthorized(
                    "The X-Energytrack-Signature header does not match the body.",
                    "webhook-signature",
                )
            event_pk = _webhook_event_insert(
                connection_id=connection_id,
                version=fresh.version,
                event_id=event_id,
                activities=activities,
                now=now,
            )
    if event_pk is None:
        raise ApplicationError(
            "This event id was already received; it is not processed again.",
            status_code=409,
            code="webhook-replay",
            errors={"event_id": ["Already received."]},
        )
    _request_drain(connection_id)
    return WebhookReceipt(id=event_pk, event_id=event_id)


# connection id -> (secrets, when read). Per process; every use is re-checked by the insert.
_SECRETS_CACHE: dict[uuid.UUID, tuple[selectors.WebhookSecrets, dt.datetime]] = {}
SECRETS_CACHE_TTL = dt.timedelta(seconds=60)
SECRETS_CACHE_MAX = 1000


def _no_connection() -> ApplicationError:
    return ApplicationError(
        "There is no CRM connection at this address.", status_code=404, code="not-found"
    )


def _secrets_fresh(connection_id: uuid.UUID) -> selectors.WebhookSecrets:
    found = selectors.crm_connection_secrets(connection_id=connection_id)
    if found is None:
        _SECRETS_CACHE.pop(connection_id, None)
        raise _no_connection()
    if len(_SECRETS_CACHE) >= SECRETS_CACHE_MAX:
        _SECRETS_CACHE.clear()
    _SECRETS_CACHE[connection_id] = (found, timezone.now())
    return found


def _secrets_cached(connection_id: uuid.UUID, now: dt.datetime) -> selectors.WebhookSecrets:
    entry = _SECRETS_CACHE.get(connection_id)
    if entry is not None and now - entry[1] < SECRETS_CACHE_TTL:
        return entry[0]
    return _secrets_fresh(connection_id)


def _signed_by(
    found: selectors.WebhookSecrets, timestamp: str, raw_body: bytes, given: str, now: dt.datetime
) -> bool:
    candidates = [found.secret]
    expires = found.previous_secret_expires_at
    if found.previous_secret and expires is not None and expires > now:
        candidates.append(found.previous_secret)
    return any(
        hmac.compare_digest(webhook_signature(secret, timestamp, raw_body), given)
        for secret in candidates
    )


def _webhook_body(raw_body: bytes) -> tuple[str, list[Any]]:
    try:
        body = loads_storable(raw_body)
    except (ValueError, UnicodeDecodeError) as exc:
        # ValueError also for what PostgreSQL cannot store (NaN, NUL, a lone surrogate).
        raise ApplicationError(
            "The body is not valid JSON.", errors={"body": [f"Send a JSON object. {exc}"[:300]]}
        ) from None
    errors: dict[str, list[str]] = {}
    event_id = body.get("event_id") if isinstance(body, dict) else None
    activities = body.get("activities") if isinstance(body, dict) else None
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= 200:
        errors["event_id"] = ["A string of 1 to 200 characters is required."]
    if not isinstance(activities, list) or len(activities) > WEBHOOK_MAX_ACTIVITIES:
        errors["activities"] = [f"A list of at most {WEBHOOK_MAX_ACTIVITIES} activities."]
    if errors or not isinstance(event_id, str) or not isinstance(activities, list):
        raise ApplicationError("The webhook body is invalid.", errors=errors)
    return event_id, activities


def _webhook_event_insert(
    *,
    connection_id: uuid.UUID,
    version: int,
    event_id: str,
    activities: list[Any],
    now: dt.datetime,
) -> uuid.UUID | None:
    """One statement: INSERT ... SELECT from the connection row (only if it exists with this
    secret version) ... ON CONFLICT DO NOTHING RETURNING id. None when nothing was inserted:
    a replayed event id (the unique constraint decides, also between concurrent requests), or
    a connection rotated or deleted since its secrets were read."""
    event_pk = uuid.uuid4()
    events = WebhookEvent._meta
    connections = CrmConnection._meta
    quote = db_connection.ops.quote_name
    json_param = "CAST(%s AS jsonb)" if db_connection.vendor == "postgresql" else "%s"
    sql = (
        f"INSERT INTO {quote(events.db_table)} "  # noqa: S608 - names from model meta
        "(id, connection_id, event_id, status, payload, result, received_at) "
        f"SELECT %s, id, %s, %s, {json_param}, {json_param}, %s "
        f"FROM {quote(connections.db_table)} "
        "WHERE id = %s AND secret_version = %s "
        "ON CONFLICT (connection_id, event_id) DO NOTHING RETURNING id"
    )
    params = [
        events.pk.get_db_prep_value(event_pk, db_connection),
        event_id,
        WebhookEventStatus.PENDING,
        json.dumps(activities),
        "{}",
        WebhookEvent._meta.get_field("received_at").get_db_prep_value(now, db_connection),
        connections.pk.get_db_prep_value(connection_id, db_connection),
        version,
    ]
    with db_connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return event_pk if row is not None else None


def _drain_flag(connection_id: uuid.UUID) -> str:
    return f"performance:webhook-drain:{connection_id}"


def _request_drain(connection_id: uuid.UUID) -> None:
    """Queue a drain of the connection's pending events unless one is already queued.

    One cache round trip instead of a broker publish for most deliveries under load, and the
    worker handles a burst in one task. The flag expires, and the sweeper re-queues anything
    left pending, so a lost message delays processing but never loses an event.
    """
    try:
        first = cache.add(
            _drain_flag(connection_id),
            1,
            timeout=settings.WEBHOOK_DRAIN_DELAY_SECONDS + WEBHOOK_DRAIN_FLAG_SECONDS,
        )
    except Exception as exc:  # the cache being down must not fail an accepted delivery
        logger.warning("webhook drain flag unavailable (%s); queueing anyway", type(exc).__name__)
        first = True
    if first:
        # Outside a transaction this sends at once; a dead broker is logged, not raised.
        enqueue_on_commit(
            "apps.performance.tasks.webhook_events_drain",
            str(connection_id),
            ignore_result=True,
            countdown=settings.WEBHOOK_DRAIN_DELAY_SECONDS,
        )


def webhook_events_drain(*, connection_id: uuid.UUID) -> int:
    """Process the pending events of one connection, oldest first (Celery). Idempotent.

    The flag is cleared first: a delivery recorded after that point queues a new drain, one
    recorded before is committed and found below. Events are processed in batches, one
    transaction each (the day call figures are rebuilt once per batch, not once per event);
    concurrent drains of one connection take turns, a batch at a time. Bounded per task; a
    longer backlog continues in a fresh task.
    """
    try:
        cache.delete(_drain_flag(connection_id))
    except Exception as exc:  # without the flag every delivery queues a drain: still correct
        logger.warning("webhook drain flag unavailable (%s)", type(exc).__name__)
    processed = 0
    backlog = True
    while processed < WEBHOOK_DRAIN_MAX_EVENTS:
        done = _webhook_events_batch(connection_id=connection_id)
        processed += done
        if done < WEBHOOK_DRAIN_BATCH:
            # Nothing more was pending when the batch was read: a delivery recorded since then
            # found the flag cleared and queued its own drain.
            backlog = False
            break
    if processed:
        CrmConnection.objects.filter(pk=connection_id).update(last_event_at=timezone.now())
    if backlog:
        send_task_safely(
            "apps.performance.tasks.webhook_events_drain", str(connection_id), ignore_result=True
        )
    return processed


def _webhook_events_batch(*, connection_id: uuid.UUID) -> int:
    """Upsert the activities of up to WEBHOOK_DRAIN_BATCH pending events in one transaction."""
    now = timezone.now()
    with transaction.atomic():
        # Two drains of one connection at once are normal (a backlog's next task beside a new
        # delivery's drain, or the sweeper's): skipping each other's locked events, the second
        # processed newer deliveries before the first committed older ones, and the older
        # values won. They take turns, a batch at a time.
        hold_until_commit(f"webhook-drain:{connection_id}")
        events = list(
            WebhookEvent.objects.select_for_update(skip_locked=True)
            .filter(connection_id=connection_id, status=WebhookEventStatus.PENDING)
            .order_by("received_at", "pk")[:WEBHOOK_DRAIN_BATCH]
        )
        if not events:
            return 0
        parsed: list[list[tuple[int, Activity | RowRejected]]] = []
        for event in events:
            items: list[tuple[int, Activity | RowRejected]] = []
            for index, item in enumerate(event.payload or []):
                try:
                    items.append((index, parse_webhook_activity(item)))
                except RowRejected as exc:
                    items.append((index, exc))
                except Exception:
                    # A parser bug on one hostile activity must not fail the batch: it would
                    # be retried forever at the head of the queue and hold back every later
                    # delivery of the connection. That activity is refused and logged.
                    logger.exception("webhook activity %s of event %s unreadable", index, event.pk)
                    items.append((index, RowRejected("", "This activity could not be read.")))
            parsed.append(items)
        team_id = selectors.crm_connection_team_id(connection_id=connection_id)
        # Only the reps the batch names: a delivery mentions a few of a team's reps.
        emails = {a.owner_email for items in parsed for _, a in items if isinstance(a, Activity)}
        reps = selectors.team_rep_directory(team_id=team_id, emails=emails) if team_id else {}
        ingests = []
        for items in parsed:
            ingest = Ingest(
                source=Source.WEBHOOK,
                reps=reps,
                team_id=team_id,
                rebuild_call_stats=False,
                now=now,
            )
            for index, outcome in items:
                if isinstance(outcome, RowRejected):
                    ingest.reject(index, outcome.column, outcome.reason)
                else:
                    ingest.add(index, outcome)
            ingests.append(ingest)
        # One read and one upsert per kind for the whole batch, in delivery order.
        flush_together(ingests)
        call_days: set[tuple[uuid.UUID, dt.date]] = set()
        touched: dict[uuid.UUID, set[dt.date]] = {}
        for ingest in ingests:
            call_days |= ingest.call_days
            for user_id, days in ingest.touched.items():
                touched.setdefault(user_id, set()).update(days)
        call_stats_rebuild(source=Source.WEBHOOK, days=call_days, now=now)
        _webhook_events_processed(
            [
                (
                    event.pk,
                    {
                        "counts": dict(ingest.counts),
                        "errors": ingest.report[:WEBHOOK_ERRORS_KEPT],
                        "unknown_reps": ingest.unknown_reps,
                    },
                )
                for event, ingest in zip(events, ingests, strict=True)
            ],
            now,
        )
        # One statement for every rep the batch touched.
        days_mark_stale_many(touched)
    return len(events)


def _webhook_events_processed(
    results: list[tuple[uuid.UUID, dict[str, Any]]], now: dt.datetime
) -> None:
    """Mark a batch's events processed with their outcomes; the payload is emptied (data
    minimisation: only the outcome is kept once the activities are stored)."""
    if db_connection.vendor != "postgresql":
        WebhookEvent.objects.bulk_update(
            [
                WebhookEvent(
                    pk=pk,
                    status=WebhookEventStatus.PROCESSED,
                    result=result,
                    payload=[],
                    processed_at=now,
                )
                for pk, result in results
            ],
            ["status", "result", "payload", "processed_at"],
        )
        return
    # One statement with an array per column: bulk_update's CASE per row cost more CPU than
    # everything else the drain does.
    table = db_connection.ops.quote_name(WebhookEvent._meta.db_table)
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS e SET status = %s, result = d.result::jsonb, "  # noqa: S608
            "payload = '[]'::jsonb, processed_at = %s "
            "FROM unnest(%s::uuid[], %s::text[]) AS d(id, result) WHERE e.id = d.id",
            [
                WebhookEventStatus.PROCESSED,
                now,
                [pk for pk, _ in results],
                [json.dumps(result) for _, result in results],
            ],
        )


def performance_sweep() -> dict[str, int]:
    """Re-dispatch what a lost broker message left behind, and forget old deliveries
    (periodic; harmless when there is nothing to do)."""
    now = timezone.now()
    connections = selectors.webhook_connections_with_stale_events(
        older_than=now - WEBHOOK_PENDING_STALE, limit=500
    )
    for connection_id in connections:
        send_task_safely(
            "apps.performance.tasks.webhook_events_drain", str(connection_id), ignore_result=True
        )
    jobs = selectors.import_jobs_stalled(
        queued_before=now - IMPORT_QUEUED_STALE,
        running_before=now - IMPORT_RUNNING_STALE,
        limit=50,
    )
    for job_pk in jobs:
        send_task_safely("apps.performance.tasks.import_job_run", str(job_pk), ignore_result=True)
    # An event id only needs remembering while its timestamp could still be accepted (5
    # minutes); the delivery log is kept a week for support, then deleted.
    old_events = selectors.webhook_events_done_before(
        before=now - WEBHOOK_EVENTS_KEPT, limit=10_000
    )
    WebhookEvent.objects.filter(pk__in=old_events).delete()
    return {"webhook_connections": len(connections), "import_jobs": len(jobs)}


def _after_change(user_id: Any, days: set[dt.date]) -> None:
    """Mark the touched days for recomputation, in the caller's transaction (never lost)."""
    days_mark_stale(user_id=user_id, dates=days)


# --- demo data -------------------------------------------------------------------------------

DEMO_NAMESPACE = uuid.UUID("0b6a3c4e-2f1d-4d7e-8a55-6f0d2c9e7b11")


def seed_demo_performance(*, user: Any, days: int, rng: Any) -> None:
    """Plausible manual sales figures for the demo rep (weekdays). Safe to run again: ids are
    derived from the day, existing rows are left alone."""
    today = local_date(user, timezone.now())
    now = timezone.now()
    min_bant = selectors.rep_thresholds(user_ids=[user.pk]).get(user.pk, DEFAULT_QUALIFIED_MIN_BANT)
    stats: list[DailyCallStats] = []
    meetings: list[Meeting] = []
    for offset in range(days, 0, -1):
        day = today - dt.timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        calls_made = rng.randint(15, 60)
        connected = rng.randint(calls_made // 6, calls_made // 2)
        conversations = rng.randint(0, connected)
        stats.append(
            DailyCallStats(
                id=uuid.uuid5(DEMO_NAMESPACE, f"calls/{user.pk}/{day}"),
                user=user,
                local_date=day,
                source=Source.MANUAL,
                calls_made=calls_made,
                connected=connected,
                conversations=conversations,
                talk_minutes=conversations * rng.randint(3, 9) + connected,
                client_updated_at=now,
            )
        )
        for index in range(rng.choice((0, 1, 1, 2, 3))):
            start = dt.datetime.combine(day, dt.time(9 + 2 * index, 30), tzinfo=dt.UTC)
            status = rng.choice([MeetingStatus.HELD] * 5 + [MeetingStatus.NO_SHOW])
            flags = {
                name: rng.random() < 0.6 for name in ("budget", "authority", "need", "timeline")
            }
            score = bant_score(**flags)
            held = status == MeetingStatus.HELD
            meetings.append(
                Meeting(
                    id=uuid.uuid5(DEMO_NAMESPACE, f"meeting/{user.pk}/{day}/{index}"),
                    user=user,
                    occurred_at=start,
                    tz=user.timezone,
                    local_date=day,
                    status=status,
                    decision_maker_present=held and rng.random() < 0.5,
                    bant_score=score,
                    qualified=is_qualified(status=status, score=score, min_bant=min_bant),
                    deal_value_cents=rng.randint(20, 400) * 10_000 if held else 0,
                    currency="EUR" if held else "",
                    source=Source.MANUAL,
                    client_updated_at=now,
                    **flags,
                )
            )
    with transaction.atomic():
        DailyCallStats.objects.bulk_create(stats, ignore_conflicts=True)
        Meeting.objects.bulk_create(meetings, ignore_conflicts=True)
        _after_change(user.pk, {s.local_date for s in stats})
