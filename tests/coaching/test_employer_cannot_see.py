"""Team view without lifestyle data (DESIGN.md §2.2): no route anywhere gives the employer a
rep's journal data, per person or aggregated, and Django admin shows none of it.

A rep logs distinctive values (a note text, 13.7 drinks, a 437-minute night, an energy mean of
8.33, odd exercise and activity names), gets day features, insights and an approved coaching
summary for another coach. Their org admin, who is also their line manager, then walks every
GET route in the OpenAPI schema with the rep's ids and team id filled in. The same walk as the
rep must find the values, which proves the walk reaches them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from apps.accounts.models import Role
from apps.coaching import services as coaching_services
from apps.coaching.models import AccessLogEntry, ShareGrant, Summary
from apps.insights.services import day_features_rebuild
from apps.journal.models import ENTRY_MODELS
from apps.journal.services import EntryInput, entries_upsert
from apps.privacy.models import Category
from apps.privacy.services import consent_grant
from tests.coaching.helpers import ALL_SCOPES, LAST_WEEK, NOW, approved, make_insight, share
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
GET_ROUTES = sorted(path for path, item in SCHEMA["paths"].items() if "get" in item)
# Not about anyone's data.
PUBLIC_ROUTES = {"/api/v1/schema/", "/api/v1/docs/"}
MAX_URLS_PER_ROUTE = 60

NOTE = "papaya-lantern-9931"
EXERCISE = "zorbing-qx"
ACTIVITY = "kwartet-qx"
DRINKS = Decimal("13.7")
SLEEP_MINUTES = 437
ENERGY_MEAN = 8.33  # levels 9, 8, 8
INSIGHT_MEAN = 7.77
SECRET_NUMBERS = (float(DRINKS), float(SLEEP_MINUTES), 25 / 3, INSIGHT_MEAN)
SECRET_NUMBER_TEXTS = ("13.7", "13.70", "437", "8.33", "8,33", "8.3", "8,3", "7.77", "7.8")

DAY = "2026-11-18"  # a Wednesday in the last complete week (LAST_WEEK)
BODIES: list[tuple[str, dict[str, Any]]] = [
    ("sleep", {"occurred_at": f"{DAY}T07:00:00+01:00", "bedtime": "2026-11-17T23:43:00+01:00"}),
    ("energy", {"occurred_at": f"{DAY}T09:00:00+01:00", "level": 9}),
    ("energy", {"occurred_at": f"{DAY}T12:00:00+01:00", "level": 8}),
    ("energy", {"occurred_at": f"{DAY}T15:00:00+01:00", "level": 8}),
    ("alcohol", {"occurred_at": f"{DAY}T20:00:00+01:00", "standard_drinks": DRINKS}),
    (
        "exercise",
        {"occurred_at": f"{DAY}T18:00:00+01:00", "exercise_type": EXERCISE, "duration_minutes": 73},
    ),
    ("activity", {"occurred_at": f"{DAY}T19:00:00+01:00", "what": ACTIVITY, "effect": "gave"}),
    ("meal", {"occurred_at": f"{DAY}T12:30:00+01:00", "meal_type": "lunch", "heaviness": "heavy"}),
]


class Scene:
    """The rep, their team and employer, and every id of the rep's data."""

    def __init__(self) -> None:
        self.team = TeamFactory()
        self.org_admin = UserFactory(email="admin@employer.example")
        self.rep = UserFactory(email="rep@employer.example")
        MembershipFactory(team=self.team, user=self.org_admin, role=Role.ORG_ADMIN)
        # The org admin is also the rep's line manager: the closest the employer gets.
        MembershipFactory(team=self.team, user=self.rep, role=Role.REP, manager=self.org_admin)
        for category in Category.values:
            consent_grant(user=self.rep, category=category)

        self.entry_ids: list[str] = []
        for kind, values in BODIES:
            entry_id = uuid.uuid4()
            parsed = {
                k: parse_datetime(v) if k in ("occurred_at", "bedtime") else v
                for k, v in values.items()
            }
            outcome = entries_upsert(
                user=self.rep,
                items=[EntryInput(kind=kind, id=entry_id, values={**parsed, "note": NOTE})],
            )[0]
            assert outcome.result == "created", outcome
            self.entry_ids.append(str(entry_id))
        day_features_rebuild(
            user_ids=[self.rep.pk],
            date_from=LAST_WEEK - dt.timedelta(days=28),
            date_to=NOW.date(),
        )

        self.insights = [
            make_insight(self.rep, mean_high=INSIGHT_MEAN),
            make_insight(self.rep, outcome="energy_mean", mean_high=INSIGHT_MEAN + 0.01),
        ]
        self.insight_ids = [str(i.pk) for i in self.insights]
        self.insight_message_part = "your qualified meetings averaged 7.8"

        # A real coach (not the employer) with an approved summary of everything...
        self.coach = UserFactory(email="carla@coaching.example")
        coach_grant = share(self.rep, self.coach, scopes=ALL_SCOPES, insights=self.insights[:1])
        summary = Summary.objects.get(pk=approved(coach_grant).pk)
        assert summary.sections["energy_trend"]["mean_energy"] == 8.3
        # ...and an invitation to the org admin that was never accepted.
        pending, _raw = coaching_services.grant_create(
            rep=self.rep, coach_email=self.org_admin.email, scopes=["energy_trend"]
        )
        self.grant_ids = [str(coach_grant.pk), str(pending.pk)]
        self.summary_ids = [str(summary.pk)]

    @property
    def all_ids(self) -> list[str]:
        return [*self.entry_ids, *self.insight_ids, *self.grant_ids, *self.summary_ids]

    def secret_strings(self) -> dict[str, list[str]]:
        return {
            "note": [NOTE],
            "lifestyle words": [EXERCISE, ACTIVITY],
            "entry ids": self.entry_ids,
            "insight ids": self.insight_ids,
            "insight text": [self.insight_message_part],
            "coaching ids": [*self.grant_ids, *self.summary_ids],
            # Whom the rep chose as coach is the rep's business, not the employer's.
            "coach identity": [self.coach.email],
        }

    # --- building URLs from the schema ----------------------------------------------------

    def path_values(self, name: str, enum: list[str] | None) -> list[str]:
        if enum:
            return [str(v) for v in enum]
        by_name = {
            "team_id": [str(self.team.pk)],
            "entry_id": self.entry_ids,
            "insight_id": self.insight_ids,
            "grant_id": self.grant_ids,
            "summary_id": self.summary_ids,
        }
        if name in by_name:
            return by_name[name]
        if re.search(r"user|rep|member|owner|person", name):
            return [str(self.rep.pk)]
        # Anything else: every id of the rep, their own id and the team's.
        return [str(self.rep.pk), str(self.team.pk), *self.all_ids]

    def query_value(self, name: str, enum: list[str] | None) -> str | None:
        if enum:
            return str(enum[-1])
        if "team" in name:
            return str(self.team.pk)
        if re.search(r"^(user|rep|member|owner)(_id)?$", name):
            return str(self.rep.pk)
        if name == "grant_id":
            return self.grant_ids[0]
        if name == "date_from":
            return (LAST_WEEK - dt.timedelta(days=28)).isoformat()
        if name == "date_to":
            return NOW.date().isoformat()
        if name.startswith("include_"):
            return "true"
        return None

    def urls(self, path: str) -> list[str]:
        parameters = SCHEMA["paths"][path]["get"].get("parameters", [])
        path_params = [p for p in parameters if p["in"] == "path"]
        choices = [
            self.path_values(p["name"], p.get("schema", {}).get("enum")) for p in path_params
        ]
        names = [p["name"] for p in path_params]
        query = {
            p["name"]: value
            for p in parameters
            if p["in"] == "query"
            and (value := self.query_value(p["name"], p.get("schema", {}).get("enum")))
        }
        query_string = "&".join(f"{k}={v}" for k, v in query.items())
        urls = []
        for combo in itertools.islice(itertools.product(*choices), MAX_URLS_PER_ROUTE):
            url = path.format(**dict(zip(names, combo, strict=True)))
            urls.append(url)
            if query_string:
                urls.append(f"{url}?{query_string}")
        return urls


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def found_secrets(scene: Scene, body: str) -> set[str]:
    found = {
        kind for kind, values in scene.secret_strings().items() if any(v in body for v in values)
    }
    try:
        leaves = _leaves(json.loads(body))
    except ValueError:
        leaves = []
    for leaf in leaves:
        if isinstance(leaf, bool):
            continue
        if isinstance(leaf, int | float) and any(abs(leaf - n) < 0.006 for n in SECRET_NUMBERS):
            found.add(f"number {leaf}")
        if isinstance(leaf, str) and leaf in SECRET_NUMBER_TEXTS:
            found.add(f"number {leaf!r}")
    return found


