"""POST /api/v1/journal/checkin: the two-tap morning path, all or nothing."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.db import connection

from apps.insights.models import StaleDay
from apps.journal.models import JournalState
from apps.privacy.models import Category
from apps.privacy.services import consent_grant
from tests.journal.helpers import VALID, assert_problem, put, rows, total_rows

pytestmark = pytest.mark.django_db

CHECKIN_URL = "/api/v1/journal/checkin"
MORNING = "2026-11-26T07:45:00+01:00"


def checkin(client, body):
    return client.post(CHECKIN_URL, body, format="json")


def _full_body(**extra):
    return {
        "id": str(uuid.uuid4()),
        "occurred_at": MORNING,
        "level": 6,
        "sleep": {
            "bedtime": "2026-11-25T23:30:00+01:00",
            "wake_time": "2026-11-26T07:00:00+01:00",
            "quality": 3,
        },
        "drinks": {"standard_drinks": "2", "context": "social"},
        **extra,
    }


def test_level_only_logs_energy_now(api, consenting_user):
    body = {"id": str(uuid.uuid4()), "level": 7}

    response = checkin(api, body)

    assert response.status_code == 201, response.content
    answer = response.json()
    assert set(answer) == {"energy"}
    assert answer["energy"]["result"] == "created"
    entry = answer["energy"]["entry"]
    assert entry["id"] == body["id"]
    assert entry["level"] == 7
    assert entry["local_date"] == "2026-11-26"
    assert entry["tz"] == "Europe/Amsterdam"
    row = rows("energy").get()
    # Without a time the check-in is "now" (the frozen clock).
    assert abs(row.occurred_at - dt.datetime(2026, 11, 26, 16, 0, tzinfo=dt.UTC)) < dt.timedelta(
        seconds=5
    )
    assert total_rows() == 1


def test_with_sleep_and_drinks(api, consenting_user):
    body = _full_body()

    response = checkin(api, body)

    assert response.status_code == 201, response.content
    answer = response.json()
    assert {name: part["result"] for name, part in answer.items()} == {
        "energy": "created",
        "sleep": "created",
        "drinks": "created",
    }
    sleep = rows("sleep").get()
    assert sleep.bedtime == dt.datetime(2026, 11, 25, 22, 30, tzinfo=dt.UTC)
    assert sleep.occurred_at == dt.datetime(2026, 11, 26, 6, 0, tzinfo=dt.UTC)
    assert (sleep.duration_minutes, sleep.quality) == (450, 3)
    assert sleep.local_date == dt.date(2026, 11, 26)
    drinks = rows("alcohol").get()
    assert drinks.standard_drinks == Decimal("2.0")
    assert drinks.context == "social"
    assert answer["drinks"]["entry"]["standard_drinks"] == "2.0"
    assert answer["sleep"]["entry"]["duration_minutes"] == 450
    energy = rows("energy").get()
    assert energy.pk == uuid.UUID(body["id"])
    assert energy.occurred_at == dt.datetime(2026, 11, 26, 6, 45, tzinfo=dt.UTC)
    # Sub-entries get their own ids, distinct from the check-in's.
    assert len({energy.pk, sleep.pk, drinks.pk}) == 3


def test_drinks_default_to_last_evening_21h_and_count_for_the_previous_day(api, consenting_user):
    response = checkin(
        api,
        {
            "id": str(uuid.uuid4()),
            "occurred_at": MORNING,
            "level": 5,
            "drinks": {"standard_drinks": "3"},
        },
    )

    assert response.status_code == 201, response.content
    drinks = rows("alcohol").get()
    assert drinks.occurred_at == dt.datetime(2026, 11, 25, 20, 0, tzinfo=dt.UTC)  # 21:00 CET
    assert drinks.local_date == dt.date(2026, 11, 25)
    assert response.json()["drinks"]["entry"]["local_date"] == "2026-11-25"
    assert rows("energy").get().local_date == dt.date(2026, 11, 26)


def test_drinks_default_uses_the_checkin_time_zone(api, consenting_user):
    body = {
        "id": str(uuid.uuid4()),
        "occurred_at": "2026-11-26T07:00:00-05:00",
        "tz": "America/New_York",
        "level": 4,
        "drinks": {"standard_drinks": "1"},
    }

    checkin(api, body)

    drinks = rows("alcohol").get()
    assert drinks.occurred_at == dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.UTC)  # 21:00 EST
    assert drinks.tz == "America/New_York"
    assert drinks.local_date == dt.date(2026, 11, 25)


def test_drinks_with_own_time_keep_it(api, consenting_user):
    body = {
        "id": str(uuid.uuid4()),
        "occurred_at": MORNING,
        "level": 4,
        "drinks": {"standard_drinks": "1", "occurred_at": "2026-11-26T01:30:00+01:00"},
    }

    checkin(api, body)

    drinks = rows("alcohol").get()
    assert drinks.occurred_at == dt.datetime(2026, 11, 26, 0, 30, tzinfo=dt.UTC)
    assert drinks.local_date == dt.date(2026, 11, 25)  # before the 04:00 boundary


def test_retry_gives_the_same_answer_and_no_duplicates(api, consenting_user, clock):
    body = _full_body()
    first = checkin(api, body)
    clock.shift(dt.timedelta(minutes=3))

    second = checkin(api, body)

    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert (rows("energy").count(), rows("sleep").count(), rows("alcohol").count()) == (1, 1, 1)


def test_retry_without_time_is_still_one_checkin(api, consenting_user, clock):
    """The phone retries an hour later: "now" moved, but it is the same check-in."""
    body = {"id": str(uuid.uuid4()), "level": 5, "drinks": {"standard_drinks": "1"}}
    first = checkin(api, body)
    clock.shift(dt.timedelta(hours=1))

    second = checkin(api, body)

    assert second.status_code == 201
    assert first.json() == second.json()
    assert total_rows() == 2


def test_changed_checkin_updates_its_parts(api, consenting_user):
    body = _full_body()
    checkin(api, body)

    response = checkin(api, {**body, "level": 3})

    assert response.status_code == 200
    answer = response.json()
    assert answer["energy"]["result"] == "updated"
    assert answer["energy"]["entry"]["level"] == 3
    assert answer["sleep"]["result"] == "unchanged"
    assert answer["drinks"]["result"] == "unchanged"
    assert total_rows() == 3


@pytest.mark.parametrize(
    ("sleep", "field"),
    [
        pytest.param(
            {"bedtime": "2026-11-26T08:00:00+01:00", "wake_time": "2026-11-26T07:00:00+01:00"},
            "sleep.bedtime",
            id="wake-before-bed",
        ),
        pytest.param(
            {"bedtime": "2026-11-25T12:00:00+01:00", "wake_time": "2026-11-26T07:00:00+01:00"},
            "sleep.bedtime",
            id="19-hours",
        ),
        pytest.param({"quality": 9}, "sleep.quality", id="quality-9"),
        pytest.param({"duration_minutes": 2000}, "sleep.duration_minutes", id="duration"),
        pytest.param({"wake_time": "2026-11-26T07:00:00"}, "sleep.wake_time", id="naive-wake"),
        pytest.param({"snore": True}, "sleep.snore", id="unknown-field"),
    ],
)
def test_invalid_sleep_part_writes_nothing(api, consenting_user, sleep, field):
    body = {**_full_body(), "sleep": sleep}

    response = checkin(api, body)

    problem = assert_problem(response, 400)
    assert field in problem["errors"], problem
    assert total_rows() == 0


def test_invalid_drinks_part_writes_nothing(api, consenting_user):
    body = _full_body(drinks={"standard_drinks": "-1"})

    problem = assert_problem(checkin(api, body), 400)

    assert "0 and 30" in problem["errors"]["drinks.standard_drinks"][0]
    assert total_rows() == 0


@pytest.mark.parametrize("level", [0, 10, None, "high"])
def test_invalid_level_writes_nothing(api, consenting_user, level):
    problem = assert_problem(checkin(api, _full_body(level=level)), 400)

    assert "level" in problem["errors"]
    assert total_rows() == 0


def test_level_is_required(api, consenting_user):
    problem = assert_problem(checkin(api, {"id": str(uuid.uuid4())}), 400)

    assert "level" in problem["errors"]


def test_future_checkin_writes_nothing(api, consenting_user):
    body = _full_body(occurred_at="2026-11-26T18:00:00+01:00")  # an hour ahead

    problem = assert_problem(checkin(api, body), 400)

    assert "occurred_at" in problem["errors"]
    assert total_rows() == 0


def test_missing_alcohol_consent_is_403_and_writes_nothing(api, user):
    for category in Category.values:
        if category != "alcohol":
            consent_grant(user=user, category=category)

    response = checkin(api, _full_body())

    problem = assert_problem(response, 403)
    assert problem["category"] == "alcohol"
    assert "alcohol" in problem["detail"]
    assert total_rows() == 0


def test_missing_sleep_consent_without_sleep_part_is_fine(api, user):
    consent_grant(user=user, category="energy")

    response = checkin(api, {"id": str(uuid.uuid4()), "level": 8})

    assert response.status_code == 201
    assert total_rows() == 1


def test_checkin_id_of_another_user_is_404(
    api, consenting_user, other_user, make_client, grant_all
):
    grant_all(other_user)
    body = {"id": str(uuid.uuid4()), "level": 8}
    assert checkin(make_client(other_user), body).status_code == 201

    response = checkin(api, {**body, "level": 2})

    assert_problem(response, 404)
    assert rows("energy").get().level == 8
    assert rows("energy", consenting_user).count() == 0


def test_a_full_check_in_whose_sleep_id_is_taken_stores_no_part_and_marks_nothing(
    api, consenting_user, other_user, make_client, grant_all
):
    """The one-statement write inserts energy and drinks, finds the sleep id taken and rolls the
    whole statement back; the general path then answers 404 for the sleep part. Nothing of the
    check-in is stored, no day is marked and the rep has no journal version yet."""
    grant_all(other_user)
    sleep_id = uuid.uuid4()
    taken = put(make_client(other_user), "sleep", sleep_id, VALID["sleep"])
    assert taken.status_code == 201
    body = _full_body()
    body["sleep"]["id"] = str(sleep_id)

    response = checkin(api, body)

    assert_problem(response, 404)
    assert rows("energy", consenting_user).count() == 0
    assert rows("alcohol", consenting_user).count() == 0
    assert rows("sleep").get().user_id == other_user.pk
    assert not StaleDay.objects.filter(user=consenting_user).exists()
    assert not JournalState.objects.filter(user=consenting_user).exists()


def test_a_check_in_is_a_fixed_handful_of_statements(
    api, consenting_user, django_assert_num_queries
):
    """An energy-only check-in (the one the phone sends most): the session user, then one
    statement that checks consent, takes the journal lock, inserts and marks the day. With sleep
    and drinks: the same one statement with three inserts, inside the transaction's two (a
    savepoint here, BEGIN/COMMIT in production) so it can be rolled back whole. Elsewhere than
    on PostgreSQL both take the general path: lock + version, consent, the rep's deletions of
    these ids, one insert per part, stale-day mark and the transaction's two."""
    one_statement = connection.vendor == "postgresql"
    assert checkin(api, {"id": str(uuid.uuid4()), "level": 5}).status_code == 201  # warm-up
    with django_assert_num_queries(2 if one_statement else 8) as captured:
        response = checkin(api, {"id": str(uuid.uuid4()), "level": 6})
    assert response.status_code == 201, response.content
    with django_assert_num_queries(4 if one_statement else 10) as full:
        assert checkin(api, _full_body()).status_code == 201
    if not one_statement:
        return
    write = captured.captured_queries[-1]["sql"]
    for table in ("privacy_consentstate", "journal_journalstate", "journal_energycheckin"):
        assert table in write
    assert "insights_staleday" in write
    assert "FOR UPDATE" not in write  # a new entry is never read before it is written
    write = full.captured_queries[2]["sql"]
    for table in ("journal_energycheckin", "journal_sleepentry", "journal_alcoholentry"):
        assert table in write


