"""The org admin's team view: sales figures per rep, nothing else, nobody else."""

from __future__ import annotations

import ast
import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.dateparse import parse_datetime

from apps.accounts.models import Membership, Role, Team
from apps.journal.services import EntryInput, entries_upsert
from apps.performance import selectors, services, tasks
from apps.performance.ingest import COPY_MIN_ROWS
from apps.performance.models import Call, ImportJob, Meeting
from apps.privacy.models import Category
from apps.privacy.services import consent_grant
from tests.core.problems import assert_problem
from tests.factories import UserFactory
from tests.performance.conftest import Org, client_for, data_file, post_import, webhook_post

pytestmark = pytest.mark.usefixtures("frozen", "media_root")

SALES_KEYS = {
    "user_id",
    "email",
    "display_name",
    "calls",
    "connected_calls",
    "connect_rate",
    "conversations",
    "talk_minutes",
    "meetings",
    "meetings_held",
    "meetings_no_show",
    "qualified_meetings",
    "qualified_share",
    "mean_bant",
    "decision_maker_rate",
    "deal_value",
    "deal_value_currency",
}


def _url(org: Org, query: str = "date_from=2026-11-01&date_to=2026-11-30") -> str:
    return f"/api/v1/performance/teams/{org.team.pk}/sales?{query}"


def _load(org: Org) -> None:
    admin = client_for(org.admin)
    for name, extra in (
        ("hubspot_calls.csv", {}),
        ("hubspot_meetings.csv", {"column_map": {"budget": "BANT Budget", "authority":
            "BANT Authority", "need": "BANT Need", "timeline": "BANT Timeline",
            "decision_maker_present": "Decision maker", "deal_value": "Deal value"}}),
    ):  # fmt: skip
        response = post_import(
            admin,
            data_file(name),
            format=name.removesuffix(".csv"),
            team_id=str(org.team.pk),
            **extra,
        )
        assert response.status_code == 201, response.content


def test_org_admin_sees_sales_figures_per_rep(org: Org) -> None:
    _load(org)
    body = client_for(org.admin).get(_url(org)).json()
    assert body["team_id"] == str(org.team.pk)
    reps = {rep["email"]: rep for rep in body["reps"]}
    assert set(reps) == {"anna@acme.test", "bram@acme.test"}  # reps only, not admin or coach
    anna, bram = reps["anna@acme.test"], reps["bram@acme.test"]
    assert set(anna) == SALES_KEYS
    assert (anna["calls"], anna["connected_calls"], anna["connect_rate"]) == (4, 2, 0.5)
    assert (anna["meetings_held"], anna["qualified_meetings"], anna["meetings_no_show"]) == (
        2,
        1,
        1,
    )
    assert anna["qualified_share"] == 0.5 and anna["mean_bant"] == 2.0
    assert (anna["deal_value"], anna["deal_value_currency"]) == (1_250_000, "EUR")
    assert (bram["calls"], bram["meetings_held"], bram["qualified_meetings"]) == (2, 1, 1)


def test_a_meeting_typed_and_imported_counts_once_in_the_team_view(org: Org) -> None:
    """Anna typed her meeting of the 16th before the admin imported the CRM's export."""
    services.meeting_upsert(
        user=org.anna,
        meeting_id=uuid.uuid4(),
        values={
            "occurred_at": parse_datetime("2026-11-16T14:00:00+01:00"),
            "status": "held",
            "budget": True,
            "authority": True,
            "need": True,
        },
    )
    _load(org)
    anna = next(
        rep
        for rep in client_for(org.admin).get(_url(org)).json()["reps"]
        if rep["email"] == "anna@acme.test"
    )
    assert (anna["meetings"], anna["meetings_held"], anna["qualified_meetings"]) == (3, 2, 1)


def test_the_team_view_never_contains_journal_data(org: Org) -> None:
    for category in Category.values:
        consent_grant(user=org.anna, category=category)
    entries_upsert(
        user=org.anna,
        items=[
            EntryInput(
                kind="energy",
                id=uuid.uuid4(),
                values={"occurred_at": parse_datetime("2026-11-16T10:00:00+01:00"), "level": 2},
            ),
            EntryInput(
                kind="sleep",
                id=uuid.uuid4(),
                values={"occurred_at": parse_datetime("2026-11-16T07:00:00+01:00"), "quality": 1},
            ),
        ],
    )
    _load(org)
    body = client_for(org.admin).get(_url(org)).json()
    for rep in body["reps"]:
        assert set(rep) == SALES_KEYS
    text = str(body).lower()
    for word in ("sleep", "energy", "alcohol", "meal", "exercise", "level", "quality"):
        assert word not in text


