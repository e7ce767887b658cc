"""The privacy sweep: every route in the OpenAPI schema, walked by everyone who is not the owner.

For each path that addresses an object, the owner creates one (fixtures in
``tests/<app>/sweep.py``) and someone else tries every method on it: the answer must be 404
and the owner's data must be unchanged. Every list route is read by the same people (also with
the owner's ids in its query parameters) and must not mention any of the owner's ids.

"Someone else" is each of (DESIGN.md §2, docs/privacy.md §1):

- another user;
- a coach without a share from the owner (a real coach, who reads another rep's summary);
- the coach whose share the owner revoked (who could read the owner's summary until then);
- an org admin of the owner's team, who is also the owner's line manager and was invited,
  never accepted, as a coach.

Each role is checked to be real before the walk (the coach reads a summary, the admin sees
the owner's sales), so a 404 means "not yours", not "this account cannot do anything".
A new route without a sweep fixture fails this file.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from apps.accounts.models import Role, User
from apps.coaching import services as coaching_services
from apps.coaching.selectors import last_complete_week
from apps.privacy.models import Category
from apps.privacy.services import consent_grant, user_export
from tests.coaching.sweep import OWNER_NOTE, share, weekly_summary
from tests.factories import MembershipFactory, TeamFactory, UserFactory
from tests.insights.sweep import DERIVED_SECRETS
from tests.sweep_types import SweepCase

TESTS_DIR = Path(__file__).parent


def _load_sweeps() -> tuple[dict[str, Any], set[str], dict[str, list[dict[str, str]]]]:
    sweep: dict[str, Any] = {}
    own_scope: set[str] = set()
    list_params: dict[str, list[dict[str, str]]] = {}
    for module_path in sorted(TESTS_DIR.glob("*/sweep.py")):
        module = importlib.import_module(f"tests.{module_path.parent.name}.sweep")
        sweep.update(module.SWEEP)
        own_scope |= set(getattr(module, "OWN_SCOPE_PATHS", set()))
        list_params.update(getattr(module, "LIST_PARAMS", {}))
    return sweep, own_scope, list_params


SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
SWEEP, OWN_SCOPE, LIST_PARAMS = _load_sweeps()
METHODS = ("get", "put", "patch", "post", "delete")
PARAM_ROUTES = [
    (path, method)
    for path, item in SCHEMA["paths"].items()
    if "{" in path and path not in LIST_PARAMS
    for method in METHODS
    if method in item
]
# Collection routes, with their enumerated parameters (e.g. one per journal kind).
LIST_ROUTES = [
    (path, path.format(**params))
    for path, item in SCHEMA["paths"].items()
    if "get" in item and ("{" not in path or path in LIST_PARAMS)
    for params in LIST_PARAMS.get(path, [{}])
]
# Routes that are not about any user's objects.
PUBLIC_LIST_ROUTES = {"/api/v1/schema/", "/api/v1/docs/"}
# The attacker's own data export: it lists the shares they received and their own reads as a
# coach (ids and dates, never a summary's content, apps/coaching/privacy.py), so a revoked
# coach legitimately finds the ids of what they once read there, and nowhere else.
OWN_RECORD_ROUTES = {"/api/v1/privacy/export"}

ANOTHER_USER = "another user"
COACH_WITHOUT_GRANT = "coach without a grant"
COACH_WITH_REVOKED_GRANT = "coach with a revoked grant"
ORG_ADMIN = "org admin of the owner's team"
ROLES = (ANOTHER_USER, COACH_WITHOUT_GRANT, COACH_WITH_REVOKED_GRANT, ORG_ADMIN)


@dataclass
class Attacker:
    """Someone who is not the owner, and the owner's objects they were once close to: a share
    that was revoked, an invitation never accepted. Those are walked on top of the fixtures."""

    user: User
    once_shared: list[dict[str, str]] = field(default_factory=list)
    secret_ids: list[str] = field(default_factory=list)
    # Ids the attacker's own export may list (OWN_RECORD_ROUTES).
    own_record: set[str] = field(default_factory=set)


def _consenting_user() -> Any:
    user = UserFactory()
    for category in Category.values:
        consent_grant(user=user, category=category)
    return user


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def _export(user: Any) -> Any:
    return user_export(user=user)


def _coach_without_grant() -> Attacker:
    coach = _consenting_user()
    theirs = weekly_summary(share(_consenting_user(), coach), approve=True, note="not the owner")
    # The coach API works for this account: a 404 on the owner's objects means "not yours".
    response = _client(coach).get(f"/api/v1/coaching/coach/summaries/{theirs.pk}")
    assert response.status_code == 200, response.content
    return Attacker(user=coach)


def _coach_with_revoked_grant(owner: User) -> Attacker:
    coach = _consenting_user()
    grant = share(owner, coach)
    shown = weekly_summary(grant, approve=True)
    week = last_complete_week(
        tz_name=owner.timezone, day_boundary_hour=owner.day_boundary_hour, now=timezone.now()
    )
    unapproved = weekly_summary(grant, approve=False, week_start=week - dt.timedelta(days=7))
    summary_url = f"/api/v1/coaching/coach/summaries/{shown.pk}"
    assert _client(coach).get(summary_url).status_code == 200, "the share never worked"
    coaching_services.grant_revoke(grant=grant)
    ids = {"grant_id": str(grant.pk)}
    return Attacker(
        user=coach,
        once_shared=[
            {**ids, "summary_id": str(shown.pk)},
            {**ids, "summary_id": str(unapproved.pk)},
        ],
        secret_ids=[str(grant.pk), str(shown.pk), str(unapproved.pk)],
        own_record={str(grant.pk), str(shown.pk)},
    )


def _org_admin(owner: User) -> Attacker:
    team: Any = TeamFactory()
    admin = _consenting_user()
    MembershipFactory(team=team, user=admin, role=Role.ORG_ADMIN)
    MembershipFactory(team=team, user=owner, role=Role.REP, manager=admin)
    sales = _client(admin).get(f"/api/v1/performance/teams/{team.pk}/sales")
    assert sales.status_code == 200, sales.content
    assert owner.email in sales.content.decode(), "the admin does not administer the owner"
    # The owner invited their manager as a coach; the invitation was never accepted.
    pending, _raw = coaching_services.grant_create(
        rep=owner, coach_email=admin.email, scopes=["energy_trend"]
    )
    return Attacker(
        user=admin, once_shared=[{"grant_id": str(pending.pk)}], secret_ids=[str(pending.pk)]
    )


def _attacker(role: str, owner: User) -> Attacker:
    if role == COACH_WITHOUT_GRANT:
        return _coach_without_grant()
    if role == COACH_WITH_REVOKED_GRANT:
        return _coach_with_revoked_grant(owner)
    if role == ORG_ADMIN:
        return _org_admin(owner)
    return Attacker(user=_consenting_user())


def _path_names(path: str) -> set[str]:
    return set(re.findall(r"{(\w+)}", path))


def test_every_object_route_has_a_sweep_fixture() -> None:
    missing = sorted({path for path, _ in PARAM_ROUTES} - set(SWEEP))
    assert not missing, f"add these routes to a tests/<app>/sweep.py: {missing}"


def test_the_sweep_reaches_the_coaching_routes_with_once_shared_ids() -> None:
    # The revoked coach's grant and summaries must be tried on every coaching object route.
    names = {"grant_id", "summary_id"}
    reached = {path for path, _ in PARAM_ROUTES if _path_names(path) and _path_names(path) <= names}
    assert reached >= {
        "/api/v1/coaching/grants/{grant_id}",
        "/api/v1/coaching/grants/{grant_id}/revoke",
        "/api/v1/coaching/summaries/{summary_id}",
        "/api/v1/coaching/summaries/{summary_id}/approve",
        "/api/v1/coaching/coach/summaries/{summary_id}",
    }


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("path", "method"), PARAM_ROUTES, ids=[f"{m} {p}" for p, m in PARAM_ROUTES]
)
def test_nobody_else_gets_the_owners_objects_and_nothing_changes(
    path: str, method: str, role: str
) -> None:
    owner = _consenting_user()
    attacker = _attacker(role, owner)
    cases = SWEEP[path](owner)
    names = _path_names(path)
    cases += [
        SweepCase(
            params={name: params[name] for name in names},
            body=cases[0].body,
            secret_ids=attacker.secret_ids,
        )
        for params in attacker.once_shared
        if names <= params.keys()
    ]
    before = _export(owner)
    client = _client(attacker.user)
    for case in cases:
        url = path.format(**case.params)
        response = getattr(client, method)(url, case.body or None, format="json")
        if path in OWN_SCOPE:
            assert response.status_code < 500, response.content
        else:
            assert response.status_code == 404, (
                role,
                url,
                method,
                response.status_code,
                response.content,
            )
            assert response["Content-Type"].startswith("application/problem+json")
        body = response.content.decode()
        for secret in case.secret_ids:
            assert secret not in body, (role, url, method, secret)
    assert _export(owner) == before


def _list_urls(path: str, url: str, known: dict[str, set[str]]) -> list[str]:
    """The bare URL, plus one per query parameter that can carry one of the owner's ids."""
    urls = [url]
    for parameter in SCHEMA["paths"][path]["get"].get("parameters", []):
        if parameter["in"] == "query":
            urls += [
                f"{url}?{urlencode({parameter['name']: value})}"
                for value in sorted(known.get(parameter["name"], set()))
            ]
    return urls


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_list_routes_never_show_the_owners_objects(role: str) -> None:
    owner = _consenting_user()
    attacker = _attacker(role, owner)
    secrets: list[str] = [*attacker.secret_ids, OWNER_NOTE]
    known: dict[str, set[str]] = {}
    for factory in SWEEP.values():
        for case in factory(owner):
            secrets.extend(case.secret_ids)
            for name, value in case.params.items():
                known.setdefault(name, set()).add(value)
    for params in attacker.once_shared:
        for name, value in params.items():
            known.setdefault(name, set()).add(value)
    assert secrets, "the sweep fixtures created nothing to look for"
    assert known.get("grant_id"), "no grant id to put in ?grant_id="
    before = _export(owner)
    client = _client(attacker.user)
    checked = 0
    for path, bare_url in LIST_ROUTES:
        if path in PUBLIC_LIST_ROUTES:
            continue
        for url in _list_urls(path, bare_url, known):
            response = client.get(url)
            assert response.status_code < 500, (role, url, response.content)
            body = response.content.decode()
            allowed = attacker.own_record if path in OWN_RECORD_ROUTES else set()
            leaked = [secret for secret in secrets if secret in body and secret not in allowed]
            assert not leaked, f"{role}: {url} shows the owner's objects: {leaked}"
            checked += 1
    assert checked >= 40, checked
    assert _export(owner) == before


@pytest.mark.django_db
def test_the_owner_sees_what_the_list_walk_looks_for() -> None:
    """The list walk above is not blind: the same walk as the owner finds their ids."""
    owner = _consenting_user()
    secrets = [secret for f in SWEEP.values() for case in f(owner) for secret in case.secret_ids]
    secrets.append(OWNER_NOTE)
    client = _client(owner)
    seen = {
        secret
        for path, url in LIST_ROUTES
        if path not in PUBLIC_LIST_ROUTES
        for secret in secrets
        if secret in client.get(url).content.decode()
    }
    # Journal entries, insights, notifications, coaching grants and summaries are all listed,
    # and so are the day values and progress the insights derived.
    assert OWNER_NOTE in seen
    assert set(DERIVED_SECRETS) <= seen, seen
    assert len(seen) >= 10, seen
