"""Manual entry by the rep: idempotent PUT by client UUID, lists, detail, delete, owner-only."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.accounts.models import Membership, Role, Team
from apps.insights.models import StaleDay
from apps.performance.models import DailyCallStats, Meeting
from tests.core.problems import assert_problem
from tests.factories import UserFactory
from tests.performance.conftest import client_for, table_counts

pytestmark = pytest.mark.usefixtures("frozen")

CALLS = "/api/v1/performance/calls"
MEETINGS = "/api/v1/performance/meetings"
DAY = {"local_date": "2026-11-20", "calls_made": 40, "connected": 12, "conversations": 5}
HELD = {
    "occurred_at": "2026-11-20T14:00:00+01:00",
    "status": "held",
    "decision_maker_present": True,
    "budget": True,
    "authority": True,
    "need": True,
    "timeline": False,
    "deal_value_cents": 1_250_000,
    "currency": "EUR",
}


def _day(**changes: Any) -> dict[str, Any]:
    return {**DAY, "talk_minutes": 55, **changes}


# --- call figures ----------------------------------------------------------------------------


def test_put_call_figures_is_an_idempotent_upsert(api: Any, user: Any) -> None:
    stats_id = uuid.uuid4()
    first = api.put(f"{CALLS}/{stats_id}", _day(), format="json")
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["result"] == "created"
    assert body["entry"]["id"] == str(stats_id)
    assert body["entry"]["source"] == "manual"
    assert (body["entry"]["calls_made"], body["entry"]["connected"]) == (40, 12)

    again = api.put(f"{CALLS}/{stats_id}", _day(), format="json")
    assert again.status_code == 201
    assert again.json() == body
    assert DailyCallStats.objects.filter(user=user).count() == 1

    changed = api.put(f"{CALLS}/{stats_id}", _day(calls_made=50), format="json")
    assert changed.status_code == 200
    assert changed.json()["result"] == "updated"
    assert DailyCallStats.objects.get(pk=stats_id).calls_made == 50

    same_values = api.put(
        f"{CALLS}/{stats_id}",
        _day(calls_made=50, client_updated_at="2026-11-25T12:05:00Z"),
        format="json",
    )
    assert same_values.json()["result"] == "unchanged"

    older = api.put(
        f"{CALLS}/{stats_id}",
        _day(calls_made=1, connected=0, conversations=0, client_updated_at="2026-11-01T00:00:00Z"),
        format="json",
    )
    assert older.status_code == 200
    assert older.json()["result"] == "stale"
    assert DailyCallStats.objects.get(pk=stats_id).calls_made == 50


def test_one_manual_entry_per_day(api: Any, user: Any) -> None:
    first_id = uuid.uuid4()
    api.put(f"{CALLS}/{first_id}", _day(), format="json")
    response = api.put(
        f"{CALLS}/{uuid.uuid4()}", _day(calls_made=3, connected=1, conversations=0), format="json"
    )
    body = assert_problem(response, 409, fields=["local_date"], code="day-exists")
    assert body["existing_id"] == str(first_id)
    assert DailyCallStats.objects.filter(user=user).count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_day(connected=41), "connected"),
        (_day(conversations=13), "conversations"),
        (_day(calls_made=-1), "calls_made"),
        (_day(talk_minutes=24 * 60 + 1), "talk_minutes"),
        (_day(local_date="20-11-2026"), "local_date"),
        (_day(local_date="2026-12-25"), "local_date"),
        (_day(local_date="2020-01-01"), "local_date"),
        (_day(calls="40"), "calls"),
        (_day(client_updated_at="2026-11-20T10:00:00"), "client_updated_at"),
        ({"local_date": "2026-11-20"}, "calls_made"),
    ],
)
def test_bad_call_figures_are_a_problem_and_write_nothing(
    api: Any, body: dict[str, Any], field: str
) -> None:
    before = table_counts()
    response = api.put(f"{CALLS}/{uuid.uuid4()}", body, format="json")
    assert_problem(response, 400, fields=[field])
    assert table_counts() == before


def test_call_figures_of_another_user_are_404(api: Any, other_user: Any) -> None:
    stats_id = uuid.uuid4()
    client_for(other_user).put(f"{CALLS}/{stats_id}", _day(), format="json")
    assert_problem(api.get(f"{CALLS}/{stats_id}"), 404)
    assert_problem(api.delete(f"{CALLS}/{stats_id}"), 404)
    assert_problem(api.put(f"{CALLS}/{stats_id}", _day(calls_made=99), format="json"), 404)
    assert DailyCallStats.objects.get(pk=stats_id).calls_made == 40
    assert DailyCallStats.objects.get(pk=stats_id).user_id == other_user.pk


def test_delete_call_figures(api: Any) -> None:
    stats_id = uuid.uuid4()
    api.put(f"{CALLS}/{stats_id}", _day(), format="json")
    assert api.delete(f"{CALLS}/{stats_id}").status_code == 204
    assert_problem(api.get(f"{CALLS}/{stats_id}"), 404)
    assert_problem(api.delete(f"{CALLS}/{stats_id}"), 404)


def test_imported_figures_are_read_only(api: Any, user: Any) -> None:
    imported = DailyCallStats.objects.create(
        id=uuid.uuid4(),
        user=user,
        local_date=dt.date(2026, 11, 19),
        source="csv",
        calls_made=3,
        client_updated_at=dt.datetime(2026, 11, 19, tzinfo=dt.UTC),
    )
    assert_problem(
        api.put(f"{CALLS}/{imported.pk}", _day(local_date="2026-11-19"), format="json"),
        409,
        code="imported-read-only",
    )
    assert_problem(api.delete(f"{CALLS}/{imported.pk}"), 409)
    assert DailyCallStats.objects.get(pk=imported.pk).calls_made == 3


def test_a_write_marks_the_day_for_its_features(api: Any, user: Any) -> None:
    api.put(f"{CALLS}/{uuid.uuid4()}", _day(), format="json")
    assert list(StaleDay.objects.values_list("user_id", "local_date")) == [
        (user.pk, dt.date(2026, 11, 20))
    ]


# --- meetings --------------------------------------------------------------------------------


def test_put_meeting_derives_bant_and_qualification(api: Any, user: Any) -> None:
    meeting_id = uuid.uuid4()
    response = api.put(f"{MEETINGS}/{meeting_id}", HELD, format="json")
    assert response.status_code == 201, response.content
    entry = response.json()["entry"]
    assert entry["bant_score"] == 3
    assert entry["qualified"] is True  # held and 3 >= the default minimum 3
    assert entry["local_date"] == "2026-11-20"
    assert entry["deal_value_cents"] == 1_250_000 and entry["currency"] == "EUR"
    assert api.put(f"{MEETINGS}/{meeting_id}", HELD, format="json").json() == response.json()

    weaker = api.put(f"{MEETINGS}/{meeting_id}", {**HELD, "need": False}, format="json")
    assert weaker.json()["result"] == "updated"
    assert (weaker.json()["entry"]["bant_score"], weaker.json()["entry"]["qualified"]) == (2, False)


def test_the_team_rule_sets_the_qualification_minimum(api: Any, user: Any) -> None:
    team = Team.objects.create(name="Lenient", qualified_min_bant=2)
    Membership.objects.create(team=team, user=user, role=Role.REP)
    body = {**HELD, "need": False}
    entry = api.put(f"{MEETINGS}/{uuid.uuid4()}", body, format="json").json()["entry"]
    assert (entry["bant_score"], entry["qualified"]) == (2, True)
    no_show = api.put(
        f"{MEETINGS}/{uuid.uuid4()}", {**HELD, "status": "no_show"}, format="json"
    ).json()["entry"]
    assert no_show["qualified"] is False


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"occurred_at": "2026-12-20T14:00:00+01:00"}, "occurred_at"),
        ({"occurred_at": "2026-11-20T14:00:00"}, "occurred_at"),
        ({"currency": ""}, "currency"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "EURO"}, "currency"),
        ({"deal_value_cents": -1}, "deal_value_cents"),
        ({"status": "maybe"}, "status"),
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"bant_score": 4}, "bant_score"),
    ],
)
def test_bad_meetings_are_a_problem_and_write_nothing(
    api: Any, changes: dict[str, Any], field: str
) -> None:
    before = table_counts()
    response = api.put(f"{MEETINGS}/{uuid.uuid4()}", {**HELD, **changes}, format="json")
    assert_problem(response, 400, fields=[field])
    assert table_counts() == before


def test_a_future_meeting_may_be_scheduled(api: Any) -> None:
    body = {"occurred_at": "2026-12-20T14:00:00+01:00", "status": "scheduled"}
    response = api.put(f"{MEETINGS}/{uuid.uuid4()}", body, format="json")
    assert response.status_code == 201
    assert response.json()["entry"]["qualified"] is False


def test_meetings_of_another_user_are_404(api: Any, other_user: Any) -> None:
    meeting_id = uuid.uuid4()
    client_for(other_user).put(f"{MEETINGS}/{meeting_id}", HELD, format="json")
    assert_problem(api.get(f"{MEETINGS}/{meeting_id}"), 404)
    assert_problem(api.put(f"{MEETINGS}/{meeting_id}", HELD, format="json"), 404)
    assert_problem(api.delete(f"{MEETINGS}/{meeting_id}"), 404)
    assert Meeting.objects.get(pk=meeting_id).user_id == other_user.pk


def test_delete_meeting(api: Any) -> None:
    meeting_id = uuid.uuid4()
    api.put(f"{MEETINGS}/{meeting_id}", HELD, format="json")
    assert api.delete(f"{MEETINGS}/{meeting_id}").status_code == 204
    assert not Meeting.objects.filter(pk=meeting_id).exists()


# --- lists -----------------------------------------------------------------------------------


def _seed_meetings(client: Any, count: int) -> None:
    for index in range(count):
        start = dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC) + dt.timedelta(hours=7 * index)
        client.put(
            f"{MEETINGS}/{uuid.uuid4()}",
            {**HELD, "occurred_at": start.isoformat()},
            format="json",
        )


def test_meeting_list_filters_by_day_and_pages_by_cursor(api: Any, other_user: Any) -> None:
    _seed_meetings(api, 9)
    _seed_meetings(client_for(other_user), 2)
    seen: list[str] = []
    url: str | None = f"{MEETINGS}?page_size=4"
    while url:
        page = api.get(url).json()
        seen.extend(item["occurred_at"] for item in page["results"])
        url = page["next"]
    assert len(seen) == 9
    assert seen == sorted(seen, reverse=True)

    filtered = api.get(f"{MEETINGS}?date_from=2026-11-02&date_to=2026-11-02").json()["results"]
    assert {item["local_date"] for item in filtered} == {"2026-11-02"}
    assert len(filtered) == 3
    assert_problem(api.get(f"{MEETINGS}?date_from=2026-11-05&date_to=2026-11-01"), 400)
    assert_problem(api.get(f"{MEETINGS}?date_from=yesterday"), 400)


def test_meeting_list_pages_through_meetings_at_one_time_while_one_is_deleted(api: Any) -> None:
    ids = [str(uuid.uuid4()) for _ in range(5)]
    for meeting_id in ids:
        body = {**HELD, "occurred_at": "2026-11-02T09:00:00Z"}
        assert api.put(f"{MEETINGS}/{meeting_id}", body, format="json").status_code == 201
    first = api.get(f"{MEETINGS}?page_size=2").json()
    assert api.delete(f"{MEETINGS}/{first['results'][0]['id']}").status_code == 204
    seen = [item["id"] for item in first["results"]]
    url: str | None = first["next"]
    while url:
        page = api.get(url).json()
        seen.extend(item["id"] for item in page["results"])
        url = page["next"]
    assert seen == sorted(ids, key=uuid.UUID, reverse=True)


def test_call_list_is_mine_only(api: Any, other_user: Any) -> None:
    api.put(f"{CALLS}/{uuid.uuid4()}", _day(), format="json")
    client_for(other_user).put(
        f"{CALLS}/{uuid.uuid4()}", _day(local_date="2026-11-19"), format="json"
    )
    results = api.get(CALLS).json()["results"]
    assert [row["local_date"] for row in results] == ["2026-11-20"]


@pytest.mark.parametrize("path", [CALLS, MEETINGS])
def test_list_queries_do_not_grow_with_data(api: Any, user: Any, path: str) -> None:
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert api.get(path).status_code == 200
        return len(ctx.captured_queries)

    _seed_meetings(api, 2)
    for offset in range(2):
        day = (dt.date(2026, 11, 1) + dt.timedelta(days=offset)).isoformat()
        api.put(f"{CALLS}/{uuid.uuid4()}", _day(local_date=day), format="json")
    small = count_queries()
    _seed_meetings(api, 20)
    for offset in range(2, 22):
        day = (dt.date(2026, 11, 1) + dt.timedelta(days=offset)).isoformat()
        api.put(f"{CALLS}/{uuid.uuid4()}", _day(local_date=day), format="json")
    assert count_queries() == small


def test_list_query_budget(api: Any, django_assert_max_num_queries: Any) -> None:
    _seed_meetings(api, 30)
    with django_assert_max_num_queries(4):
        assert api.get(MEETINGS).status_code == 200


@pytest.mark.parametrize("path", [CALLS, MEETINGS, "/api/v1/performance/daily"])
def test_anonymous_requests_are_refused(db: None, path: str) -> None:
    response = APIClient().get(path)
    assert_problem(response, response.status_code)
    assert response.status_code in (401, 403)


def test_users_without_a_team_use_the_default_rule(db: None) -> None:
    rep = UserFactory()
    client = client_for(rep)
    entry = client.put(f"{MEETINGS}/{uuid.uuid4()}", HELD, format="json").json()["entry"]
    assert entry["qualified"] is True
