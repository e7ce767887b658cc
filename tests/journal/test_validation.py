"""Impossible input is a 400 naming the field and the allowed range, and writes nothing."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from tests.journal.helpers import (
    NOW,
    VALID,
    assert_problem,
    changed,
    entry_url,
    item,
    put,
    row_values,
    rows,
    total_rows,
)

pytestmark = pytest.mark.django_db


def _iso(instant: dt.datetime) -> str:
    return instant.isoformat()


# (kind, body, field with the error, words the message must contain)
BAD_BODIES = [
    pytest.param(
        "sleep",
        {"occurred_at": "2026-11-26T07:00:00+01:00", "bedtime": "2026-11-25T14:59:00+01:00"},
        "bedtime",
        ["16 hours"],
        id="sleep-longer-than-16h",
    ),
    pytest.param(
        "sleep",
        {"occurred_at": "2026-11-26T07:00:00+01:00", "duration_minutes": 961},
        "duration_minutes",
        ["0", "960"],
        id="sleep-duration-over-960-min",
    ),
    pytest.param(
        "sleep",
        {"occurred_at": "2026-11-26T07:00:00+01:00", "duration_minutes": -5},
        "duration_minutes",
        ["0", "960"],
        id="sleep-negative-duration",
    ),
    pytest.param(
        "sleep",
        {"occurred_at": "2026-11-26T07:00:00+01:00", "bedtime": "2026-11-26T07:30:00+01:00"},
        "bedtime",
        ["before", "wake"],
        id="wake-before-bedtime",
    ),
    pytest.param(
        "sleep",
        {"occurred_at": "2026-11-26T07:00:00+01:00", "quality": 6},
        "quality",
        ["1", "5"],
        id="sleep-quality-6",
    ),
    pytest.param(
        "energy",
        {"occurred_at": "2026-11-26T10:00:00+01:00", "level": 0},
        "level",
        ["1", "9"],
        id="energy-0",
    ),
    pytest.param(
        "energy",
        {"occurred_at": "2026-11-26T10:00:00+01:00", "level": 10},
        "level",
        ["1", "9"],
        id="energy-10",
    ),
    pytest.param(
        "energy",
        {"occurred_at": "2026-11-26T10:00:00+01:00", "level": 5, "mood": 0},
        "mood",
        ["1", "5"],
        id="mood-0",
    ),
    pytest.param(
        "alcohol",
        {"occurred_at": "2026-11-25T21:00:00+01:00", "standard_drinks": "-1"},
        "standard_drinks",
        ["0", "30"],
        id="negative-drinks",
    ),
    pytest.param(
        "alcohol",
        {"occurred_at": "2026-11-25T21:00:00+01:00", "standard_drinks": "31"},
        "standard_drinks",
        ["0", "30"],
        id="31-drinks",
    ),
    pytest.param(
        "exercise",
        {"occurred_at": "2026-11-26T07:00:00+01:00", "duration_minutes": 721},
        "duration_minutes",
        ["0", "720"],
        id="exercise-over-12h",
    ),
    pytest.param(
        "energy",
        {"occurred_at": _iso(NOW + dt.timedelta(minutes=11)), "level": 5},
        "occurred_at",
        ["10 minutes", "future"],
        id="11-minutes-in-the-future",
    ),
    pytest.param(
        "sleep",
        {"occurred_at": _iso(NOW + dt.timedelta(hours=8))},
        "occurred_at",
        ["10 minutes", "future"],
        id="sleep-waking-tomorrow",
    ),
    pytest.param(
        "energy",
        {
            "occurred_at": "2026-11-26T10:00:00+01:00",
            "level": 5,
            "client_updated_at": _iso(NOW + dt.timedelta(hours=1)),
        },
        "client_updated_at",
        ["10 minutes"],
        id="edit-time-in-the-future",
    ),
    pytest.param(
        "energy",
        {"occurred_at": "2026-11-26T10:00:00", "level": 5},
        "occurred_at",
        ["UTC offset"],
        id="naive-datetime",
    ),
    pytest.param(
        "sleep",
        {"occurred_at": "2026-11-26T07:00:00+01:00", "bedtime": "2026-11-25T23:00:00"},
        "bedtime",
        ["UTC offset"],
        id="naive-bedtime",
    ),
    pytest.param(
        "energy",
        {"occurred_at": "yesterday", "level": 5},
        "occurred_at",
        ["format"],
        id="not-a-datetime",
    ),
    pytest.param(
        "energy",
        {"occurred_at": "2026-11-26T10:00:00+01:00", "level": 5, "tz": "Europe/Atlantis"},
        "tz",
        ["IANA"],
        id="unknown-tz",
    ),
    pytest.param(
        "energy",
        {"occurred_at": "2026-11-26T10:00:00+01:00", "level": 5, "colour": "blue"},
        "colour",
        ["Unknown field"],
        id="unknown-field",
    ),
    pytest.param(
        "meal",
        {"occurred_at": "2026-11-26T12:30:00+01:00", "tags": ["vegetables", "deep-fried"]},
        "tags",
        ["deep-fried"],
        id="meal-tag-not-in-list",
    ),
    pytest.param(
        "meal",
        {"occurred_at": "2026-11-26T12:30:00+01:00", "meal_type": "brunch"},
        "meal_type",
        ["brunch"],
        id="meal-type-not-in-list",
    ),
    pytest.param(
        "energy",
        {"occurred_at": "2026-11-26T10:00:00+01:00", "level": "high"},
        "level",
        ["number"],
        id="level-not-a-number",
    ),
]


@pytest.mark.parametrize(("kind", "body", "field", "words"), BAD_BODIES)
def test_bad_input_is_400_naming_field_and_range(api, consenting_user, kind, body, field, words):
    response = put(api, kind, uuid.uuid4(), body)

    problem = assert_problem(response, 400)
    matching = [name for name in problem["errors"] if name == field or name.startswith(field)]
    assert matching, problem
    messages = " ".join(m for name in matching for m in problem["errors"][name])
    for word in words:
        assert word in messages, (word, messages)
    assert problem["detail"]
    assert total_rows() == 0


@pytest.mark.parametrize(("kind", "body", "field", "words"), BAD_BODIES)
def test_bad_edit_leaves_the_stored_entry_alone(api, consenting_user, kind, body, field, words):
    entry_id = uuid.uuid4()
    assert put(api, kind, entry_id, VALID[kind]).status_code == 201
    before = row_values(rows(kind).get())

    response = put(api, kind, entry_id, body)

    assert response.status_code == 400
    assert row_values(rows(kind).get()) == before


def test_up_to_10_minutes_in_the_future_is_accepted(api, consenting_user):
    """A phone clock a few minutes fast must not lose a check-in."""
    body = {"occurred_at": _iso(NOW + dt.timedelta(minutes=9)), "level": 5}

    assert put(api, "energy", uuid.uuid4(), body).status_code == 201


def test_future_is_measured_from_the_servers_now(api, consenting_user, clock):
    body = {"occurred_at": "2026-12-01T09:00:00+01:00", "level": 5}
    assert put(api, "energy", uuid.uuid4(), body).status_code == 400

    clock.move_to(dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC))

    assert put(api, "energy", uuid.uuid4(), body).status_code == 201


def test_before_the_account_minus_a_year_is_refused(api, consenting_user):
    # Joined recently: a year before that is within the retention period, which would otherwise
    # be the limit (test_retention.py).
    consenting_user.date_joined = NOW - dt.timedelta(days=30)
    consenting_user.save(update_fields=["date_joined"])
    earliest = consenting_user.date_joined - dt.timedelta(days=365)
    too_old = {"occurred_at": _iso(earliest - dt.timedelta(minutes=1)), "level": 5}
    just_ok = {"occurred_at": _iso(earliest + dt.timedelta(minutes=1)), "level": 5}

    refused = put(api, "energy", uuid.uuid4(), too_old)
    accepted = put(api, "energy", uuid.uuid4(), just_ok)

    problem = assert_problem(refused, 400)
    assert earliest.date().isoformat() in problem["errors"]["occurred_at"][0]
    assert accepted.status_code == 201
    assert rows("energy").count() == 1


def test_the_history_limit_names_the_instant_not_a_day_it_partly_refuses(api, consenting_user):
    consenting_user.date_joined = dt.datetime(2026, 6, 26, 15, 0, 30, tzinfo=dt.UTC)
    consenting_user.save(update_fields=["date_joined"])
    start_of_that_day = {"occurred_at": "2025-06-26T00:00:00Z", "level": 5}

    problem = assert_problem(put(api, "energy", uuid.uuid4(), start_of_that_day), 400)

    # Rounded up to the minute: an entry at the time named is accepted.
    assert problem["errors"]["occurred_at"] == ["Must be at or after 2025-06-26T15:01Z."]
    named = {"occurred_at": "2025-06-26T15:01:00Z", "level": 5}
    assert put(api, "energy", uuid.uuid4(), named).status_code == 201


def test_minus_zero_drinks_are_zero_drinks_and_a_retry_answers_the_same(api, consenting_user):
    entry_id = uuid.uuid4()
    body = {**VALID["alcohol"], "standard_drinks": "-0"}

    first = put(api, "alcohol", entry_id, body)
    again = put(api, "alcohol", entry_id, body)

    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert first.json()["entry"]["standard_drinks"] == "0.0"


def test_exactly_16_hours_of_sleep_is_allowed(api, consenting_user):
    body = {"occurred_at": "2026-11-26T09:00:00+01:00", "bedtime": "2026-11-25T17:00:00+01:00"}

    response = put(api, "sleep", uuid.uuid4(), body)

    assert response.status_code == 201, response.content
    assert response.json()["entry"]["duration_minutes"] == 960


def test_unknown_kind_is_404(api, consenting_user):
    entry_id = uuid.uuid4()

    responses = [
        put(api, "smoking", entry_id, {"occurred_at": "2026-11-26T10:00:00+01:00"}),
        api.get(entry_url("smoking", entry_id)),
        api.get(entry_url("smoking")),
        api.delete(entry_url("smoking", entry_id)),
    ]

    for response in responses:
        assert_problem(response, 404)
    assert total_rows() == 0


def test_bad_uuid_in_the_path_is_404(api, consenting_user):
    response = api.put("/api/v1/journal/energy/not-a-uuid", VALID["energy"], format="json")

    assert_problem(response, 404)


@pytest.mark.parametrize("payload", [[], "level=5", None, 5])
def test_body_that_is_not_an_object_is_400(api, consenting_user, payload):
    response = api.put(entry_url("energy", uuid.uuid4()), payload, format="json")

    assert_problem(response, 400)
    assert total_rows() == 0


def test_malformed_json_is_400(api, consenting_user):
    response = api.put(
        entry_url("energy", uuid.uuid4()), b'{"level": ', content_type="application/json"
    )

    assert_problem(response, 400)


def test_blank_or_null_tz_is_refused_not_guessed(api, consenting_user):
    for tz in ("", None):
        body = {"occurred_at": "2026-11-26T10:00:00+01:00", "level": 5, "tz": tz}
        problem = assert_problem(put(api, "energy", uuid.uuid4(), body), 400)
        assert "tz" in problem["errors"]


def test_field_errors_on_an_edit_are_not_stale_or_unchanged(api, consenting_user):
    """An invalid edit is refused even when it would have lost to a newer stored edit."""
    entry_id = uuid.uuid4()
    put(api, "energy", entry_id, {**VALID["energy"], "client_updated_at": "2026-11-26T15:00:00Z"})

    response = put(
        api, "energy", entry_id, changed("energy", level=0, client_updated_at="2026-11-26T14:00Z")
    )

    assert_problem(response, 400)


# --- the phone's clock (X-Client-Time) ------------------------------------------------------


@pytest.mark.parametrize("offset_minutes", [-120, -11, 11, 120])
def test_a_phone_clock_more_than_10_minutes_off_is_refused_and_nothing_is_stored(
    api, consenting_user, offset_minutes
):
    phone = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=offset_minutes)
    header = {"HTTP_X_CLIENT_TIME": phone.isoformat()}

    responses = [
        api.put(entry_url("energy", uuid.uuid4()), VALID["energy"], format="json", **header),
        api.post(
            "/api/v1/journal/batch",
            {"items": [item("meal", uuid.uuid4())]},
            format="json",
            **header,
        ),
        api.post(
            "/api/v1/journal/checkin",
            {"id": str(uuid.uuid4()), "level": 5},
            format="json",
            **header,
        ),
    ]

    for response in responses:
        body = assert_problem(response, 400)
        assert body["type"].endswith("/clock-skew")
        assert list(body["errors"]) == ["X-Client-Time"]
        assert ("behind" if offset_minutes < 0 else "ahead") in body["detail"]
    assert total_rows() == 0


@pytest.mark.parametrize("header", [None, "5 minutes ahead"])
def test_a_phone_clock_within_10_minutes_or_not_sent_is_accepted(api, consenting_user, header):
    extra = {}
    if header:
        extra["HTTP_X_CLIENT_TIME"] = (
            dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
        ).isoformat()

    response = api.put(entry_url("energy", uuid.uuid4()), VALID["energy"], format="json", **extra)

    assert response.status_code == 201, response.content


@pytest.mark.parametrize("value", ["yesterday", "2026-11-26T10:00:00", "2026-13-45T99:00:00Z"])
def test_an_unreadable_phone_clock_is_a_400(api, consenting_user, value):
    response = api.put(
        entry_url("energy", uuid.uuid4()), VALID["energy"], format="json", HTTP_X_CLIENT_TIME=value
    )

    body = assert_problem(response, 400)
    assert list(body["errors"]) == ["X-Client-Time"]
    assert total_rows() == 0