def test_a_late_retry_does_not_undo_edits_made_after_the_check_in(api, consenting_user, clock):
    """The check-in's answer is lost; the rep edits its sleep and energy parts; then the
    phone's queued retry of the check-in arrives. It is the older write, and loses."""
    body = {
        "id": str(uuid.uuid4()),
        "occurred_at": "2026-11-26T07:45:00+01:00",
        "level": 6,
        "sleep": {
            "bedtime": "2026-11-25T23:30:00+01:00",
            "wake_time": "2026-11-26T07:00:00+01:00",
            "quality": 3,
        },
    }
    first = checkin(api, body).json()
    clock.shift(dt.timedelta(minutes=2))
    edited_at = dt.datetime.now(dt.UTC).isoformat()
    sleep = {"occurred_at": body["sleep"]["wake_time"], "bedtime": body["sleep"]["bedtime"]}
    assert (
        put(
            api,
            "sleep",
            first["sleep"]["entry"]["id"],
            {**sleep, "quality": 5, "client_updated_at": edited_at},
        ).json()["result"]
        == "updated"
    )
    energy = {"occurred_at": body["occurred_at"], "level": 2, "client_updated_at": edited_at}
    assert put(api, "energy", body["id"], energy).json()["result"] == "updated"
    clock.shift(dt.timedelta(minutes=1))

    retry = checkin(api, body)

    assert retry.status_code == 200, retry.content
    assert {part["result"] for part in retry.json().values()} == {"stale"}
    assert rows("sleep").get().quality == 5
    assert rows("energy").get().level == 2


