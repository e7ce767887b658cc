"""OWASP API3 (property-level authorisation, mass assignment) on every writable endpoint.

Every operation of the OpenAPI schema that takes a body gets a valid body plus fields a
client must never set: whose object it is (``user``, ``owner``, ``rep``, ``coach``), what it
is allowed (``role``, ``is_staff``, ``approved``), and which row it is (``id`` of the victim's
entry). The API must refuse them with a 400 naming each field and change nothing in any
table; the same body without them must then succeed, so the 400 came from the extra fields
and nothing else. Fields an operation really declares (``role`` of an invitation, ``id`` of a
check-in) are left out here: their authorisation is tested where tests/security/README.md says.

Operations without a body get the same fields too: they must be ignored, and nothing of the
victim, nobody's privileges and no membership may change.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from apps.accounts.models import Membership, User
from apps.notifications.services import email_unsubscribe_token
from apps.performance.models import WebhookEvent
from apps.privacy.services import user_export
from tests.core.problems import assert_problem
from tests.factories import UserFactory
from tests.journal.sweep import ENTRY_BODIES
from tests.notifications.fakepush import FakeBrowser
from tests.security.scene import (
    ACTOR_PUSH_ENDPOINT,
    NEW_PASSWORD,
    PASSWORD,
    Scene,
    build_scene,
    client_for,
    database_snapshot,
    json_bytes,
    post_signed_webhook,
    recent,
)
from tests.test_privacy_sweep import SWEEP

pytestmark = pytest.mark.django_db

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
WRITE_METHODS = ("post", "put", "patch", "delete")


def _declared_fields(operation: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for content in operation["requestBody"]["content"].values():
        schema = content["schema"]
        refs = schema.get("oneOf", [schema])
        for ref in refs:
            name = ref["$ref"].split("/")[-1]
            names |= set(SCHEMA["components"]["schemas"][name].get("properties", {}))
    return names


BODY_OPERATIONS = {
    (method, path): _declared_fields(item[method])
    for path, item in SCHEMA["paths"].items()
    for method in WRITE_METHODS
    if method in item and "requestBody" in item[method]
}
NO_BODY_OPERATIONS = sorted(
    (method, path)
    for path, item in SCHEMA["paths"].items()
    for method in WRITE_METHODS
    if method in item and "requestBody" not in item[method]
)


def forbidden_fields(scene: Scene) -> dict[str, Any]:
    """What an attacker would like to set: the victim as owner, more rights, another row."""
    victim = str(scene.victim.pk)
    return {
        "user": victim,
        "user_id": victim,
        "owner": victim,
        "rep": victim,
        "coach": str(scene.actor.pk),
        "role": "org_admin",
        "is_staff": True,
        "is_superuser": True,
        "approved": True,
        "status": "approved",
        "id": scene.victim_entry_id,
        "team_id": str(scene.team.pk),
        "created_at": "2000-01-01T00:00:00Z",
    }


@dataclass
class Call:
    """One request: who sends it, where, the valid body, and what success looks like."""

    url: str
    body: dict[str, Any]
    ok: set[int]
    as_user: str | None = "actor"  # None: anonymous
    multipart: bool = False
    # The webhook is signed over the raw body: its headers depend on the body sent.
    signed_with: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _csv_upload() -> SimpleUploadedFile:
    content = f"kind,external_id,occurred_at,outcome\ncall,ma-1,{recent()},connected\n"
    return SimpleUploadedFile("calls.csv", content.encode(), "text/csv")


def _export_upload() -> SimpleUploadedFile:
    # A real export of an account that holds no journal data yet.
    document = user_export(user=UserFactory())
    raw = json.dumps(document, default=str).encode()
    return SimpleUploadedFile("export.json", raw, "application/json")


def _energy_body() -> dict[str, Any]:
    return dict(ENTRY_BODIES["energy"])


VALID: dict[tuple[str, str], Callable[[Scene], Call]] = {
    ("post", "/api/v1/auth/login"): lambda s: Call(
        "/api/v1/auth/login", {"email": s.actor.email, "password": PASSWORD}, {200}, None
    ),
    ("patch", "/api/v1/auth/me"): lambda s: Call(
        "/api/v1/auth/me", {"display_name": "Renamed"}, {200}
    ),
    ("post", "/api/v1/auth/password/change"): lambda s: Call(
        "/api/v1/auth/password/change",
        {"old_password": PASSWORD, "new_password": NEW_PASSWORD},
        {204},
    ),
    ("post", "/api/v1/auth/password/reset"): lambda s: Call(
        "/api/v1/auth/password/reset", {"email": s.actor.email}, {202}, None
    ),
    ("post", "/api/v1/auth/password/reset/confirm"): lambda s: Call(
        "/api/v1/auth/password/reset/confirm",
        {
            "uid": urlsafe_base64_encode(force_bytes(s.actor.pk)),
            "token": default_token_generator.make_token(s.actor),
            "new_password": NEW_PASSWORD,
        },
        {204},
        None,
    ),
    ("post", "/api/v1/auth/tokens"): lambda s: Call(
        "/api/v1/auth/tokens", {"name": "script"}, {201}
    ),
    ("post", "/api/v1/coaching/grants"): lambda s: Call(
        "/api/v1/coaching/grants",
        {"coach_email": "new.coach@example.com", "scopes": ["energy_trend"]},
        {201},
    ),
    ("post", "/api/v1/coaching/invitations/accept"): lambda s: Call(
        "/api/v1/coaching/invitations/accept", {"token": s.coach_invitation_token}, {200}
    ),
    ("patch", "/api/v1/coaching/summaries/{summary_id}"): lambda s: Call(
        f"/api/v1/coaching/summaries/{s.actor_draft_id}", {"note": "my own words"}, {200}
    ),
    ("post", "/api/v1/insights/{insight_id}/feedback"): lambda s: Call(
        f"/api/v1/insights/{s.actor_insight_id}/feedback", {"feedback": "helpful"}, {200}
    ),
    ("post", "/api/v1/insights/{insight_id}/status"): lambda s: Call(
        f"/api/v1/insights/{s.actor_insight_id}/status", {"status": "dismissed"}, {200}
    ),
    ("post", "/api/v1/invitations/accept"): lambda s: Call(
        "/api/v1/invitations/accept", {"token": s.team_invitation_token}, {200}
    ),
    ("put", "/api/v1/journal/{kind}/{entry_id}"): lambda s: Call(
        f"/api/v1/journal/energy/{uuid.uuid4()}", _energy_body(), {201}
    ),
    ("post", "/api/v1/journal/batch"): lambda s: Call(
        "/api/v1/journal/batch",
        {"items": [{"kind": "energy", "id": str(uuid.uuid4()), **_energy_body()}]},
        {200},
    ),
    ("post", "/api/v1/journal/checkin"): lambda s: Call(
        "/api/v1/journal/checkin", {"id": str(uuid.uuid4()), "level": 6}, {200, 201}
    ),
    ("post", "/api/v1/notifications/email/unsubscribe"): lambda s: Call(
        "/api/v1/notifications/email/unsubscribe",
        {"token": email_unsubscribe_token(user=s.actor)},
        {200},
        None,
    ),
    ("patch", "/api/v1/notifications/preferences"): lambda s: Call(
        "/api/v1/notifications/preferences", {"email_digest": False}, {200}
    ),
    ("post", "/api/v1/notifications/push/subscriptions"): lambda s: Call(
        "/api/v1/notifications/push/subscriptions",
        FakeBrowser().subscription_json("http://127.0.0.1:9/push/new"),
        {201},
    ),
    ("post", "/api/v1/notifications/push/unsubscribe"): lambda s: Call(
        "/api/v1/notifications/push/unsubscribe", {"endpoint": ACTOR_PUSH_ENDPOINT}, {204}
    ),
    ("put", "/api/v1/performance/calls/{stats_id}"): lambda s: Call(
        f"/api/v1/performance/calls/{uuid.uuid4()}",
        {
            "local_date": recent(3)[:10],
            "calls_made": 30,
            "connected": 9,
            "conversations": 4,
            "talk_minutes": 40,
        },
        {201},
    ),
    ("post", "/api/v1/performance/crm-connections/{connection_id}/rotate"): lambda s: Call(
        f"/api/v1/performance/crm-connections/{s.connection.pk}/rotate",
        {"keep_previous_minutes": 0},
        {200},
    ),
    ("post", "/api/v1/performance/imports"): lambda s: Call(
        "/api/v1/performance/imports",
        {"file": _csv_upload(), "format": "energytrack"},
        {201},
        multipart=True,
    ),
    ("put", "/api/v1/performance/meetings/{meeting_id}"): lambda s: Call(
        f"/api/v1/performance/meetings/{uuid.uuid4()}",
        {"occurred_at": recent(), "status": "held", "budget": True},
        {201},
    ),
    ("post", "/api/v1/performance/teams/{team_id}/crm-connections"): lambda s: Call(
        f"/api/v1/performance/teams/{s.team.pk}/crm-connections", {"name": "Second CRM"}, {201}
    ),
    ("post", "/api/v1/performance/webhooks/{connection_id}"): lambda s: Call(
        f"/api/v1/performance/webhooks/{s.connection.pk}",
        {"event_id": "mass-assignment", "activities": []},
        {202},
        None,
        signed_with=s.connection_secret,
    ),
    ("post", "/api/v1/privacy/account/delete"): lambda s: Call(
        "/api/v1/privacy/account/delete", {"password": PASSWORD}, {204}
    ),
    ("post", "/api/v1/privacy/consents/{category}/withdraw"): lambda s: Call(
        "/api/v1/privacy/consents/sleep/withdraw", {"delete_entries": False}, {200}
    ),
    ("post", "/api/v1/privacy/import"): lambda s: Call(
        "/api/v1/privacy/import", {"file": _export_upload()}, {200}, multipart=True
    ),
    ("put", "/api/v1/privacy/preferences"): lambda s: Call(
        "/api/v1/privacy/preferences", {"keep_aggregates": True}, {200}
    ),
    ("post", "/api/v1/teams"): lambda s: Call("/api/v1/teams", {"name": "New team"}, {201}),
    ("post", "/api/v1/teams/{team_id}/invitations"): lambda s: Call(
        f"/api/v1/teams/{s.team.pk}/invitations", {"email": "new.rep@example.com"}, {201}
    ),
}
# Bodies written by other programs, where extra fields are ignored by design, not refused:
# the CRM webhook keeps only event_id and activities of its signed body (webhook_receive),
# and a mail client's RFC 8058 one-click unsubscribe sends "List-Unsubscribe=One-Click" next
# to the token. Whose data they touch comes from the signature or the signed token only.
IGNORES_EXTRA_FIELDS = {
    ("post", "/api/v1/performance/webhooks/{connection_id}"),
    ("post", "/api/v1/notifications/email/unsubscribe"),
}


def _request(client: APIClient, method: str, call: Call, body: dict[str, Any]) -> Any:
    if call.multipart:
        form = {k: v if hasattr(v, "read") else _form_value(v) for k, v in body.items()}
        return getattr(client, method)(call.url, form, format="multipart")
    if call.signed_with is not None:
        assert method == "post" and call.as_user is None
        return post_signed_webhook(call.url, call.signed_with, json_bytes(body))
    return getattr(client, method)(call.url, body, format="json")


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_every_operation_with_a_body_has_a_valid_request_here() -> None:
    missing = sorted(set(BODY_OPERATIONS) - set(VALID))
    assert not missing, f"add a valid request for: {missing}"
    assert len(VALID) >= 30


@pytest.mark.parametrize(
    ("method", "path"), sorted(VALID), ids=[f"{m} {p}" for m, p in sorted(VALID)]
)
def test_fields_a_client_must_not_set_are_refused_and_change_nothing(
    method: str, path: str, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    scene = build_scene()
    call = VALID[(method, path)](scene)
    injected = {
        name: value
        for name, value in forbidden_fields(scene).items()
        if name not in BODY_OPERATIONS[(method, path)]
    }
    assert injected, "every operation gets at least one field it does not declare"
    # Signing in writes last_login: before the snapshot.
    client = client_for(scene.actor if call.as_user == "actor" else None)
    before = database_snapshot()
    victim_before = user_export(user=scene.victim)

    response = _request(client, method, call, {**call.body, **injected})

    if (method, path) in IGNORES_EXTRA_FIELDS:
        assert response.status_code in call.ok, response.content
        assert user_export(user=scene.victim) == victim_before
        assert not User.objects.filter(is_staff=True).exists()
        if "webhooks" in path:
            # Only the activities are kept from the signed body.
            assert WebhookEvent.objects.get(event_id=call.body["event_id"]).payload == []
    else:
        body = assert_problem(response, 400)
        assert set(body["errors"]) >= set(injected), body["errors"]
        for name in injected:
            assert body["errors"][name] == ["Unknown field."], (name, body["errors"])
        assert database_snapshot() == before
        # A fresh valid request (an upload can be read only once).
        fresh = VALID[(method, path)](scene)
        clean = _request(client, method, fresh, fresh.body)
        assert clean.status_code in fresh.ok, (clean.status_code, clean.content)


def test_nested_fields_are_refused_too() -> None:
    """Inside a batch item and a check-in part, the same fields are refused per item."""
    scene = build_scene()
    api = client_for(scene.actor)  # signing in writes last_login: before the snapshot
    before = database_snapshot()
    item = {"kind": "energy", "id": str(uuid.uuid4()), **_energy_body(), "user": "x"}
    response = api.post("/api/v1/journal/batch", {"items": [item]}, format="json")
    assert response.status_code == 200, response.content
    (result,) = response.json()["results"]
    assert (result["result"], result["status"]) == ("rejected", 400), result
    assert result["errors"] == {"user": ["Unknown field."]}, result
    checkin = {"id": str(uuid.uuid4()), "level": 6, "sleep": {"quality": 3, "user": "x"}}
    assert_problem(
        api.post("/api/v1/journal/checkin", checkin, format="json"), 400, fields=["sleep.user"]
    )
    after = database_snapshot()
    # A batch takes the rep's write lock row before it looks at the items (JournalState:
    # a lock and version counter, nothing about the rep's life); everything else is as before.
    lock = "journal.JournalState"
    assert {k: v for k, v in after.items() if k != lock} == {
        k: v for k, v in before.items() if k != lock
    }


@pytest.mark.parametrize(
    ("method", "path"), NO_BODY_OPERATIONS, ids=[f"{m} {p}" for m, p in NO_BODY_OPERATIONS]
)
def test_operations_without_a_body_ignore_such_fields(method: str, path: str) -> None:
    scene = build_scene()
    # The actor's own object of this route (the sweep fixtures make one for any owner).
    params = SWEEP[path](scene.actor)[0].params if "{" in path else {}
    url = path.format(**params)
    victim_before = user_export(user=scene.victim)
    memberships = sorted(Membership.objects.values_list("team_id", "user_id", "role"))
    response = getattr(client_for(scene.actor), method)(url, forbidden_fields(scene), format="json")
    assert response.status_code < 500, response.content
    assert user_export(user=scene.victim) == victim_before
    assert not User.objects.filter(is_staff=True).exists()
    assert not User.objects.filter(is_superuser=True).exists()
    assert sorted(Membership.objects.values_list("team_id", "user_id", "role")) == memberships
