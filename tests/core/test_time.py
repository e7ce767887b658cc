"""Local days of a user (DESIGN.md §4): time zone, day boundary, DST, travel."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
import time_machine

from apps.accounts.models import User
from apps.core.time import calendar_date, is_valid_timezone, local_date, local_now

UTC = dt.UTC
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NEW_YORK = ZoneInfo("America/New_York")


@dataclass
class Clock:
    timezone: str = "Europe/Amsterdam"
    day_boundary_hour: int = 4


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def ams(*args: int, fold: int = 0) -> dt.datetime:
    return dt.datetime(*args, tzinfo=AMSTERDAM, fold=fold)  # type: ignore[misc]


# --- the default 04:00 boundary ----------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (ams(2026, 6, 12, 0, 0), dt.date(2026, 6, 11)),
        (ams(2026, 6, 12, 1, 30), dt.date(2026, 6, 11)),  # the late drink: last evening
        (ams(2026, 6, 12, 3, 59, 59), dt.date(2026, 6, 11)),
        (ams(2026, 6, 12, 4, 0), dt.date(2026, 6, 12)),
        (ams(2026, 6, 12, 12, 0), dt.date(2026, 6, 12)),
        (ams(2026, 6, 12, 23, 59, 59), dt.date(2026, 6, 12)),
    ],
)
def test_default_boundary_is_four_in_the_morning(local, expected):
    assert local_date(Clock(), local) == expected
    # The same instant expressed in UTC gives the same answer.
    assert local_date(Clock(), local.astimezone(UTC)) == expected


def test_works_with_a_real_user_and_its_defaults():
    rep = User(email="rep@example.com")
    assert (rep.timezone, rep.day_boundary_hour) == ("Europe/Amsterdam", 4)
    # 23:30 UTC on 11 June is 01:30 on 12 June in Amsterdam (CEST): still the evening of the 11th.
    assert local_date(rep, utc(2026, 6, 11, 23, 30)) == dt.date(2026, 6, 11)
    # 02:30 UTC is 04:30 in Amsterdam: the 12th.
    assert local_date(rep, utc(2026, 6, 12, 2, 30)) == dt.date(2026, 6, 12)


def test_instant_in_any_offset_is_converted_to_the_users_zone():
    tokyo = dt.timezone(dt.timedelta(hours=9))
    # 09:00 in Tokyo on 12 June = 00:00 UTC = 02:00 in Amsterdam: evening of the 11th.
    assert local_date(Clock(), dt.datetime(2026, 6, 12, 9, 0, tzinfo=tokyo)) == dt.date(2026, 6, 11)


def test_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="aware"):
        local_date(Clock(), dt.datetime(2026, 6, 12, 1, 30))


# --- DST in Europe/Amsterdam -------------------------------------------------------------
# 2026-03-29: 02:00 CET jumps to 03:00 CEST. 2026-10-25: 03:00 CEST falls back to 02:00 CET.


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (utc(2026, 3, 28, 23, 30), dt.date(2026, 3, 28)),  # 00:30 CET
        (utc(2026, 3, 29, 0, 59, 59), dt.date(2026, 3, 28)),  # 01:59:59 CET, just before the jump
        (utc(2026, 3, 29, 1, 0), dt.date(2026, 3, 28)),  # 03:00 CEST, right after the jump
        (utc(2026, 3, 29, 1, 59, 59), dt.date(2026, 3, 28)),  # 03:59:59 CEST
        (utc(2026, 3, 29, 2, 0), dt.date(2026, 3, 29)),  # 04:00 CEST: the new day
        (utc(2026, 3, 29, 21, 59), dt.date(2026, 3, 29)),  # 23:59 CEST
    ],
)
def test_spring_forward_day(instant, expected):
    assert local_date(Clock(), instant) == expected


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (utc(2026, 10, 24, 22, 30), dt.date(2026, 10, 24)),  # 00:30 CEST
        (utc(2026, 10, 25, 0, 30), dt.date(2026, 10, 24)),  # 02:30 CEST, first pass
        (utc(2026, 10, 25, 1, 30), dt.date(2026, 10, 24)),  # 02:30 CET, second pass
        (utc(2026, 10, 25, 2, 59, 59), dt.date(2026, 10, 24)),  # 03:59:59 CET
        (utc(2026, 10, 25, 3, 0), dt.date(2026, 10, 25)),  # 04:00 CET: the new day
        (utc(2026, 10, 25, 22, 59), dt.date(2026, 10, 25)),  # 23:59 CET
    ],
)
def test_fall_back_day(instant, expected):
    assert local_date(Clock(), instant) == expected


def test_both_passes_of_the_repeated_hour_are_the_same_day():
    first = ams(2026, 10, 25, 2, 30, fold=0)
    second = ams(2026, 10, 25, 2, 30, fold=1)
    assert second.astimezone(UTC) - first.astimezone(UTC) == dt.timedelta(hours=1)
    assert local_date(Clock(), first) == local_date(Clock(), second) == dt.date(2026, 10, 24)


def test_boundary_inside_the_skipped_hour():
    # With a 02:00 boundary the new day starts right after the jump (03:00 CEST).
    clock = Clock(day_boundary_hour=2)
    assert local_date(clock, utc(2026, 3, 29, 0, 59)) == dt.date(2026, 3, 28)  # 01:59 CET
    assert local_date(clock, utc(2026, 3, 29, 1, 0)) == dt.date(2026, 3, 29)  # 03:00 CEST


# --- travel ------------------------------------------------------------------------------------


def test_flight_amsterdam_to_new_york_uses_the_zone_the_rep_was_in():
    rep = Clock()  # home zone Amsterdam
    # Departs 10:00 CEST on 12 June, lands 12:30 EDT. A drink at 23:00 in New York
    # is 05:00 on 13 June in Amsterdam.
    drink = dt.datetime(2026, 6, 12, 23, 0, tzinfo=NEW_YORK)
    assert local_date(rep, drink, tz_name="America/New_York") == dt.date(2026, 6, 12)
    assert local_date(rep, drink) == dt.date(2026, 6, 13)

    # A drink at 02:00 in New York is still the evening of the 12th there (before 04:00) …
    late = dt.datetime(2026, 6, 13, 2, 0, tzinfo=NEW_YORK)
    assert local_date(rep, late, tz_name="America/New_York") == dt.date(2026, 6, 12)
    # … but 08:00 on the 13th at home.
    assert local_date(rep, late) == dt.date(2026, 6, 13)

    # Before the flight, both zones agree on the day of a morning coffee in Amsterdam.
    coffee = ams(2026, 6, 12, 8, 0)
    assert local_date(rep, coffee, tz_name="Europe/Amsterdam") == local_date(rep, coffee)


# --- other boundaries -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (ams(2026, 6, 12, 0, 0), dt.date(2026, 6, 12)),
        (ams(2026, 6, 12, 0, 30), dt.date(2026, 6, 12)),
        (ams(2026, 6, 11, 23, 59, 59), dt.date(2026, 6, 11)),
    ],
)
def test_boundary_hour_zero_is_the_calendar_day(local, expected):
    clock = Clock(day_boundary_hour=0)
    assert local_date(clock, local) == expected
    assert local_date(clock, local) == calendar_date(clock, local)


def test_boundary_hour_twelve():
    clock = Clock(day_boundary_hour=12)
    assert local_date(clock, ams(2026, 6, 12, 11, 59)) == dt.date(2026, 6, 11)
    assert local_date(clock, ams(2026, 6, 12, 12, 0)) == dt.date(2026, 6, 12)


def test_calendar_date_ignores_the_boundary():
    assert calendar_date(Clock(), ams(2026, 6, 12, 1, 30)) == dt.date(2026, 6, 12)
    assert calendar_date(Clock(), utc(2026, 6, 12, 1, 30), tz_name="America/New_York") == (
        dt.date(2026, 6, 11)
    )


def test_local_now_is_aware_and_in_the_users_zone():
    with time_machine.travel(utc(2026, 1, 15, 23, 30), tick=False):
        now = local_now(Clock(timezone="Europe/Amsterdam"))
    assert now.utcoffset() == dt.timedelta(hours=1)
    assert (now.date(), now.hour, now.minute) == (dt.date(2026, 1, 16), 0, 30)


# --- time zone names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["Europe/Amsterdam", "America/New_York", "Asia/Kolkata", "UTC", "Pacific/Chatham"]
)
def test_real_iana_zones_are_valid(name):
    assert is_valid_timezone(name)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Mars/Olympus_Mons",
        "europe/amsterdam",
        "Europe/Amsterdam ",
        "CET+1",
        "../../etc/passwd",
        "/usr/share/zoneinfo/UTC",
    ],
)
def test_other_names_are_not_valid(name):
    assert not is_valid_timezone(name)
