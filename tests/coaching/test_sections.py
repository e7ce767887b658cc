"""The pure summary maths: weekly means, trend against the four weeks before, and sleep
regularity as a category only."""

from __future__ import annotations

import datetime as dt

import pytest

from apps.coaching.sections import (
    DayRow,
    energy_trend,
    sales_quality_trend,
    sleep_regularity,
)

WEEK = dt.date(2026, 11, 16)


def days(first: dt.date, count: int, **values: float | None) -> list[DayRow]:
    return [DayRow(first + dt.timedelta(days=i), **values) for i in range(count)]  # type: ignore[arg-type]


def before(count: int = 28, **values: float | None) -> list[DayRow]:
    return days(WEEK - dt.timedelta(days=28), count, **values)


@pytest.mark.parametrize(
    ("now", "then", "trend"),
    [(6.0, 5.0, "up"), (4.4, 5.0, "down"), (5.3, 5.0, "steady"), (5.5, 5.0, "up")],
)
def test_energy_trend_direction(now, then, trend):
    section = energy_trend(before(energy_mean=then) + days(WEEK, 5, energy_mean=now), WEEK, "en")
    assert section["trend"] == trend
    assert section["mean_energy"] == now
    assert section["previous_mean_energy"] == then


def test_energy_trend_needs_enough_days_to_compare():
    rows = before(4, energy_mean=5.0) + days(WEEK, 2, energy_mean=8.0)
    section = energy_trend(rows, WEEK, "en")
    assert (section["mean_energy"], section["trend"], section["previous_mean_energy"]) == (
        8.0,
        None,
        None,
    )
    assert section["text"] == "Average energy this week: 8.0 on 1-9 (2 days logged)."


def test_days_outside_the_windows_are_ignored():
    rows = days(WEEK + dt.timedelta(days=7), 7, energy_mean=9.0) + days(WEEK, 3, energy_mean=4.0)
    assert energy_trend(rows, WEEK, "en")["mean_energy"] == 4.0


def test_no_energy_logged():
    section = energy_trend([], WEEK, "nl")
    assert section == {
        "mean_energy": None,
        "days_logged": 0,
        "previous_mean_energy": None,
        "trend": None,
        "text": "Deze week geen energie gelogd.",
    }


@pytest.mark.parametrize(
    ("durations", "bedtimes", "category"),
    [
        ([420, 430, 440, 425], [-60, -50, -55, -45], "regular"),
        ([420, 500, 360, 400], [-60, -50, -55, -45], "somewhat_irregular"),
        ([420, 430, 440, 425], [-120, 90, -90, 120], "irregular"),
        ([420, 430], [-60, -50], "not_enough_data"),
    ],
)
def test_sleep_regularity_is_a_category(durations, bedtimes, category):
    rows = [
        DayRow(WEEK + dt.timedelta(days=i), sleep_minutes=d, bedtime_minutes=b)
        for i, (d, b) in enumerate(zip(durations, bedtimes, strict=True))
    ]
    section = sleep_regularity(rows, WEEK, "en")
    assert section["category"] == category
    assert section["nights_logged"] == len(durations)
    assert set(section) == {"category", "nights_logged", "text"}


def test_sales_quality_share_and_trend():
    rows = before(meetings_held=2, qualified_meetings=1)
    rows += days(WEEK, 5, meetings_held=2, qualified_meetings=0)
    section = sales_quality_trend(rows, WEEK, "en")
    assert section["meetings_held"] == 10
    assert section["qualified_meetings"] == 0
    assert section["qualified_share"] == 0.0
    assert section["previous_qualified_share"] == 0.5
    assert section["previous_weekly_qualified_meetings"] == 7.0
    assert section["trend"] == "down"
    assert section["text"] == (
        "0 of 10 meetings were qualified (0%), a lower share than the four weeks before (50%)."
    )


def test_no_meetings():
    section = sales_quality_trend(days(WEEK, 7, energy_mean=5.0), WEEK, "en")
    assert section["qualified_share"] is None
    assert section["trend"] is None
    assert section["text"] == "No meetings recorded this week."
