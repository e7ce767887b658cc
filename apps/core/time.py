"""Aware-time helpers. Every journal day is a *local* day of the user (DESIGN.md §4)."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.utils import timezone


class HasLocalClock(Protocol):
    timezone: str
    day_boundary_hour: int


def iso_instant(value: dt.datetime) -> str:
    """An aware instant as the API writes it: ISO 8601, UTC as ``Z`` (as DRF writes them)."""
    return value.isoformat().replace("+00:00", "Z")


@functools.cache
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_valid_timezone(name: str) -> bool:
    return name in _timezones()


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_date(user: HasLocalClock, instant: dt.datetime, *, tz_name: str | None = None) -> dt.date:
    """The user's local day an instant belongs to.

    ``tz_name`` is the zone the user was in at that instant (a travelling rep's phone says so);
    it defaults to the user's home zone. Instants before the day-boundary hour (default 04:00)
    count for the previous day, so a drink at 01:30 belongs to the evening before.
    """
    if timezone.is_naive(instant):
        raise ValueError("local_date needs an aware datetime")
    local = instant.astimezone(zone(tz_name or user.timezone))
    return (local - dt.timedelta(hours=user.day_boundary_hour)).date()


# Kiribati's Line Islands (UTC+14) are the furthest ahead of UTC: nowhere is the date later.
_FURTHEST_AHEAD = dt.timezone(dt.timedelta(hours=14))


def latest_date(instant: dt.datetime) -> dt.date:
    """The latest calendar date anywhere on earth at ``instant``: no entry's local day is
    later, in whichever zone the rep logged it, if ``instant`` is the latest time an entry may
    have (the server's clock plus the tolerance for phones ahead of it)."""
    return instant.astimezone(_FURTHEST_AHEAD).date()


def calendar_date(
    user: HasLocalClock, instant: dt.datetime, *, tz_name: str | None = None
) -> dt.date:
    """The plain calendar date of an instant in the user's zone (no day boundary)."""
    return instant.astimezone(zone(tz_name or user.timezone)).date()


def local_now(user: HasLocalClock) -> dt.datetime:
    return timezone.now().astimezone(zone(user.timezone))
