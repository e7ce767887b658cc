"""A phone whose clock is two hours off, ahead or behind (issue 9, faults).

Each request is sent twice through the API, once stamped by a phone with the right time and once
by the skewed phone, with the server's clock at a chosen local time of a rep in Amsterdam. The
skewed phone's request must either file every entry on the same local day as the right phone's,
or be refused with a 400 whose errors name fields the request actually sent, storing nothing.

The requests are what the PWA sends: an energy tap and an offline batch stamped with the phone's
clock, the morning check-in, an edit of a typed time (only the edit stamp comes from the clock).
Like the PWA, every write carries the phone's clock at sending time in ``X-Client-Time``: a clock
behind cannot be told from a timestamp alone (05:30 shown as 03:30 is a plausible time).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from rest_framework.test import APIClient

from apps.journal.models import ENTRY_MODELS

pytestmark = pytest.mark.django_db

AMS = ZoneInfo("Europe/Amsterdam")
SKEWS = {"ahead": dt.timedelta(hours=2), "behind": dt.timedelta(hours=-2)}
# Real local times on Thursday 26 / Friday 27 November 2026; 01:30 still belongs to Thursday
# (day boundary 04:00), 05:30 is just after the boundary.
REAL_TIMES = {
    "thu-09:00": dt.datetime(2026, 11, 26, 9, 0, tzinfo=AMS),
    "thu-13:00": dt.datetime(2026, 11, 26, 13, 0, tzinfo=AMS),
    "thu-17:00": dt.datetime(2026, 11, 26, 17, 0, tzinfo=AMS),
    "thu-22:30": dt.datetime(2026, 11, 26, 22, 30, tzinfo=AMS),
    "fri-01:30": dt.datetime(2026, 11, 27, 1, 30, tzinfo=AMS),
    "fri-05:30": dt.datetime(2026, 11, 27, 5, 30, tzinfo=AMS),
    "fri-07:00": dt.datetime(2026, 11, 27, 7, 0, tzinfo=AMS),
}
MORNINGS = ("fri-05:30", "fri-07:00", "thu-09:00")


CLOCK = "X-Client-Time"


def _clock(phone_now: dt.datetime) -> dict[str, str]:
    return {"HTTP_X_CLIENT_TIME": phone_now.isoformat()}


@dataclass
class Sent:
    response: Any
    # Where each entry should be: name -> (kind, id)
    entries: dict[str, tuple[str, uuid.UUID]]
    # Fields of the request that carried the phone's clock (what a 400 may name)
    clock_fields: set[str]

    def local_dates(self) -> dict[str, str]:
        body = self.response.json()
        if "results" in body:
            return {
                name: result["entry"]["local_date"]
                for name, result in zip(self.entries, body["results"], strict=True)
            }
        if "entry" in body:
            return dict.fromkeys(self.entries, body["entry"]["local_date"])
        return {name: body[name]["entry"]["local_date"] for name in self.entries}

    def stored(self) -> set[str]:
        return {
            name
            for name, (kind, entry_id) in self.entries.items()
            if ENTRY_MODELS[kind].objects.filter(pk=entry_id).exists()
        }


def energy_tap(api: APIClient, phone_now: dt.datetime, real_now: dt.datetime) -> Sent:
    entry_id = uuid.uuid4()
    stamp = phone_now.isoformat()
    body = {"occurred_at": stamp, "client_updated_at": stamp, "tz": "Europe/Amsterdam", "level": 6}
    return Sent(
        api.put(f"/api/v1/journal/energy/{entry_id}", body, format="json", **_clock(phone_now)),
        {"energy": ("energy", entry_id)},
        {"occurred_at", "client_updated_at", CLOCK},
    )


def offline_batch(api: APIClient, phone_now: dt.datetime, real_now: dt.datetime) -> Sent:
    energy_id, meal_id = uuid.uuid4(), uuid.uuid4()
    stamp = phone_now.isoformat()
    items = [
        {"kind": "energy", "id": str(energy_id), "occurred_at": stamp, "level": 4},
        {"kind": "meal", "id": str(meal_id), "occurred_at": stamp, "client_updated_at": stamp},
    ]
    return Sent(
        api.post("/api/v1/journal/batch", {"items": items}, format="json", **_clock(phone_now)),
        {"energy": ("energy", energy_id), "meal": ("meal", meal_id)},
        {"occurred_at", "client_updated_at", CLOCK},
    )


def typed_time_edit(api: APIClient, phone_now: dt.datetime, real_now: dt.datetime) -> Sent:
    """Last evening's drinks at a time the rep typed (right), edit stamp from the phone."""
    entry_id = uuid.uuid4()
    evening = dt.datetime.combine(
        (real_now - dt.timedelta(hours=4)).date() - dt.timedelta(days=1), dt.time(21), tzinfo=AMS
    )
    body = {
        "occurred_at": evening.isoformat(),
        "client_updated_at": phone_now.isoformat(),
        "standard_drinks": "2",
    }
    return Sent(
        api.put(f"/api/v1/journal/alcohol/{entry_id}", body, format="json", **_clock(phone_now)),
        {"alcohol": ("alcohol", entry_id)},
        {"client_updated_at", CLOCK},
    )


