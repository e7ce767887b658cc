"""OWASP API2: no answer tells a caller whether an e-mail address has an account.

Login and password reset: tests/accounts/test_apis.py
(test_wrong_password_and_unknown_email_look_the_same,
test_password_reset_same_answer_for_known_and_unknown_email,
test_reset_answer_does_not_reveal_accounts_when_mail_fails). Here: the invitations a team
admin or a rep sends (to a registered address or not), reset links for a user who exists or
not, and the rows of a team import or CRM webhook naming someone outside the team.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.test import APIClient

from apps.accounts.models import Role
from apps.accounts.services import team_create
from apps.performance import tasks as performance_tasks
from apps.performance.models import Call, CrmConnection, ImportJob, WebhookEvent
from apps.performance.services import crm_connection_create
from tests.core.problems import assert_problem
from tests.factories import MembershipFactory
from tests.security.scene import (
    NEW_PASSWORD,
    client_for,
    consenting,
    json_bytes,
    post_signed_webhook,
    recent,
)

pytestmark = pytest.mark.django_db

# Values that differ between any two answers, whoever the address belongs to.
PER_REQUEST = {"id", "email", "coach_email", "expires_at", "invitation_expires_at", "created_at"}


def _without_per_request_values(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in PER_REQUEST}


def test_a_team_invitation_looks_the_same_for_a_registered_address(
    django_capture_on_commit_callbacks: Any,
) -> None:
    admin = consenting()
    team = team_create(name="North", creator=admin)
    registered = consenting(email="has.account@example.com")
    client = client_for(admin)
    url = f"/api/v1/teams/{team.pk}/invitations"
    with django_capture_on_commit_callbacks(execute=True):
        known = client.post(url, {"email": registered.email, "role": Role.REP})
        unknown = client.post(url, {"email": "no.account@example.com", "role": Role.REP})
    assert known.status_code == unknown.status_code == 201
    assert known.json().keys() == unknown.json().keys()
    assert _without_per_request_values(known.json()) == _without_per_request_values(unknown.json())
    # Both get the same mail: the invitee, not the admin, learns whether they have an account.
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [registered.email, "no.account@example.com"]
    )
    bodies = {m.to[0]: m.body.split("token=")[0] for m in mail.outbox}
    assert bodies[registered.email] == bodies["no.account@example.com"]


def test_a_coaching_share_looks_the_same_for_a_registered_coach() -> None:
    rep = consenting()
    registered = consenting(email="coach.with.account@example.com")
    client = client_for(rep)
    body = {"scopes": ["energy_trend"]}
    known = client.post("/api/v1/coaching/grants", {**body, "coach_email": registered.email})
    unknown = client.post(
        "/api/v1/coaching/grants", {**body, "coach_email": "coach.without@example.com"}
    )
    assert known.status_code == unknown.status_code == 201
    assert _without_per_request_values(known.json()) == _without_per_request_values(unknown.json())
    assert known.json()["coach_name"] is None  # only an accepted share names the coach
    listed = {g["coach_email"]: g for g in client.get("/api/v1/coaching/grants").json()}
    assert _without_per_request_values(listed[registered.email]) == _without_per_request_values(
        listed["coach.without@example.com"]
    )


def test_a_reset_link_for_an_unknown_user_fails_like_a_wrong_token() -> None:
    user = consenting()
    client = APIClient()
    url = "/api/v1/auth/password/reset/confirm"
    body = {"token": "not-the-token", "new_password": NEW_PASSWORD}
    existing = client.post(url, {**body, "uid": urlsafe_base64_encode(force_bytes(user.pk))})
    missing = client.post(
        url,
        {**body, "uid": urlsafe_base64_encode(force_bytes("00000000-0000-0000-0000-000000000000"))},
    )
    garbage = client.post(url, {**body, "uid": "%%%"})
    assert_problem(existing, 400, fields=["token"])
    assert existing.content == missing.content == garbage.content


@pytest.fixture
def outsider_and_team(settings: Any, tmp_path: Any) -> tuple[Any, Any, Any]:
    """A team with a rep and a CRM connection, and a registered outsider with sales data."""
    settings.MEDIA_ROOT = str(tmp_path)
    admin = consenting()
    team = team_create(name="Team with a CRM", creator=admin)
    rep = consenting()
    MembershipFactory(team=team, user=rep, role=Role.REP)
    outsider = consenting(email="outsider@example.com")
    content = f"kind,external_id,occurred_at,outcome\ncall,own-1,{recent()},busy\n"
    own = client_for(outsider).post(
        "/api/v1/performance/imports",
        {"file": SimpleUploadedFile("own.csv", content.encode()), "format": "energytrack"},
        format="multipart",
    )
    assert own.status_code == 201, own.content
    return admin, team, outsider


def test_a_team_import_cannot_write_to_or_reveal_someone_outside_the_team(
    outsider_and_team: tuple[Any, Any, Any],
) -> None:
    admin, team, outsider = outsider_and_team
    before = list(Call.objects.filter(user=outsider).values())
    rows = "\n".join(
        f"call,x-{n},{recent()},connected,{email}"
        for n, email in enumerate([outsider.email, "nobody@example.com"])
    )
    content = f"kind,external_id,occurred_at,outcome,owner_email\n{rows}\n"
    response = client_for(admin).post(
        "/api/v1/performance/imports",
        {
            "file": SimpleUploadedFile("team.csv", content.encode()),
            "format": "energytrack",
            "team_id": str(team.pk),
            "mode": "valid_rows_only",
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert list(Call.objects.filter(user=outsider).values()) == before
    job = ImportJob.objects.get(pk=response.json()["id"])
    reasons = [row["reason"] for row in job.report]
    # A registered outsider is refused in the same words as an address nobody has.
    assert reasons == [
        f"No member of this team has the e-mail address {outsider.email}.",
        "No member of this team has the e-mail address nobody@example.com.",
    ], reasons


def test_a_crm_webhook_cannot_write_to_someone_outside_the_team(
    outsider_and_team: tuple[Any, Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _admin, team, outsider = outsider_and_team
    # The broker is the outside world here: the drain runs below, in this process.
    monkeypatch.setattr("apps.core.tasks.app.send_task", lambda *args, **kwargs: None)
    connection, secret = crm_connection_create(team=team, name="CRM")
    before = list(Call.objects.filter(user=outsider).values())
    activity = {
        "kind": "call",
        "external_id": "webhook-1",
        "owner_email": outsider.email,
        "occurred_at": recent(),
        "outcome": "connected",
    }
    raw = json_bytes({"event_id": "evt-outsider", "activities": [activity]})
    response = post_signed_webhook(f"/api/v1/performance/webhooks/{connection.pk}", secret, raw)
    assert response.status_code == 202, response.content
    assert performance_tasks.webhook_events_drain(str(connection.pk)) == 1
    event = WebhookEvent.objects.get(event_id="evt-outsider")
    assert event.result["unknown_reps"] == [outsider.email], json.dumps(event.result)
    assert list(Call.objects.filter(user=outsider).values()) == before
    assert CrmConnection.objects.filter(team=team).count() == 1