def test_the_performance_app_never_imports_the_journal() -> None:
    app_dir = Path(__file__).resolve().parents[2] / "apps" / "performance"
    for source in app_dir.rglob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(name.startswith("apps.journal") for name in names), source


@pytest.mark.parametrize("who", ["anna", "coach", "outsider", "other_admin"])
def test_everyone_else_gets_404(org: Org, who: str) -> None:
    if who == "outsider":
        user = UserFactory()
    elif who == "other_admin":
        user = UserFactory()
        Membership.objects.create(
            team=Team.objects.create(name="Other"), user=user, role=Role.ORG_ADMIN
        )
    else:
        user = getattr(org, who)
    assert_problem(client_for(user).get(_url(org)), 404)


def test_unknown_team_and_bad_periods(org: Org) -> None:
    admin = client_for(org.admin)
    assert_problem(admin.get(f"/api/v1/performance/teams/{uuid.uuid4()}/sales"), 404)
    assert_problem(admin.get(_url(org, "date_from=2026-11-30&date_to=2026-11-01")), 400)
    assert_problem(admin.get(_url(org, "date_from=2024-01-01&date_to=2026-11-01")), 400)


def test_team_view_queries_do_not_grow_with_reps(
    org: Org, django_assert_max_num_queries: Any
) -> None:
    _load(org)
    for index in range(15):
        rep = UserFactory(email=f"extra{index}@acme.test")
        Membership.objects.create(team=org.team, user=rep, role=Role.REP)
    admin = client_for(org.admin)
    with django_assert_max_num_queries(7):
        body = admin.get(_url(org)).json()
    assert len(body["reps"]) == 17
    quiet = next(rep for rep in body["reps"] if rep["email"] == "extra0@acme.test")
    assert quiet["calls"] is None and quiet["meetings_held"] == 0


# --- attribution: a rep in two teams ---------------------------------------------------------

ENERGYTRACK_HEADER = (
    "kind,external_id,owner_email,occurred_at,tz,duration_seconds,outcome,status,"
    "decision_maker_present,budget,authority,need,timeline,deal_value,currency\n"
)


def _call_row(
    external_id: str, when: str, seconds: int = 300, email: str = "anna@acme.test"
) -> str:
    outcome = "connected" if seconds else "no_answer"
    return f"call,{external_id},{email},{when},,{seconds},{outcome},,,,,,,,\n"


def _meeting_row(external_id: str, when: str, email: str = "anna@acme.test") -> str:
    return f"meeting,{external_id},{email},{when},,,,held,true,true,true,true,false,1000.00,EUR\n"


def _team_import(admin: Any, team: Team, *rows: str) -> dict[str, Any]:
    response = post_import(
        client_for(admin),
        (ENERGYTRACK_HEADER + "".join(rows)).encode(),
        format="energytrack",
        team_id=str(team.pk),
    )
    assert response.status_code == 201, response.content
    return dict(response.json())


def _typed_calls(user: Any, day: str, made: int) -> None:
    services.call_stats_upsert(
        user=user,
        stats_id=uuid.uuid4(),
        values={
            "local_date": dt.date.fromisoformat(day),
            "calls_made": made,
            "connected": 0,
            "conversations": 0,
            "talk_minutes": 0,
        },
    )


def _typed_meeting(user: Any, when: str) -> None:
    services.meeting_upsert(
        user=user,
        meeting_id=uuid.uuid4(),
        values={"occurred_at": parse_datetime(when), "status": "held", "budget": True},
    )


def _joined(team: Team, user: Any, when: str) -> None:
    Membership.objects.filter(team=team, user=user, role=Role.REP).update(
        created_at=parse_datetime(when)
    )


def _sales(admin: Any, team: Team) -> dict[str, dict[str, Any]]:
    response = client_for(admin).get(
        f"/api/v1/performance/teams/{team.pk}/sales?date_from=2026-11-01&date_to=2026-11-30"
    )
    assert response.status_code == 200, response.content
    return {rep["email"]: rep for rep in response.json()["reps"]}


