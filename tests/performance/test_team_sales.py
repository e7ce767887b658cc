"""The org admin's team view: sales figures per rep, nothing else, nobody else."""

from __future__ import annotations

import ast
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.utils.dateparse import parse_datetime

from apps.accounts.models import Membership, Role, Team
from apps.journal.services import EntryInput, entries_upsert
from apps.performance import services
from apps.privacy.models import Category
from apps.privacy.services import consent_grant
from tests.core.problems import assert_problem
from tests.factories import UserFactory
from tests.performance.conftest import Org, client_for, data_file, post_import

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
