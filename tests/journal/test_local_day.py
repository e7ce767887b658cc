"""local_date through the API: day boundary, DST change days, and a rep who flies."""

from __future__ import annotations

import uuid

import pytest

from tests.journal.helpers import put

pytestmark = pytest.mark.django_db


def local_date_of(api, kind: str, occurred_at: str, **body) -> str:
    payload = {"occurred_at": occurred_at, **body}
    if kind == "alcohol":
        payload.setdefault("standard_drinks", "1")
    response = put(api, kind, uuid.uuid4(), payload)
    assert response.status_code == 201, response.content
    return response.json()["entry"]["local_date"]


@pytest.mark.parametrize(
    ("occurred_at", "expected"),
    [
        ("2026-11-21T01:30:00+01:00", "2026-11-20"),  # the 01:30 drink: the evening before
        ("2026-11-21T00:00:00+01:00", "2026-11-20"),
        ("2026-11-21T03:59:00+01:00", "2026-11-20"),
        ("2026-11-21T04:00:00+01:00", "2026-11-21"),  # the boundary itself is the new day
        ("2026-11-20T23:30:00+01:00", "2026-11-20"),
        ("2026-11-21T00:30:00Z", "2026-11-20"),  # 01:30 in Amsterdam, sent in UTC
    ],
)
def test_a_late_drink_counts_for_the_evening_before(api, consenting_user, occurred_at, expected):
    assert local_date_of(api, "alcohol", occurred_at) == expected


def test_without_day_boundary_a_0130_drink_is_the_next_day(api, consenting_user):
    consenting_user.day_boundary_hour = 0
    consenting_user.save(update_fields=["day_boundary_hour"])

    assert local_date_of(api, "alcohol", "2026-11-21T01:30:00+01:00") == "2026-11-21"
    assert local_date_of(api, "alcohol", "2026-11-20T23:59:00+01:00") == "2026-11-20"


def test_a_later_day_boundary_is_respected(api, consenting_user):
    consenting_user.day_boundary_hour = 6
    consenting_user.save(update_fields=["day_boundary_hour"])

    assert local_date_of(api, "energy", "2026-11-21T05:30:00+01:00", level=3) == "2026-11-20"
    assert local_date_of(api, "energy", "2026-11-21T06:00:00+01:00", level=3) == "2026-11-21"


@pytest.mark.parametrize(
    ("occurred_at", "expected"),
    [
        # Spring forward, Sunday 29 March 2026: 02:00 CET becomes 03:00 CEST.
        ("2026-03-29T00:30:00Z", "2026-03-28"),  # 01:30 CET
        ("2026-03-29T01:30:00Z", "2026-03-28"),  # 03:30 CEST: still before 04:00
        ("2026-03-29T02:30:00Z", "2026-03-29"),  # 04:30 CEST (03:30 if CET were assumed)
        ("2026-03-29T04:30:00+02:00", "2026-03-29"),
        # Fall back, Sunday 25 October 2026: 03:00 CEST becomes 02:00 CET.
        ("2026-10-25T00:30:00Z", "2026-10-24"),  # 02:30 CEST, first pass
        ("2026-10-25T01:30:00Z", "2026-10-24"),  # 02:30 CET, second pass
        ("2026-10-25T02:30:00Z", "2026-10-24"),  # 03:30 CET (04:30 if CEST were assumed)
        ("2026-10-25T03:00:00Z", "2026-10-25"),  # 04:00 CET
        ("2026-10-25T04:00:00+01:00", "2026-10-25"),
    ],
)
def test_dst_change_days_in_amsterdam(api, consenting_user, occurred_at, expected):
    assert local_date_of(api, "energy", occurred_at, level=5) == expected


