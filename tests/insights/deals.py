"""Seeding a rep's deals and nights for the currency tests (real services, Amsterdam time)."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from apps.accounts.models import User
from apps.journal.services import EntryInput, entries_upsert
from apps.performance.services import meeting_upsert

AMS = ZoneInfo("Europe/Amsterdam")


def weekdays_before(day: dt.date, count: int) -> list[dt.date]:
    """The ``count`` weekdays before ``day``, oldest first."""
    days: list[dt.date] = []
    while len(days) < count:
        day -= dt.timedelta(days=1)
        if day.weekday() < 5:
            days.append(day)
    return days[::-1]


def held_meeting(user: User, day: dt.date, cents: int, currency: str, hour: int = 10) -> None:
    """A held meeting worth ``cents`` minor units of ``currency``, typed by the rep."""
    meeting_upsert(
        user=user,
        meeting_id=uuid.uuid4(),
        values={
            "occurred_at": dt.datetime.combine(day, dt.time(hour), tzinfo=AMS),
            "status": "held",
            "deal_value_cents": cents,
            "currency": currency,
        },
    )


def nights(user: User, hours_by_day: dict[dt.date, float]) -> None:
    """One night per day: woke at 07:00 that day after ``hours`` of sleep."""
    items = []
    for day, hours in hours_by_day.items():
        wake = dt.datetime.combine(day, dt.time(7), tzinfo=AMS)
        items.append(
            EntryInput(
                kind="sleep",
                id=uuid.uuid4(),
                values={"occurred_at": wake, "bedtime": wake - dt.timedelta(hours=hours)},
            )
        )
    assert all(o.result == "created" for o in entries_upsert(user=user, items=items))