def morning_checkin(api: APIClient, phone_now: dt.datetime, real_now: dt.datetime) -> Sent:
    energy_id = uuid.uuid4()
    body = {
        "id": str(energy_id),
        "occurred_at": phone_now.isoformat(),
        "level": 5,
        "sleep": {"wake_time": phone_now.isoformat(), "duration_minutes": 450, "quality": 3},
        "drinks": {"standard_drinks": "1"},
    }
    return Sent(
        api.post("/api/v1/journal/checkin", body, format="json", **_clock(phone_now)),
        {
            "energy": ("energy", energy_id),
            "sleep": ("sleep", uuid.uuid5(energy_id, "sleep")),
            "drinks": ("alcohol", uuid.uuid5(energy_id, "drinks")),
        },
        {"occurred_at", "sleep.wake_time", CLOCK},
    )


def checkin_with_wake_time(api: APIClient, phone_now: dt.datetime, real_now: dt.datetime) -> Sent:
    """The server stamps the check-in itself; only the wake time comes from the phone."""
    energy_id = uuid.uuid4()
    body = {
        "id": str(energy_id),
        "level": 5,
        "sleep": {"wake_time": phone_now.isoformat(), "duration_minutes": 450},
    }
    return Sent(
        api.post("/api/v1/journal/checkin", body, format="json", **_clock(phone_now)),
        {"energy": ("energy", energy_id), "sleep": ("sleep", uuid.uuid5(energy_id, "sleep"))},
        {"sleep.wake_time", CLOCK},
    )


Scenario = Callable[[APIClient, dt.datetime, dt.datetime], Sent]
ALL_DAY: dict[str, Scenario] = {
    "energy-tap": energy_tap,
    "offline-batch": offline_batch,
    "typed-time-edit": typed_time_edit,
}
MORNING: dict[str, Scenario] = {
    "morning-checkin": morning_checkin,
    "checkin-wake-time": checkin_with_wake_time,
}
CASES = [
    pytest.param(skew, when, name, id=f"{skew}-{when}-{name}")
    for skew in SKEWS
    for when in REAL_TIMES
    for name in ALL_DAY | MORNING
    if name in ALL_DAY or when in MORNINGS
]


def _errors_of(sent: Sent) -> dict[str, list[str]]:
    body = sent.response.json()
    if "results" in body:
        rejected = [r for r in body["results"] if r["result"] == "rejected"]
        assert all(r["status"] == 400 for r in rejected), rejected
        return {field: msgs for r in rejected for field, msgs in r["errors"].items()}
    assert sent.response["Content-Type"] == "application/problem+json"
    return dict(body["errors"])


@pytest.mark.parametrize(("skew", "when", "scenario"), CASES)
def test_skewed_phone_files_on_the_right_day_or_is_told_which_field(
    consenting_user: Any, make_client: Callable[[Any], APIClient], skew: str, when: str,
    scenario: str,
) -> None:  # fmt: skip
    send = (ALL_DAY | MORNING)[scenario]
    real_now = REAL_TIMES[when]
    api = make_client(consenting_user)
    with time_machine.travel(real_now, tick=False):
        right = send(api, real_now, real_now)
        skewed = send(api, real_now + SKEWS[skew], real_now)

    assert right.response.status_code in (200, 201), right.response.content
    expected = right.local_dates()
    if skewed.response.status_code in (200, 201) and all(
        r.get("result") != "rejected" for r in skewed.response.json().get("results", [])
    ):
        assert skewed.local_dates() == expected, (
            f"a phone {skew} by 2 h at {when} files on another local day"
        )
        assert skewed.stored() == set(skewed.entries)
        return
    # Refused: a clear 400 naming what the phone sent, and nothing of it stored.
    assert skewed.response.status_code in (200, 400), skewed.response.content
    errors = _errors_of(skewed)
    assert errors, skewed.response.content
    assert set(errors) <= skewed.clock_fields, (
        f"the 400 names {sorted(errors)}; the request sent {sorted(skewed.clock_fields)}"
    )
    assert "clock" in str(skewed.response.json()).lower()
    if skewed.response.status_code == 400:
        assert skewed.stored() == set()
    else:
        rejected = {
            name
            for name, result in zip(skewed.entries, skewed.response.json()["results"], strict=True)
            if result["result"] == "rejected"
        }
        assert skewed.stored() == set(skewed.entries) - rejected