@pytest.fixture
def enterprise(org: Org) -> tuple[Team, Any]:
    """A second team with its own org admin; Anna is a rep in both, since 1 November."""
    team = Team.objects.create(name="Acme Enterprise")
    admin = UserFactory(email="admin@enterprise.test")
    Membership.objects.create(team=team, user=admin, role=Role.ORG_ADMIN)
    Membership.objects.create(team=team, user=org.anna, role=Role.REP)
    _joined(team, org.anna, "2026-11-01T09:00:00+01:00")
    _joined(org.team, org.anna, "2026-11-01T09:00:00+01:00")
    return team, admin


def test_each_team_counts_its_own_imports_and_the_reps_own_figures(
    org: Org, enterprise: tuple[Team, Any]
) -> None:
    team_b, admin_b = enterprise
    # Team A's export: two calls and a meeting of the 17th.
    _team_import(
        org.admin,
        org.team,
        _call_row("a-1", "2026-11-17T09:00:00+01:00"),
        _call_row("a-2", "2026-11-17T09:30:00+01:00", seconds=0),
        _meeting_row("am-1", "2026-11-17T14:00:00+01:00"),
    )
    # Team B's export: three calls and two meetings of the 18th.
    _team_import(
        admin_b,
        team_b,
        _call_row("b-1", "2026-11-18T09:00:00+01:00"),
        _call_row("b-2", "2026-11-18T09:10:00+01:00"),
        _call_row("b-3", "2026-11-18T09:20:00+01:00", seconds=0),
        _meeting_row("bm-1", "2026-11-18T11:00:00+01:00"),
        _meeting_row("bm-2", "2026-11-18T15:00:00+01:00"),
    )
    # Anna's own figures of the 19th and the 20th.
    _typed_calls(org.anna, "2026-11-19", 10)
    _typed_meeting(org.anna, "2026-11-19T10:00:00+01:00")
    _typed_calls(org.anna, "2026-11-20", 7)
    _typed_meeting(org.anna, "2026-11-20T10:00:00+01:00")
    # Team B's CRM sends a call and a meeting of the 20th: they outrank Anna's typed figures
    # of that day for team B (and for Anna), never for team A.
    connection, secret = services.crm_connection_create(team=team_b, name="Salesforce")
    delivery = {
        "event_id": "evt-b-1",
        "activities": [
            {"kind": "call", "external_id": "w-1", "owner_email": "anna@acme.test",
             "occurred_at": "2026-11-20T11:00:00+01:00", "duration_seconds": 200,
             "outcome": "connected"},
            {"kind": "meeting", "external_id": "wm-1", "owner_email": "anna@acme.test",
             "occurred_at": "2026-11-20T16:00:00+01:00", "status": "held"},
        ],
    }  # fmt: skip
    assert webhook_post(connection.pk, secret, delivery).status_code == 202
    assert services.webhook_events_drain(connection_id=connection.pk) == 1

    # Each row carries the team that brought it; the typed ones none.
    assert set(
        Call.objects.filter(external_id__startswith="a-").values_list("team", flat=True)
    ) == {org.team.pk}
    assert set(
        Call.objects.filter(external_id__startswith="b-").values_list("team", flat=True)
    ) == {team_b.pk}
    assert Call.objects.get(external_id="w-1").team_id == team_b.pk
    assert Meeting.objects.get(external_id="am-1").team_id == org.team.pk
    assert set(
        Meeting.objects.filter(external_id__in=["bm-1", "bm-2", "wm-1"]).values_list(
            "team", flat=True
        )
    ) == {team_b.pk}
    typed = Meeting.objects.filter(source="manual")
    assert set(typed.values_list("team", flat=True)) == {None}

    anna_a = _sales(org.admin, org.team)["anna@acme.test"]
    assert (anna_a["calls"], anna_a["connected_calls"]) == (2 + 10 + 7, 1)
    assert (anna_a["meetings"], anna_a["qualified_meetings"]) == (1 + 1 + 1, 1)
    anna_b = _sales(admin_b, team_b)["anna@acme.test"]
    assert (anna_b["calls"], anna_b["connected_calls"]) == (3 + 10 + 1, 3)
    assert (anna_b["meetings"], anna_b["qualified_meetings"]) == (2 + 1 + 1, 2)
    # Anna's own view is unchanged: everything, one source per day.
    days = {
        row["local_date"].isoformat(): row
        for row in selectors.daily_quality(
            user=org.anna, date_from=dt.date(2026, 11, 1), date_to=dt.date(2026, 11, 30)
        )
    }
    assert {day: row["calls"] for day, row in days.items()} == {
        "2026-11-17": 2, "2026-11-18": 3, "2026-11-19": 10, "2026-11-20": 1,
    }  # fmt: skip
    assert days["2026-11-20"]["call_source"] == "webhook"
    assert sum(row["meetings"] for row in days.values()) == 1 + 2 + 1 + 1