def walk(scene: Scene, user: Any) -> tuple[dict[str, set[str]], int]:
    client = APIClient()
    client.force_login(user)
    seen: dict[str, set[str]] = {}
    requests = 0
    for path in GET_ROUTES:
        if path in PUBLIC_ROUTES:
            continue
        for url in scene.urls(path):
            response = client.get(url)
            requests += 1
            assert response.status_code < 500, (url, response.status_code, response.content[:300])
            found = found_secrets(scene, response.content.decode(errors="replace"))
            if found:
                seen[url] = found
    return seen, requests


def test_no_route_gives_the_org_admin_any_journal_data() -> None:
    scene = Scene()
    leaks, requests = walk(scene, scene.org_admin)
    assert not leaks, f"the employer sees the rep's lifestyle data: {leaks}"
    assert requests >= 40, requests
    # Walking reads nothing on the rep's behalf: no coach read was logged.
    assert not AccessLogEntry.objects.exists()


@pytest.mark.parametrize("who", ["another rep", "the coach after the grant was revoked"])
def test_no_route_gives_anyone_else_the_reps_values(who: str) -> None:
    """The same walk for people who are no employer: nothing of the rep's, values included
    (the id sweep of tests/test_privacy_sweep.py looks for ids only)."""
    scene = Scene()
    # The coach's own account and own record of the share (its id, in their export) are theirs.
    own: set[str] = set()
    if who == "another rep":
        actor = UserFactory()
        MembershipFactory(team=scene.team, user=actor, role=Role.REP)
    else:
        coaching_services.grant_revoke(grant=ShareGrant.objects.get(pk=scene.grant_ids[0]))
        actor = scene.coach
        own = {"coach identity", "coaching ids"}
    seen, requests = walk(scene, actor)
    leaks = {url: found - own for url, found in seen.items() if found - own}
    assert not leaks, f"{who} sees the rep's data: {leaks}"
    assert requests >= 40, requests


