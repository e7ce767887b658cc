"""Local-clock arithmetic for delivery: when does a local wall-clock time happen, and when do
quiet hours end. Pure functions on aware datetimes and zoneinfo; no Django, no database.

Wall-clock rules at DST changes:
- a local time that does not exist (spring forward, e.g. 02:30 in Amsterdam on the last
  Sunday of March) happens at the same distance after the gap, i.e. 03:30 summer time;
- a local time that happens twice (fall back) happens once, at its first occurrence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo


def local_instant(day: dt.date, wall_time: dt.time, tz: ZoneInfo) -> dt.datetime:
    """The UTC instant at which ``wall_time`` is shown on a clock in ``tz`` on ``day``.

    ``fold=0`` gives the first of two ambiguous instants, and for a time inside a DST gap it
    uses the offset before the gap, which lands after the gap by the gap's length.
    """
    naive = dt.datetime.combine(day, wall_time.replace(tzinfo=None, fold=0))
    return naive.replace(tzinfo=tz).astimezone(dt.UTC)


def occurrences_in_window(
    *,
    start: dt.datetime,
    end: dt.datetime,
    tz: ZoneInfo,
    wall_time: dt.time,
    weekday: int | None = None,
) -> Iterator[tuple[dt.date, dt.datetime]]:
    """(local calendar day, UTC instant) of each time ``wall_time`` happens in [start, end).

    ``weekday`` (Monday = 0) keeps only that local day of the week.
    """
    first = start.astimezone(tz).date() - dt.timedelta(days=1)
    last = end.astimezone(tz).date() + dt.timedelta(days=1)
    day = first
    while day <= last:
        if weekday is None or day.weekday() == weekday:
            instant = local_instant(day, wall_time, tz)
            if start <= instant < end:
                yield day, instant
        day += dt.timedelta(days=1)


def in_quiet_hours(local_time: dt.time, start: dt.time, end: dt.time) -> bool:
    """Whether a local wall-clock time is inside [start, end); the range may wrap midnight.
    Equal start and end mean no quiet hours."""
    if start == end:
        return False
    if start < end:
        return start <= local_time < end
    return local_time >= start or local_time < end


def quiet_hours_end(
    now: dt.datetime, tz: ZoneInfo, start: dt.time, end: dt.time
) -> dt.datetime | None:
    """If ``now`` is inside the quiet hours, the instant they end; otherwise None."""
    local = now.astimezone(tz)
    wall = local.time().replace(tzinfo=None)
    if not in_quiet_hours(wall, start, end):
        return None
    end_day = local.date()
    if start > end and wall >= start:
        end_day += dt.timedelta(days=1)
    until = local_instant(end_day, end, tz)
    # A DST change inside the quiet hours can put the computed end at or before now.
    return until if until > now else None


def floor_to_hour(instant: dt.datetime) -> dt.datetime:
    return instant.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
