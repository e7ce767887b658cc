"""The parts of a weekly coaching summary, computed from day-feature rows.

Pure functions on plain rows (no Django import): the service loads the rows, this module
turns one rep's week into plain-language aggregates. Nothing here may return a raw entry,
a single day's value, an alcohol amount or any clock time: only weekly means, counts and
categories, compared with the four weeks before.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

COMPARE_WEEKS = 4
# Fewer logged days than this and a mean or a comparison says nothing.
MIN_DAYS_FOR_DIRECTION = 3
MIN_PREVIOUS_DAYS = 5
MIN_NIGHTS_FOR_REGULARITY = 3
ENERGY_STEP = 0.5  # points on the 1-9 scale
SHARE_STEP = 0.10  # ten percentage points of qualified meetings
MIN_MEETINGS_FOR_DIRECTION = 3
# Standard deviation (minutes) of bedtime or sleep duration over the week.
REGULAR_BELOW_MINUTES = 45
SOMEWHAT_BELOW_MINUTES = 90


@dataclass(frozen=True)
class DayRow:
    local_date: dt.date
    energy_mean: float | None = None
    sleep_minutes: float | None = None
    bedtime_minutes: float | None = None
    meetings_held: float | None = None
    qualified_meetings: float | None = None


def week_days(week_start: dt.date) -> tuple[dt.date, dt.date]:
    return week_start, week_start + dt.timedelta(days=6)


def compare_window(week_start: dt.date) -> tuple[dt.date, dt.date]:
    """The four weeks before the summarised week."""
    return week_start - dt.timedelta(days=7 * COMPARE_WEEKS), week_start - dt.timedelta(days=1)


def _split(rows: list[DayRow], week_start: dt.date) -> tuple[list[DayRow], list[DayRow]]:
    first, last = week_days(week_start)
    before_first, before_last = compare_window(week_start)
    this_week = [r for r in rows if first <= r.local_date <= last]
    before = [r for r in rows if before_first <= r.local_date <= before_last]
    return this_week, before


def _direction(change: float | None, step: float) -> str | None:
    if change is None:
        return None
    if change >= step:
        return "up"
    if change <= -step:
        return "down"
    return "steady"


def _number(value: float, locale: str, digits: int = 1) -> str:
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if locale == "nl" else text


def energy_trend(rows: list[DayRow], week_start: dt.date, locale: str) -> dict[str, Any]:
    this_week, before = _split(rows, week_start)
    now_values = [r.energy_mean for r in this_week if r.energy_mean is not None]
    before_values = [r.energy_mean for r in before if r.energy_mean is not None]
    mean = round(statistics.fmean(now_values), 1) if now_values else None
    previous = round(statistics.fmean(before_values), 1) if before_values else None
    enough = len(now_values) >= MIN_DAYS_FOR_DIRECTION and len(before_values) >= MIN_PREVIOUS_DAYS
    change = mean - previous if enough and mean is not None and previous is not None else None
    section: dict[str, Any] = {
        "mean_energy": mean,
        "days_logged": len(now_values),
        "previous_mean_energy": previous if change is not None else None,
        "trend": _direction(change, ENERGY_STEP),
    }
    section["text"] = _energy_text(section, locale)
    return section


def _energy_text(section: Mapping[str, Any], locale: str) -> str:
    mean, days = section["mean_energy"], section["days_logged"]
    if mean is None:
        return "Deze week geen energie gelogd." if locale == "nl" else "No energy logged this week."
    if locale == "nl":
        text = f"Gemiddelde energie deze week: {_number(mean, locale)} op 1-9 ({days} dagen gelogd)"
        compared = {
            "up": "hoger dan de vier weken ervoor",
            "down": "lager dan de vier weken ervoor",
            "steady": "ongeveer gelijk aan de vier weken ervoor",
        }
    else:
        text = f"Average energy this week: {_number(mean, locale)} on 1-9 ({days} days logged)"
        compared = {
            "up": "higher than the four weeks before",
            "down": "lower than the four weeks before",
            "steady": "about the same as the four weeks before",
        }
    direction = section["trend"]
    if direction is None:
        return text + "."
    previous = _number(section["previous_mean_energy"], locale)
    return f"{text}, {compared[direction]} ({previous})."


def sleep_regularity(rows: list[DayRow], week_start: dt.date, locale: str) -> dict[str, Any]:
    """A category only: the spread of bedtimes or sleep durations, never a time or a length."""
    this_week, _ = _split(rows, week_start)
    durations = [r.sleep_minutes for r in this_week if r.sleep_minutes is not None]
    bedtimes = [r.bedtime_minutes for r in this_week if r.bedtime_minutes is not None]
    spreads = [
        statistics.pstdev(values)
        for values in (durations, bedtimes)
        if len(values) >= MIN_NIGHTS_FOR_REGULARITY
    ]
    if not spreads:
        category = "not_enough_data"
    elif max(spreads) < REGULAR_BELOW_MINUTES:
        category = "regular"
    elif max(spreads) < SOMEWHAT_BELOW_MINUTES:
        category = "somewhat_irregular"
    else:
        category = "irregular"
    nights = len(durations)
    texts = {
        "en": {
            "regular": f"Sleep was regular this week ({nights} nights logged).",
            "somewhat_irregular": f"Sleep varied somewhat this week ({nights} nights logged).",
            "irregular": f"Sleep varied a lot this week ({nights} nights logged).",
            "not_enough_data": "Not enough nights logged to say how regular sleep was.",
        },
        "nl": {
            "regular": f"Slaap was deze week regelmatig ({nights} nachten gelogd).",
            "somewhat_irregular": f"Slaap wisselde deze week wat ({nights} nachten gelogd).",
            "irregular": f"Slaap wisselde deze week sterk ({nights} nachten gelogd).",
            "not_enough_data": "Te weinig nachten gelogd om iets over de regelmaat te zeggen.",
        },
    }
    return {
        "category": category,
        "nights_logged": nights,
        "text": texts["nl" if locale == "nl" else "en"][category],
    }


def _sales_totals(rows: list[DayRow]) -> tuple[int, int]:
    held = sum(round(r.meetings_held) for r in rows if r.meetings_held is not None)
    qualified = sum(round(r.qualified_meetings) for r in rows if r.qualified_meetings is not None)
    return held, qualified


def sales_quality_trend(rows: list[DayRow], week_start: dt.date, locale: str) -> dict[str, Any]:
    this_week, before = _split(rows, week_start)
    held, qualified = _sales_totals(this_week)
    held_before, qualified_before = _sales_totals(before)
    share = round(qualified / held, 2) if held else None
    previous_share = round(qualified_before / held_before, 2) if held_before else None
    change = (
        share - previous_share
        if share is not None and previous_share is not None and held >= MIN_MEETINGS_FOR_DIRECTION
        else None
    )
    section: dict[str, Any] = {
        "meetings_held": held,
        "qualified_meetings": qualified,
        "qualified_share": share,
        "previous_weekly_qualified_meetings": round(qualified_before / COMPARE_WEEKS, 1)
        if held_before
        else None,
        "previous_qualified_share": previous_share,
        "trend": _direction(change, SHARE_STEP),
    }
    section["text"] = _sales_text(section, locale)
    return section


def _sales_text(section: Mapping[str, Any], locale: str) -> str:
    held, qualified, share = (
        section["meetings_held"],
        section["qualified_meetings"],
        section["qualified_share"],
    )
    nl = locale == "nl"
    if not held:
        return "Deze week geen afspraken vastgelegd." if nl else "No meetings recorded this week."
    percent = f"{share * 100:.0f}%"
    if nl:
        text = f"{qualified} van {held} afspraken waren gekwalificeerd ({percent})"
        compared = {
            "up": "een hoger aandeel dan de vier weken ervoor",
            "down": "een lager aandeel dan de vier weken ervoor",
            "steady": "ongeveer hetzelfde aandeel als de vier weken ervoor",
        }
    else:
        text = f"{qualified} of {held} meetings were qualified ({percent})"
        compared = {
            "up": "a higher share than the four weeks before",
            "down": "a lower share than the four weeks before",
            "steady": "about the same share as the four weeks before",
        }
    direction = section["trend"]
    if direction is None:
        return text + "."
    return f"{text}, {compared[direction]} ({section['previous_qualified_share'] * 100:.0f}%)."
