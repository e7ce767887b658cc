"""Per-day journal aggregates for the insight features (a selector module: reads only).

One query per entry kind for any number of users and days. Values that depend on the local
clock (bedtime, late meals, morning energy) are computed from each entry's own zone.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection

from apps.core.time import zone
from apps.journal.models import (
    ActivityEntry,
    AlcoholEntry,
    EnergyCheckin,
    ExerciseEntry,
    MealEntry,
    SleepEntry,
)

DayKey = tuple[Any, dt.date]
INTENSITY = {"light": 1.0, "moderate": 2.0, "vigorous": 3.0}
EFFECT = {"gave": 1.0, "neutral": 0.0, "drained": -1.0}
LATE_MEAL_HOUR = 21


@functools.lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return zone(name)


def _local(instant: dt.datetime, tz_name: str) -> dt.datetime:
    return instant.astimezone(_zone(tz_name))


def daily_journal_aggregates(
    *, user_ids: list[Any], date_from: dt.date, date_to: dt.date
) -> dict[DayKey, dict[str, float | None]]:
    """``{(user_id, local_date): {feature: value}}`` for days with any journal entry.

    Missing stays missing, with two exceptions a rep would expect: on a day with any entry,
    a rep who logs drinks (or exercise) at all in the window and logged none that day is
    counted as 0, not unknown.
    """
    window = {"user_id__in": user_ids, "local_date__gte": date_from, "local_date__lte": date_to}
    days: dict[DayKey, dict[str, Any]] = defaultdict(dict)
    drinkers: set[Any] = set()
    exercisers: set[Any] = set()

    for uid, day, minutes, quality, bedtime, tz in SleepEntry.objects.filter(**window).values_list(
        "user_id", "local_date", "duration_minutes", "quality", "bedtime", "tz"
    ):
        row = days[(uid, day)]
        if minutes is not None:
            row["sleep_minutes"] = max(row.get("sleep_minutes") or 0.0, float(minutes))
        if quality is not None:
            row.setdefault("_quality", []).append(quality)
        if bedtime is not None:
            local = _local(bedtime, tz)
            minutes_after_midnight = local.hour * 60 + local.minute
            if minutes_after_midnight >= 12 * 60:  # evening: negative minutes before midnight
                minutes_after_midnight -= 24 * 60
            row["bedtime_minutes"] = float(minutes_after_midnight)

    for uid, day, drinks in AlcoholEntry.objects.filter(**window).values_list(
        "user_id", "local_date", "standard_drinks"
    ):
        drinkers.add(uid)
        row = days[(uid, day)]
        row["drinks"] = (row.get("drinks") or 0.0) + float(drinks or 0)

    for uid, day, occurred_at, tz, heaviness in MealEntry.objects.filter(**window).values_list(
        "user_id", "local_date", "occurred_at", "tz", "heaviness"
    ):
        row = days[(uid, day)]
        row["heavy_meals"] = (row.get("heavy_meals") or 0.0) + (
            1.0 if heaviness == "heavy" else 0.0
        )
        local = _local(occurred_at, tz)
        late = local.hour >= LATE_MEAL_HOUR or local.date() > day
        row["late_meal"] = max(row.get("late_meal") or 0.0, 1.0 if late else 0.0)

    for uid, day, minutes, intensity in ExerciseEntry.objects.filter(**window).values_list(
        "user_id", "local_date", "duration_minutes", "intensity"
    ):
        exercisers.add(uid)
        row = days[(uid, day)]
        row["exercise_minutes"] = (row.get("exercise_minutes") or 0.0) + float(minutes or 0)
        if intensity:
            row["exercise_intensity"] = max(
                row.get("exercise_intensity") or 0.0, INTENSITY[intensity]
            )

    for uid, day, effect in ActivityEntry.objects.filter(**window).values_list(
        "user_id", "local_date", "effect"
    ):
        row = days[(uid, day)]
        row["activity_balance"] = (row.get("activity_balance") or 0.0) + EFFECT.get(effect, 0.0)

    for uid, day, occurred_at, tz, level in EnergyCheckin.objects.filter(
        **window, level__isnull=False
    ).values_list("user_id", "local_date", "occurred_at", "tz", "level"):
        row = days[(uid, day)]
        row.setdefault("_energy", []).append(level)
        hour = _local(occurred_at, tz).hour
        if hour < 12:
            row.setdefault("_morning", []).append(level)
        elif hour < 18:
            row.setdefault("_afternoon", []).append(level)

    result: dict[DayKey, dict[str, float | None]] = {}
    for (uid, day), row in days.items():
        out: dict[str, float | None] = {
            key: value for key, value in row.items() if not key.startswith("_")
        }
        for source, target in (
            ("_quality", "sleep_quality"),
            ("_energy", "energy_mean"),
            ("_morning", "energy_morning"),
            ("_afternoon", "energy_afternoon"),
        ):
            if row.get(source):
                out[target] = sum(row[source]) / len(row[source])
        if uid in drinkers:
            out.setdefault("drinks", 0.0)
        if uid in exercisers:
            out.setdefault("exercise_minutes", 0.0)
        result[(uid, day)] = out
    return result


def energy_by_local_hour(
    *, user: Any, date_from: dt.date, date_to: dt.date
) -> list[tuple[int, int, int]]:
    """(local hour, sum of levels, check-ins) per hour of the day, for the by-hour chart.

    The hour is the one on the rep's clock where the check-in was made (its own zone). Grouped
    by PostgreSQL: a year of check-ins is 24 rows instead of a thousand converted in Python.
    """
    if connection.vendor != "postgresql":
        hours: dict[int, list[int]] = {}
        rows = EnergyCheckin.objects.filter(
            user=user, local_date__gte=date_from, local_date__lte=date_to, level__isnull=False
        ).values_list("occurred_at", "tz", "level")
        for occurred_at, tz, level in rows:
            hours.setdefault(_local(occurred_at, tz).hour, []).append(level)
        return [(hour, sum(levels), len(levels)) for hour, levels in sorted(hours.items())]
    with connection.cursor() as cursor:
        cursor.execute(
            _BY_HOUR_SQL.format(table=connection.ops.quote_name(EnergyCheckin._meta.db_table)),
            [user.pk, date_from, date_to],
        )
        return [(int(hour), int(total), int(count)) for hour, total, count in cursor.fetchall()]


# Identifiers from the model; values are parameters. A chart read: SQL text, no queryset.
_BY_HOUR_SQL = (
    "SELECT extract(hour FROM occurred_at AT TIME ZONE tz)::int, sum(level), count(*) "
    "FROM {table} WHERE user_id = %s AND local_date >= %s AND local_date <= %s "
    "AND level IS NOT NULL GROUP BY 1 ORDER BY 1"
)