@pytest.mark.parametrize(
    ("bedtime", "wake", "minutes", "day"),
    [
        # The short night: 23:00 to 07:00 on the clock is only 7 hours.
        ("2026-03-28T23:00:00+01:00", "2026-03-29T07:00:00+02:00", 420, "2026-03-29"),
        # The long night: 23:00 to 07:00 on the clock is 9 hours.
        ("2026-10-24T23:00:00+02:00", "2026-10-25T07:00:00+01:00", 540, "2026-10-25"),
    ],
)
def test_sleep_across_a_dst_change(api, consenting_user, bedtime, wake, minutes, day):
    response = put(api, "sleep", uuid.uuid4(), {"occurred_at": wake, "bedtime": bedtime})

    entry = response.json()["entry"]
    assert (entry["duration_minutes"], entry["local_date"]) == (minutes, day)


def test_checkin_last_evening_on_dst_days(api, consenting_user):
    """21:00 the evening before is on the wall clock, whatever the offset was then."""
    for morning, evening_utc in [
        ("2026-03-30T08:00:00+02:00", "2026-03-29T19:00:00Z"),  # 21:00 CEST
        ("2026-10-26T08:00:00+01:00", "2026-10-25T20:00:00Z"),  # 21:00 CET
        ("2026-03-29T08:00:00+02:00", "2026-03-28T20:00:00Z"),  # 21:00 CET, the day before
    ]:
        response = api.post(
            "/api/v1/journal/checkin",
            {
                "id": str(uuid.uuid4()),
                "occurred_at": morning,
                "level": 5,
                "drinks": {"standard_drinks": "1"},
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        assert response.json()["drinks"]["entry"]["occurred_at"] == evening_utc


def test_a_rep_flying_to_new_york_keeps_new_york_days(api, consenting_user):
    """Profile zone Amsterdam. In New York the phone sends its zone; the day follows it."""
    # 23:30 in New York on the 25th is 05:30 on the 26th in Amsterdam.
    instant = "2026-11-25T23:30:00-05:00"

    in_new_york = put(
        api, "energy", uuid.uuid4(), {"occurred_at": instant, "level": 3, "tz": "America/New_York"}
    )
    without_tz = put(api, "energy", uuid.uuid4(), {"occurred_at": instant, "level": 3})

    ny, ams = in_new_york.json()["entry"], without_tz.json()["entry"]
    assert (ny["tz"], ny["local_date"]) == ("America/New_York", "2026-11-25")
    assert (ams["tz"], ams["local_date"]) == ("Europe/Amsterdam", "2026-11-26")
    assert ny["occurred_at"] == ams["occurred_at"] == "2026-11-26T04:30:00Z"


def test_a_late_drink_in_new_york_uses_the_new_york_boundary(api, consenting_user):
    # 01:30 in New York is 07:30 in Amsterdam: past the Amsterdam boundary, not the NY one.
    instant = "2026-11-26T01:30:00-05:00"

    assert local_date_of(api, "alcohol", instant, tz="America/New_York") == "2026-11-25"
    assert local_date_of(api, "alcohol", instant) == "2026-11-26"


def test_the_flight_in_the_day_view(api, consenting_user):
    put(api, "energy", uuid.uuid4(), {"occurred_at": "2026-11-24T09:00:00+01:00", "level": 7})
    put(
        api,
        "energy",
        uuid.uuid4(),
        {"occurred_at": "2026-11-25T23:30:00-05:00", "level": 2, "tz": "America/New_York"},
    )

    days = api.get("/api/v1/journal/days?date_from=2026-11-20&date_to=2026-11-26").json()["days"]

    assert [(d["local_date"], [e["level"] for e in d["entries"]["energy"]]) for d in days] == [
        ("2026-11-25", [2]),
        ("2026-11-24", [7]),
    ]


def test_profile_time_zone_is_used_when_the_entry_has_none(api, consenting_user):
    consenting_user.timezone = "Asia/Tokyo"
    consenting_user.save(update_fields=["timezone"])

    # 20:00 UTC is 05:00 the next morning in Tokyo (after the 04:00 boundary).
    entry = put(
        api, "energy", uuid.uuid4(), {"occurred_at": "2026-11-25T20:00:00Z", "level": 5}
    ).json()["entry"]

    assert (entry["tz"], entry["local_date"]) == ("Asia/Tokyo", "2026-11-26")
