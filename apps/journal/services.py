"""Every write to the journal.

Writes are idempotent upserts keyed by the client's UUID so a phone on a bad connection can
retry anything: the same request twice gives one row and the same answer; an older edit
arriving late loses to a newer one (last write by the phone's clock wins); one bad item in a
batch never blocks the others, and a rejected item leaves no row behind.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.core.errors import ApplicationError
from apps.core.tasks import enqueue_on_commit
from apps.core.time import calendar_date, is_valid_timezone, local_date, zone
from apps.journal.models import ENTRY_MODELS, JournalEntry
from apps.privacy.selectors import consented_categories

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


@dataclass
class EntryInput:
    """One validated entry as the API parsed it (field-level checks already passed)."""

    kind: str
    id: uuid.UUID
    values: dict[str, Any]
    request_hash: str = ""


@dataclass
class UpsertOutcome:
    kind: str | None
    id: uuid.UUID | None
    result: str
    status: int
    entry: JournalEntry | None = None
    detail: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def request_fingerprint(kind: str, entry_id: object, raw: Any) -> str:
    """Stable hash of what the client sent, so an exact retry can replay the first answer."""
    payload = json.dumps([kind, str(entry_id), raw], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _reject(item: EntryInput, exc: ApplicationError) -> UpsertOutcome:
    return UpsertOutcome(
        kind=item.kind,
        id=item.id,
        result="rejected",
        status=exc.status_code,
        detail=exc.message,
        errors=exc.errors,
        extra=exc.extra,
    )


def _prepare(*, user: Any, item: EntryInput, now: dt.datetime) -> dict[str, Any]:
    """Business validation and derived fields; returns the full column values to store."""
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
    earliest = user.date_joined - HISTORY_BEFORE_ACCOUNT
    if occurred_at < earliest:
        raise ApplicationError(
            "The time is too long ago.",
            errors={"occurred_at": [f"Must be on or after {earliest.date().isoformat()}."]},
        )
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
                    errors={"occurred_at": ["Must be after bedtime."]},
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


def entries_upsert(*, user: Any, items: list[EntryInput]) -> list[UpsertOutcome]:
    """Upsert many entries of mixed kinds with a fixed number of queries per kind."""
    now = timezone.now()
    outcomes: list[UpsertOutcome | None] = [None] * len(items)
    consented = consented_categories(user=user)
    prepared: dict[str, dict[uuid.UUID, tuple[int, EntryInput, dict[str, Any]]]] = defaultdict(dict)
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
            prepared[item.kind][item.id] = (index, item, _prepare(user=user, item=item, now=now))
        except ApplicationError as exc:
            outcomes[index] = _reject(item, exc)

    changed_days: set[dt.date] = set()
    with transaction.atomic():
        for kind, by_id in prepared.items():
            if by_id:
                _upsert_kind(user, kind, by_id, outcomes, changed_days)
    if changed_days:
        _after_change(user, changed_days)
    return [outcome for outcome in outcomes if outcome is not None]


def _upsert_kind(
    user: Any,
    kind: str,
    by_id: dict[uuid.UUID, tuple[int, EntryInput, dict[str, Any]]],
    outcomes: list[UpsertOutcome | None],
    changed_days: set[dt.date],
) -> None:
    model = ENTRY_MODELS[kind]
    existing = {
        entry.pk: entry
        for entry in model.objects.select_for_update().filter(pk__in=list(by_id)).order_by("pk")
    }
    to_create: list[JournalEntry] = []
    for entry_id, (_index, item, values) in by_id.items():
        if entry_id not in existing:
            to_create.append(
                model(
                    id=entry_id,
                    user=user,
                    request_hash=item.request_hash,
                    last_result="created",
                    **values,
                )
            )
    if to_create:
        model.objects.bulk_create(to_create, ignore_conflicts=True)
        # A concurrent request may have inserted the same id first: those go the update way.
        inserted = dict(
            model.objects.filter(pk__in=[e.pk for e in to_create]).values_list("pk", "request_hash")
        )
        for entry in to_create:
            index, item, values = by_id[entry.pk]
            if inserted.get(entry.pk) == item.request_hash and entry.pk not in existing:
                entry.created_at = entry.created_at or timezone.now()
                outcomes[index] = UpsertOutcome(
                    kind=kind, id=entry.pk, result="created", status=201, entry=entry
                )
                changed_days.add(values["local_date"])
        raced = [e.pk for e in to_create if outcomes[by_id[e.pk][0]] is None]
        if raced:
            existing.update(
                {e.pk: e for e in model.objects.select_for_update().filter(pk__in=raced)}
            )

    to_update: list[JournalEntry] = []
    for entry_id, entry in existing.items():
        index, item, values = by_id[entry_id]
        if entry.user_id != user.pk:
            outcomes[index] = UpsertOutcome(
                kind=kind,
                id=entry_id,
                result="rejected",
                status=404,
                detail="No such entry of yours.",
            )
            continue
        if item.request_hash and entry.request_hash == item.request_hash:
            # An exact retry: answer what the first request was answered.
            result = entry.last_result
            outcomes[index] = UpsertOutcome(
                kind=kind, id=entry_id, result=result, status=STATUS_FOR_RESULT[result], entry=entry
            )
            continue
        if values["client_updated_at"] < entry.client_updated_at:
            outcomes[index] = UpsertOutcome(
                kind=kind,
                id=entry_id,
                result="stale",
                status=200,
                entry=entry,
                detail="A newer edit of this entry is already stored; it was kept.",
            )
            continue
        if _same(entry, values):
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


def entry_upsert(*, user: Any, item: EntryInput) -> UpsertOutcome:
    outcome = entries_upsert(user=user, items=[item])[0]
    if outcome.result == "rejected":
        raise ApplicationError(
            outcome.detail,
            status_code=outcome.status,
            code="consent-required" if outcome.status == 403 else "invalid",
            errors=outcome.errors,
            extra=outcome.extra,
        )
    return outcome


def entry_delete(*, user: Any, kind: str, entry_id: uuid.UUID) -> None:
    model = ENTRY_MODELS[kind]
    entry = model.objects.filter(user=user, pk=entry_id).first()
    if entry is None:
        raise model.DoesNotExist
    day = entry.local_date
    entry.delete()
    _after_change(user, {day})


def entries_delete_for_category(*, user: Any, category: str) -> int:
    deleted = 0
    for model in ENTRY_MODELS.values():
        if category == model.CATEGORY:
            deleted += model.objects.filter(user=user).delete()[0]
    return deleted


def quick_checkin(
    *, user: Any, data: dict[str, Any], request_hash: str
) -> dict[str, UpsertOutcome]:
    """Energy now, plus optionally last night's sleep and last evening's drinks, atomically.

    Sub-entries without an id get one derived from the check-in id, so a retried check-in
    is still one sleep entry and one drinks entry.
    """
    now = timezone.now()
    occurred_at = data.get("occurred_at") or now
    tz_name = data.get("tz") or user.timezone
    energy_id: uuid.UUID = data["id"]
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
            },
            request_hash=request_hash,
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
            },
            request_hash=request_hash,
        )
    if "drinks" in data:
        drinks = data["drinks"]
        evening = drinks.get("occurred_at") or _last_evening(occurred_at, tz_name)
        items["drinks"] = EntryInput(
            kind="alcohol",
            id=drinks.get("id") or uuid.uuid5(energy_id, "drinks"),
            values={
                "occurred_at": evening,
                "tz": tz_name,
                "standard_drinks": drinks["standard_drinks"],
                "context": drinks.get("context", ""),
            },
            request_hash=request_hash,
        )
    with transaction.atomic():
        outcomes = entries_upsert(user=user, items=list(items.values()))
        by_name = dict(zip(items, outcomes, strict=True))
        rejected = [(name, o) for name, o in by_name.items() if o.result == "rejected"]
        if rejected:
            # All or nothing: a morning check-in is one act for the rep.
            transaction.set_rollback(True)
            name, outcome = rejected[0]
            raise ApplicationError(
                outcome.detail,
                status_code=outcome.status,
                code="consent-required" if outcome.status == 403 else "invalid",
                errors={
                    f"{name}.{key}" if name != "energy" else key: msgs
                    for key, msgs in outcome.errors.items()
                },
                extra=outcome.extra,
            )
    return by_name


def _last_evening(instant: dt.datetime, tz_name: str) -> dt.datetime:
    local = instant.astimezone(zone(tz_name))
    evening = (local - dt.timedelta(days=1)).replace(hour=21, minute=0, second=0, microsecond=0)
    return evening.astimezone(dt.UTC)


def _after_change(user: Any, days: set[dt.date]) -> None:
    """Ask for the day features of the touched days to be recomputed, after commit.

    The broker being down must never fail the write: the nightly job recomputes everything.
    """
    enqueue_on_commit(
        "apps.insights.tasks.day_features_refresh",
        str(user.pk),
        sorted(day.isoformat() for day in days),
    )
