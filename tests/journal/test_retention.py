"""Entries from before the retention period are refused, not stored and then purged unseen.

The nightly purge (``retention_purge``) deletes every entry that happened before
``retention_cutoff(now)``; a write of one answered "created" would vanish that night.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine

from apps.journal.services import TOGETHER_MAX_ENTRIES
from apps.privacy.selectors import retention_cutoff
from tests.journal.helpers import NOW, assert_problem, batch, item, put, rows, total_rows

pytestmark = pytest.mark.django_db

CHECKIN_URL = "/api/v1/journal/checkin"
CUTOFF = retention_cutoff(NOW)
TOO_OLD = CUTOFF - dt.timedelta(minutes=1)


def _iso(instant: dt.datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def _assert_names_the_retention_period(errors: dict[str, list[str]], field: str) -> None:
    (message,) = errors[field]
    # The earliest minute allowed, and why: not the account's age but the retention period.
    assert message.startswith(f"Must be at or after {CUTOFF.date().isoformat()}T"), message
    assert "retention period (18 months)" in message


def test_the_users_history_limit_is_not_the_binding_one_here(consenting_user):
    # Otherwise these tests would pass on the account-age rule alone.
    assert consenting_user.date_joined - dt.timedelta(days=365) < TOO_OLD


def test_a_put_from_before_the_retention_period_is_a_400_and_stores_nothing(api, consenting_user):
    entry_id = uuid.uuid4()
    body = {"occurred_at": _iso(TOO_OLD), "level": 5}

    first = assert_problem(put(api, "energy", entry_id, body), 400)
    again = assert_problem(put(api, "energy", entry_id, body), 400)

    _assert_names_the_retention_period(first["errors"], "occurred_at")
    assert "retention period" in first["detail"]
    assert again["errors"] == first["errors"]
    assert total_rows() == 0


@pytest.mark.parametrize(
    "recent_entries", [1, TOGETHER_MAX_ENTRIES + 10], ids=["small sync", "large sync"]
)
def test_a_batch_item_from_before_the_retention_period_is_rejected_beside_the_others(
    api, consenting_user, recent_entries
):
    """Both write paths: a sync of new entries is first tried in one statement, which leaves a
    refused item to the general path."""
    too_old = item("sleep", uuid.uuid4(), {"occurred_at": _iso(TOO_OLD), "quality": 3})
    recent = [
        item(
            "energy", uuid.uuid4(), {"occurred_at": _iso(NOW - dt.timedelta(minutes=i)), "level": 5}
        )
        for i in range(recent_entries)
    ]

    response = batch(api, [too_old, *recent])

    assert response.status_code == 200, response.content
    first, *others = response.json()["results"]
    assert (first["result"], first["status"]) == ("rejected", 400)
    assert "entry" not in first
    _assert_names_the_retention_period(first["errors"], "occurred_at")
    assert [r["result"] for r in others] == ["created"] * recent_entries
    assert not rows("sleep").exists()
    assert rows("energy").count() == recent_entries


@pytest.mark.parametrize(
    ("part", "field"),
    [
        ("energy", "occurred_at"),
        ("sleep", "sleep.wake_time"),
        ("drinks", "drinks.occurred_at"),
    ],
)
def test_a_check_in_with_a_part_from_before_the_retention_period_stores_nothing(
    api, consenting_user, part, field
):
    recent = _iso(NOW - dt.timedelta(hours=1))
    old = _iso(TOO_OLD)
    body = {
        "id": str(uuid.uuid4()),
        "occurred_at": old if part == "energy" else recent,
        "level": 6,
        "sleep": {"wake_time": old if part == "sleep" else recent, "quality": 3},
        "drinks": {
            "standard_drinks": "2",
            "occurred_at": old if part == "drinks" else _iso(NOW - dt.timedelta(hours=20)),
        },
    }

    problem = assert_problem(api.post(CHECKIN_URL, body, format="json"), 400)

    # A part's fields are named as the check-in body names them.
    assert set(problem["errors"]) == {field}
    _assert_names_the_retention_period(problem["errors"], field)
    assert total_rows() == 0


def test_an_entry_at_the_retention_cutoff_is_accepted_and_one_just_before_it_is_not(
    api, consenting_user
):
    # A stopped clock: the cutoff moves with the server's clock.
    with time_machine.travel(NOW, tick=False):
        before = {"occurred_at": _iso(CUTOFF - dt.timedelta(seconds=1)), "level": 4}
        at = {"occurred_at": _iso(CUTOFF), "level": 5}

        refused = put(api, "energy", uuid.uuid4(), before)
        accepted = put(api, "energy", uuid.uuid4(), at)

    assert_problem(refused, 400)
    assert accepted.status_code == 201, accepted.content
    assert rows("energy").get().level == 5


def test_the_minute_the_refusal_names_is_accepted(api, consenting_user):
    too_old = {"occurred_at": _iso(TOO_OLD), "level": 5}
    problem = assert_problem(put(api, "energy", uuid.uuid4(), too_old), 400)
    named = problem["errors"]["occurred_at"][0].removeprefix("Must be at or after ").split(". ")[0]

    response = put(api, "energy", uuid.uuid4(), {"occurred_at": named, "level": 5})

    assert response.status_code == 201, response.content
