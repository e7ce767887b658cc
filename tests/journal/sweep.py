"""Journal objects for the privacy sweep (tests/test_privacy_sweep.py)."""

from __future__ import annotations

import uuid
from typing import Any

from apps.accounts.models import User
from apps.journal.services import EntryInput, entries_upsert
from tests.sweep_types import SweepCase

ENTRY_BODIES: dict[str, dict[str, Any]] = {
    "sleep": {"occurred_at": "2026-11-20T07:00:00+01:00", "quality": 4},
    "meal": {"occurred_at": "2026-11-20T12:30:00+01:00", "meal_type": "lunch"},
    "exercise": {"occurred_at": "2026-11-20T18:00:00+01:00", "duration_minutes": 30},
    "alcohol": {"occurred_at": "2026-11-20T21:00:00+01:00", "standard_drinks": "2.0"},
    "energy": {"occurred_at": "2026-11-20T10:00:00+01:00", "level": 6},
    "activity": {"occurred_at": "2026-11-20T19:00:00+01:00", "what": "choir"},
}


def _entries(owner: User) -> list[SweepCase]:
    from django.utils.dateparse import parse_datetime

    cases = []
    for kind, body in ENTRY_BODIES.items():
        entry_id = uuid.uuid4()
        values = dict(body)
        values["occurred_at"] = parse_datetime(body["occurred_at"])
        outcome = entries_upsert(
            user=owner, items=[EntryInput(kind=kind, id=entry_id, values=values)]
        )[0]
        assert outcome.result == "created", outcome
        cases.append(
            SweepCase(
                params={"kind": kind, "entry_id": str(entry_id)},
                body={**body, "level": 1} if kind == "energy" else dict(body),
                secret_ids=[str(entry_id)],
            )
        )
    return cases


SWEEP = {"/api/v1/journal/{kind}/{entry_id}": _entries}
LIST_PARAMS = {"/api/v1/journal/{kind}": [{"kind": kind} for kind in ENTRY_BODIES]}