def test_the_same_walk_as_the_rep_finds_every_kind_of_secret() -> None:
    """Proves the walk above reaches the data: a blind walk would pass for nothing."""
    scene = Scene()
    seen, _ = walk(scene, scene.rep)
    everything = set().union(*seen.values())
    for kind in scene.secret_strings():
        assert kind in everything, f"the rep's walk never saw their {kind}"
    numbers = {item for item in everything if item.startswith("number")}
    assert numbers, "no distinctive number was seen"
    for path in ("/api/v1/journal/{kind}/{entry_id}", "/api/v1/insights/{insight_id}"):
        prefix = path.split("{")[0]
        assert any(url.startswith(prefix) for url in seen), path


def test_a_team_invitation_does_not_make_the_org_admin_a_coach() -> None:
    scene = Scene()
    pending = ShareGrant.objects.get(coach_email=scene.org_admin.email)
    assert pending.coach is None
    assert [w["code"] for w in pending.warnings] == ["line_manager", "org_admin"]


# --- Django admin -----------------------------------------------------------------------------


def test_journal_models_are_not_registered_in_admin() -> None:
    registered = set(admin.site._registry)
    assert not registered & set(ENTRY_MODELS.values())
    # Coaching summaries hold lifestyle aggregates: not in admin either.
    assert not registered & {ShareGrant, Summary, AccessLogEntry}


def test_admin_pages_show_no_journal_content_even_to_a_superuser() -> None:
    scene = Scene()
    superuser = UserFactory(is_staff=True, is_superuser=True)
    client = APIClient()
    client.force_login(superuser)
    pages = [reverse("admin:index")]
    for model in admin.site._registry:
        opts = model._meta
        pages.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    for url in pages:
        response = client.get(url)
        assert response.status_code in (200, 302, 403), (url, response.status_code)
        body = response.content.decode(errors="replace")
        # The operator may see accounts (the coach's e-mail among them), never lifestyle data.
        leaked = [
            secret
            for kind, values in scene.secret_strings().items()
            if kind != "coach identity"
            for secret in values
            if secret in body
        ]
        assert not leaked, (url, leaked)
    # The org admin is an employer account, not staff: no admin at all.
    employer = APIClient()
    employer.force_login(scene.org_admin)
    assert employer.get(reverse("admin:index")).status_code == 302


def test_admin_user_deletion_names_no_journal_row_and_erases_like_the_rep() -> None:
    """Deleting a rep in admin: the confirmation page lists the account only (Django would
    list each entry with its date: when the rep drank, slept, exercised), and the deletion is
    the rep's own erasure, export files included."""
    from django.core.files.storage import default_storage

    from apps.privacy.models import DataExport
    from apps.privacy.services import export_build

    scene = Scene()
    export = DataExport.objects.create(user=scene.rep)
    export_build(export_id=export.pk)
    file_name = DataExport.objects.get(pk=export.pk).file_name
    assert default_storage.exists(file_name)
    superuser = UserFactory(is_staff=True, is_superuser=True)
    client = APIClient()
    client.force_login(superuser)
    url = reverse("admin:accounts_user_delete", args=[scene.rep.pk])

    page = client.get(url)

    assert page.status_code == 200
    body = page.content.decode()
    assert scene.rep.email in body
    for kind, _values in BODIES:
        assert f"{kind} entry" not in body
    # Nor a count per model ("<li>Insights: 2</li>"): only the accounts.
    from django.apps import apps as django_apps

    for model in django_apps.get_models():
        if model is not type(scene.rep):
            assert f"{model._meta.verbose_name_plural}: ".lower() not in body.lower(), model

    done = client.post(url, "post=yes", content_type="application/x-www-form-urlencoded")

    assert done.status_code == 302
    assert not type(scene.rep).objects.filter(pk=scene.rep.pk).exists()
    assert not default_storage.exists(file_name)