def test_a_retry_without_time_after_the_parts_were_edited_keeps_the_edits(
    api, consenting_user, clock
):
    """A check-in sent without ``occurred_at`` is timed by the server when it arrives, so its
    retry an hour later would look newer than the rep's edits made in between."""
    body = {"id": str(uuid.uuid4()), "level": 6, "drinks": {"standard_drinks": "1"}}
    first = checkin(api, body).json()
    clock.shift(dt.timedelta(minutes=5))
    edited_at = dt.datetime.now(dt.UTC).isoformat()
    energy = first["energy"]["entry"]
    assert (
        put(
            api,
            "energy",
            body["id"],
            {"occurred_at": energy["occurred_at"], "level": 2, "client_updated_at": edited_at},
        ).json()["result"]
        == "updated"
    )
    clock.shift(dt.timedelta(hours=1))

    retry = checkin(api, body)

    # 201: the drinks part repeats its first answer.
    assert retry.status_code == 201, retry.content
    answer = retry.json()
    assert answer["energy"]["result"] == "stale"
    assert "occurred_at" in answer["energy"]["detail"]
    assert answer["energy"]["entry"]["level"] == 2
    assert rows("energy").get().level == 2
    # The drinks part was not edited: its retry is the same request and repeats its answer.
    assert answer["drinks"]["result"] == "created"
    assert total_rows() == 2


def test_a_changed_check_in_without_time_does_not_overwrite_its_entry(api, consenting_user):
    body = {"id": str(uuid.uuid4()), "level": 6}
    checkin(api, body)

    response = checkin(api, {**body, "level": 3})

    assert response.status_code == 200, response.content
    assert response.json()["energy"]["result"] == "stale"
    assert rows("energy").get().level == 6


@pytest.mark.parametrize("tz", ["Europe/Amsterdam", "America/New_York", "Asia/Tokyo"])
def test_a_check_in_at_the_start_of_year_one_is_refused_not_a_500(api, consenting_user, tz):
    """Last evening's drinks default to 21:00 the day before: there is no day before 1 January
    of year 1, and the time is refused as too long ago, like any other."""
    body = {
        "id": str(uuid.uuid4()),
        "level": 5,
        "tz": tz,
        "occurred_at": "0001-01-01T12:00:00Z",
        "drinks": {"standard_drinks": "1"},
    }

    problem = assert_problem(checkin(api, body), 400)

    assert "occurred_at" in problem["errors"]
    assert total_rows() == 0
