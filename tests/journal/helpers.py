"""Bodies, expected values and small helpers shared by the journal tests.

All times are relative to ``NOW`` (frozen by the autouse ``clock`` fixture in conftest.py), so
"10 minutes in the future" and "a year before the account existed" do not drift.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django.db.models import Model, QuerySet
from rest_framework.test import APIClient

from apps.journal.models import ENTRY_MODELS

# Thursday 26 November 2026, 17:00 in Amsterdam (CET, +01:00).
NOW = dt.datetime(2026, 11, 26, 16, 0, tzinfo=dt.UTC)
AMS = "Europe/Amsterdam"

KINDS = ("sleep", "meal", "exercise", "alcohol", "energy", "activity")
CATEGORY_OF_KIND = {
    "sleep": "sleep",
    "meal": "food",
    "exercise": "exercise",
    "alcohol": "alcohol",
    "energy": "energy",
    "activity": "activities",
}

# One valid PUT body per kind.
VALID: dict[str, dict[str, Any]] = {
    "sleep": {
        "occurred_at": "2026-11-26T07:00:00+01:00",
        "bedtime": "2026-11-25T23:15:00+01:00",
        "quality": 4,
        "note": "Woke up once",
    },
    "meal": {
        "occurred_at": "2026-11-26T12:30:00+01:00",
        "meal_type": "lunch",
        "heaviness": "heavy",
        "tags": ["fried", "caffeine"],
    },
    "exercise": {
        "occurred_at": "2026-11-26T07:30:00+01:00",
        "exercise_type": "run",
        "duration_minutes": 30,
        "intensity": "moderate",
    },
    "alcohol": {
        "occurred_at": "2026-11-25T21:30:00+01:00",
        "standard_drinks": "2.5",
        "context": "dinner",
    },
    "energy": {"occurred_at": "2026-11-26T14:00:00+01:00", "level": 4, "focus": 3, "mood": 4},
    "activity": {
        "occurred_at": "2026-11-25T19:00:00+01:00",
        "what": "choir",
        "duration_minutes": 90,
        "effect": "gave",
    },
}

# What the API answers for VALID (subset of the entry).
EXPECTED_OUT: dict[str, dict[str, Any]] = {
    "sleep": {
        "occurred_at": "2026-11-26T06:00:00Z",
        "bedtime": "2026-11-25T22:15:00Z",
        "duration_minutes": 465,
        "quality": 4,
        "note": "Woke up once",
        "local_date": "2026-11-26",
        "tz": AMS,
    },
    "meal": {
        "occurred_at": "2026-11-26T11:30:00Z",
        "meal_type": "lunch",
        "heaviness": "heavy",
        "tags": ["fried", "caffeine"],
        "note": "",
        "local_date": "2026-11-26",
        "tz": AMS,
    },
    "exercise": {
        "occurred_at": "2026-11-26T06:30:00Z",
        "exercise_type": "run",
        "duration_minutes": 30,
        "intensity": "moderate",
        "local_date": "2026-11-26",
    },
    "alcohol": {
        "occurred_at": "2026-11-25T20:30:00Z",
        "standard_drinks": "2.5",
        "context": "dinner",
        "local_date": "2026-11-25",
    },
    "energy": {
        "occurred_at": "2026-11-26T13:00:00Z",
        "level": 4,
        "focus": 3,
        "mood": 4,
        "local_date": "2026-11-26",
    },
    "activity": {
        "occurred_at": "2026-11-25T18:00:00Z",
        "what": "choir",
        "duration_minutes": 90,
        "effect": "gave",
        "local_date": "2026-11-25",
    },
}

# The same stored values as Python objects on the model row.
EXPECTED_ROW: dict[str, dict[str, Any]] = {
    "sleep": {
        "occurred_at": dt.datetime(2026, 11, 26, 6, 0, tzinfo=dt.UTC),
        "bedtime": dt.datetime(2026, 11, 25, 22, 15, tzinfo=dt.UTC),
        "duration_minutes": 465,
        "quality": 4,
        "note": "Woke up once",
        "local_date": dt.date(2026, 11, 26),
    },
    "meal": {"meal_type": "lunch", "heaviness": "heavy", "tags": ["fried", "caffeine"]},
    "exercise": {"exercise_type": "run", "duration_minutes": 30, "intensity": "moderate"},
    "alcohol": {
        "standard_drinks": Decimal("2.5"),
        "context": "dinner",
        "local_date": dt.date(2026, 11, 25),
    },
    "energy": {"level": 4, "focus": 3, "mood": 4, "local_date": dt.date(2026, 11, 26)},
    "activity": {"what": "choir", "duration_minutes": 90, "effect": "gave"},
}

# One edit per kind: (field, new value in the body, new value on the row).
CHANGE: dict[str, tuple[str, Any, Any]] = {
    "sleep": ("quality", 2, 2),
    "meal": ("heaviness", "light", "light"),
    "exercise": ("duration_minutes", 45, 45),
    "alcohol": ("standard_drinks", "3.0", Decimal("3.0")),
    "energy": ("level", 6, 6),
    "activity": ("effect", "drained", "drained"),
}

PROBLEM_KEYS = {"type", "title", "status", "detail", "errors"}


def changed(kind: str, **extra: Any) -> dict[str, Any]:
    name, value, _ = CHANGE[kind]
    return {**VALID[kind], name: value, **extra}


def entry_url(kind: str, entry_id: uuid.UUID | str | None = None) -> str:
    if entry_id is None:
        return f"/api/v1/journal/{kind}"
    return f"/api/v1/journal/{kind}/{entry_id}"


def put(client: APIClient, kind: str, entry_id: uuid.UUID | str, body: Any) -> Any:
    return client.put(entry_url(kind, entry_id), body, format="json")


def batch(client: APIClient, items: list[Any]) -> Any:
    return client.post("/api/v1/journal/batch", {"items": items}, format="json")


def item(kind: str, entry_id: uuid.UUID | str, body: dict[str, Any] | None = None) -> dict:
    return {"kind": kind, "id": str(entry_id), **(VALID[kind] if body is None else body)}


def rows(kind: str, user: Any = None) -> QuerySet[Any]:
    queryset = ENTRY_MODELS[kind].objects.all()
    return queryset.filter(user=user) if user is not None else queryset


def total_rows() -> int:
    return sum(ENTRY_MODELS[kind].objects.count() for kind in KINDS)


def row_values(row: Model) -> dict[str, Any]:
    """Every column of a row, to prove a refused request changed nothing."""
    return {f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields}


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert set(body) >= PROBLEM_KEYS, body
    assert body["status"] == status
    assert body["detail"]
    return body


def subset(entry: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    return {name: entry.get(name) for name in expected}