def test_the_reps_figures_from_before_joining_are_not_the_teams(org: Org) -> None:
    """Anna joined on the 18th. Her own figures of the 16th and 17th are not the team's; what
    the team itself imported of those days is."""
    _joined(org.team, org.anna, "2026-11-18T10:00:00+01:00")
    _typed_calls(org.anna, "2026-11-16", 20)
    _typed_meeting(org.anna, "2026-11-16T10:00:00+01:00")
    _typed_calls(org.anna, "2026-11-19", 5)
    _typed_meeting(org.anna, "2026-11-19T10:00:00+01:00")
    # Anna's own import (no team): a call of the 17th and one of the 21st.
    own = post_import(
        client_for(org.anna),
        (
            ENERGYTRACK_HEADER
            + _call_row("own-1", "2026-11-17T09:00:00+01:00")
            + _call_row("own-2", "2026-11-21T09:00:00+01:00")
        ).encode(),
        format="energytrack",
    )
    assert own.status_code == 201, own.content
    assert set(Call.objects.filter(user=org.anna).values_list("team", flat=True)) == {None}
    # The team's own history of the 16th, imported now.
    _team_import(org.admin, org.team, _call_row("t-1", "2026-11-16T15:00:00+01:00"))

    anna = _sales(org.admin, org.team)["anna@acme.test"]
    # The team's call of the 16th, the typed 5 of the 19th, her imported call of the 21st.
    assert anna["calls"] == 1 + 5 + 1
    assert (anna["meetings"], anna["meetings_held"]) == (1, 1)
    # Bram, a member since the fixture (today), has none of Anna's.
    assert _sales(org.admin, org.team)["bram@acme.test"]["calls"] is None


def test_joining_counts_from_the_reps_local_day(org: Org) -> None:
    """A membership created at 02:30 in Amsterdam belongs to the day before (day boundary
    04:00), as a rep's activities do."""
    _joined(org.team, org.anna, "2026-11-18T02:30:00+01:00")
    _typed_calls(org.anna, "2026-11-16", 20)
    _typed_calls(org.anna, "2026-11-17", 3)
    assert _sales(org.admin, org.team)["anna@acme.test"]["calls"] == 3


def test_another_teams_import_of_the_same_activity_counts_once_and_stays_the_first_teams(
    org: Org, enterprise: tuple[Team, Any]
) -> None:
    """Both teams import the same CRM export: one row per activity of the rep (its id is of
    rep, source and CRM id), still the first team's; the rep's figures count it once."""
    team_b, admin_b = enterprise
    rows = (
        _call_row("c-1", "2026-11-20T09:00:00+01:00"),
        _call_row("c-2", "2026-11-20T09:10:00+01:00", seconds=0),
        _meeting_row("m-1", "2026-11-20T14:00:00+01:00"),
    )
    _team_import(org.admin, org.team, *rows)
    second = _team_import(admin_b, team_b, *rows)
    assert second["counts"]["unchanged"] == 3
    assert Call.objects.filter(user=org.anna).count() == 2
    assert Meeting.objects.filter(user=org.anna).count() == 1
    assert set(Call.objects.values_list("team", flat=True)) == {org.team.pk}
    assert Meeting.objects.get(user=org.anna).team_id == org.team.pk
    [day] = selectors.daily_quality(
        user=org.anna, date_from=dt.date(2026, 11, 20), date_to=dt.date(2026, 11, 20)
    )
    assert (day["calls"], day["meetings"]) == (2, 1)
    assert _sales(org.admin, org.team)["anna@acme.test"]["calls"] == 2
    anna_b = _sales(admin_b, team_b)["anna@acme.test"]
    assert (anna_b["calls"], anna_b["meetings"]) == (None, 0)


def test_a_deleted_teams_rows_stay_the_reps(org: Org, enterprise: tuple[Team, Any]) -> None:
    team_b, admin_b = enterprise
    _team_import(admin_b, team_b, _call_row("b-1", "2026-11-18T09:00:00+01:00"))
    team_b.delete()
    call = Call.objects.get(user=org.anna)
    assert call.team_id is None
    [day] = selectors.daily_quality(
        user=org.anna, date_from=dt.date(2026, 11, 18), date_to=dt.date(2026, 11, 18)
    )
    assert day["calls"] == 1


