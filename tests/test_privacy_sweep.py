"""The privacy sweep: every route in the OpenAPI schema, walked as a second user.

For each path that addresses an object, the owner creates one (fixtures in
``tests/<app>/sweep.py``) and another user tries every method on it: the answer must be 404
and the owner's data must be unchanged. Every list route is read as the other user and must
not mention any of the owner's ids. A new route without a sweep fixture fails this file.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from apps.privacy.models import Category
from apps.privacy.services import consent_grant, user_export
from tests.factories import UserFactory

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
    path.format(**params)
    for path, item in SCHEMA["paths"].items()
    if "get" in item and ("{" not in path or path in LIST_PARAMS)
    for params in LIST_PARAMS.get(path, [{}])
]
# Routes that are not about any user's objects.
PUBLIC_LIST_ROUTES = {"/api/v1/schema/", "/api/v1/docs/"}


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
    document = user_export(user=user)
    return document


def test_every_object_route_has_a_sweep_fixture() -> None:
    missing = sorted({path for path, _ in PARAM_ROUTES} - set(SWEEP))
    assert not missing, f"add these routes to a tests/<app>/sweep.py: {missing}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "method"), PARAM_ROUTES, ids=[f"{m} {p}" for p, m in PARAM_ROUTES]
)
def test_another_user_gets_404_and_changes_nothing(path: str, method: str) -> None:
    owner = _consenting_user()
    attacker = _consenting_user()
    cases = SWEEP[path](owner)
    before = _export(owner)
    client = _client(attacker)
    for case in cases:
        url = path.format(**case.params)
        response = getattr(client, method)(url, case.body or None, format="json")
        if path in OWN_SCOPE:
            assert response.status_code < 500, response.content
        else:
            assert response.status_code == 404, (
                url,
                method,
                response.status_code,
                response.content,
            )
            assert response["Content-Type"].startswith("application/problem+json")
        body = response.content.decode()
        for secret in case.secret_ids:
            assert secret not in body
    assert _export(owner) == before


@pytest.mark.django_db
def test_list_routes_never_show_another_users_objects() -> None:
    owner = _consenting_user()
    attacker = _consenting_user()
    secrets: list[str] = []
    for factory in SWEEP.values():
        for case in factory(owner):
            secrets.extend(case.secret_ids)
    assert secrets, "the sweep fixtures created nothing to look for"
    client = _client(attacker)
    checked = 0
    for path in LIST_ROUTES:
        if path in PUBLIC_LIST_ROUTES:
            continue
        response = client.get(path)
        assert response.status_code < 500, (path, response.content)
        body = response.content.decode()
        leaked = [secret for secret in secrets if secret in body]
        assert not leaked, f"{path} shows another user's objects: {leaked}"
        checked += 1
    assert checked >= 5
