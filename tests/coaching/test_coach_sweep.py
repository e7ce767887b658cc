"""Sweep of every coaching object route in the schema as two coaches who must see nothing:
a coach who has no share from this rep, and the coach whose share was revoked. Every method
answers 404 and changes nothing of the rep's."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from apps.coaching import services
from apps.coaching.models import AccessLogEntry
from apps.privacy.registry import handlers
from tests.coaching.helpers import LAST_WEEK, approved, draft, share
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
METHODS = ("get", "put", "patch", "post", "delete")
ROUTES = [
    (path, method)
    for path, item in SCHEMA["paths"].items()
    if path.startswith("/api/v1/coaching/") and "{" in path
    for method in METHODS
    if method in item
]
BODIES = {"patch": {"note": "hijack", "remove_sections": ["energy_trend"]}}


def coaching_export(user: Any) -> dict[str, Any]:
    return next(h for h in handlers() if h.app_label == "coaching").export_user(user)


def test_the_walk_covers_the_coach_and_rep_routes():
    paths = {path for path, _ in ROUTES}
    assert "/api/v1/coaching/coach/summaries/{summary_id}" in paths
    assert "/api/v1/coaching/summaries/{summary_id}/approve" in paths
    assert len(ROUTES) >= 6


@pytest.mark.parametrize("who", ["coach_without_grant", "coach_with_revoked_grant"])
@pytest.mark.parametrize(("path", "method"), ROUTES, ids=[f"{m} {p}" for p, m in ROUTES])
def test_coaches_without_a_live_grant_get_404(user, who, path, method):
    revoked_coach = UserFactory()
    revoked_grant = share(user, revoked_coach, scopes=["energy_trend", "personal_note"])
    shown = approved(revoked_grant)
    unapproved = draft(revoked_grant, LAST_WEEK - dt.timedelta(days=7))
    services.grant_revoke(grant=revoked_grant)
    if who == "coach_without_grant":
        # A real coach, with a live share from someone else, but none from this rep.
        attacker = UserFactory()
        approved(share(UserFactory(), attacker))
    else:
        attacker = revoked_coach
    client = APIClient()
    client.force_login(attacker)
    before = coaching_export(user)
    params = [
        {"grant_id": str(revoked_grant.pk), "summary_id": str(shown.pk)},
        {"grant_id": str(revoked_grant.pk), "summary_id": str(unapproved.pk)},
    ]
    for values in params:
        url = path.format(**{k: v for k, v in values.items() if "{" + k + "}" in path})
        response = getattr(client, method)(url, BODIES.get(method), format="json")
        assert response.status_code == 404, (who, method, url, response.content)
        assert response["Content-Type"] == "application/problem+json"
        assert str(shown.pk) not in response.content.decode()
    assert coaching_export(user) == before
    assert not AccessLogEntry.objects.filter(grant=revoked_grant).exists()