def test_a_large_streamed_team_import_sets_the_team(
    org: Org, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """A file over IMPORT_SYNC_MAX_BYTES is queued and written by the job in chunks, which
    PostgreSQL takes through COPY (chunks of COPY_MIN_ROWS rows or more, calls and meetings)."""
    settings.IMPORT_SYNC_MAX_BYTES = 1024
    start = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
    rows = []
    for index in range(COPY_MIN_ROWS + 100):
        email = ("anna@acme.test", "bram@acme.test")[index % 2]
        when = (start + dt.timedelta(minutes=10 * index)).isoformat()
        rows.append(_call_row(f"big-c-{index}", when, email=email))
        rows.append(_meeting_row(f"big-m-{index}", when, email=email))
    response = post_import(
        client_for(org.admin),
        (ENERGYTRACK_HEADER + "".join(rows)).encode(),
        format="energytrack",
        team_id=str(org.team.pk),
    )
    assert response.status_code == 202, response.content
    with CaptureQueriesContext(connection) as queries:
        tasks.import_job_run(response.json()["id"])
    assert ImportJob.objects.get(pk=response.json()["id"]).status == "done"
    if connection.vendor == "postgresql":
        # The rows went through the COPY path's temporary tables.
        statements = " ".join(query["sql"] for query in queries.captured_queries)
        assert "ingest_performance_call" in statements
        assert "ingest_performance_meeting" in statements
    total = COPY_MIN_ROWS + 100
    assert Call.objects.filter(team=org.team).count() == total
    assert Meeting.objects.filter(team=org.team).count() == total
    assert not Call.objects.filter(team__isnull=True).exists()
    assert not Meeting.objects.filter(team__isnull=True).exists()
    anna = _sales(org.admin, org.team)["anna@acme.test"]
    assert anna["calls"] == total // 2 and anna["meetings"] == total // 2


def _queries_for_team_view(admin: Any, team: Team, query: str) -> int:
    client = client_for(admin)
    client.get(f"/api/v1/performance/teams/{team.pk}/sales?{query}")  # warm the session
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/api/v1/performance/teams/{team.pk}/sales?{query}")
    assert response.status_code == 200
    return len(queries.captured_queries)


def test_team_view_queries_do_not_grow_with_reps_days_or_join_days(
    org: Org, enterprise: tuple[Team, Any], django_assert_max_num_queries: Any
) -> None:
    team_b, admin_b = enterprise
    month = "date_from=2026-11-01&date_to=2026-11-30"
    week = "date_from=2026-11-16&date_to=2026-11-22"
    _team_import(org.admin, org.team, _call_row("a-1", "2026-11-17T09:00:00+01:00"))
    _team_import(admin_b, team_b, _call_row("b-1", "2026-11-18T09:00:00+01:00"))
    _typed_calls(org.anna, "2026-11-19", 4)
    base = _queries_for_team_view(org.admin, org.team, week)
    # Many more reps, each joining on another day, with typed and imported figures.
    for index in range(12):
        rep = UserFactory(email=f"extra{index}@acme.test", timezone="Europe/Amsterdam")
        Membership.objects.create(team=org.team, user=rep, role=Role.REP)
        Membership.objects.create(team=team_b, user=rep, role=Role.REP)
        _joined(org.team, rep, f"2026-11-{index + 2:02d}T09:00:00+01:00")
        _typed_calls(rep, f"2026-11-{index + 10:02d}", index + 1)
        _typed_meeting(rep, f"2026-11-{index + 10:02d}T10:00:00+01:00")
        _team_import(
            admin_b, team_b, _call_row(f"x-{index}", "2026-11-18T10:00:00+01:00", email=rep.email)
        )
    assert _queries_for_team_view(org.admin, org.team, week) == base
    assert _queries_for_team_view(org.admin, org.team, month) == base
    admin = client_for(org.admin)
    with django_assert_max_num_queries(7):
        body = admin.get(_url(org)).json()
    reps = {rep["email"]: rep for rep in body["reps"]}
    assert len(reps) == 14
    # extra5 joined on the 7th and typed on the 15th: counted; team B's call is not.
    assert reps["extra5@acme.test"]["calls"] == 6
    assert reps["extra5@acme.test"]["meetings"] == 1
