"""A small world for the attack tests: an actor and a victim with real objects, and a
snapshot of every table to prove that a refused request changed nothing.

The actor is an org admin (own team, CRM connection), a rep with insights, a notification,
a push subscription, a draft coaching summary, and the invited coach of the victim. The victim
is a rep in the actor's team with journal entries and an approved summary shared with the
actor. Everything is made through the services, as the API would.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib.sessions.models import Session
from django.test import override_settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from apps.accounts.models import Membership, Role, Team, User
from apps.accounts.services import invitation_create, team_create
from apps.coaching import services as coaching_services
from apps.coaching.models import ShareGrant, Summary
from apps.journal.services import EntryInput, entries_upsert
from apps.notifications import services as notification_services
from apps.performance.models import CrmConnection
from apps.performance.services import crm_connection_create
from apps.privacy.models import Category
from apps.privacy.services import consent_grant
from tests.coaching.sweep import share, someone, weekly_summary
from tests.factories import UserFactory
from tests.insights.sweep import make_insight
from tests.notifications.fakepush import FakeBrowser

PASSWORD = "correct horse battery"  # what UserFactory sets
NEW_PASSWORD = "violet-kayak-mountain-42"
# Never reached: the push tests that send use their own servers; this one is only stored.
ACTOR_PUSH_ENDPOINT = "http://127.0.0.1:9/push/actor"


def consenting(**fields: Any) -> User:
    user: Any = UserFactory(**fields)
    for category in Category.values:
        consent_grant(user=user, category=category)
    return user


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


def post_signed_webhook(url: str, secret: str, raw: bytes) -> Any:
    """POST ``raw`` as a CRM would: no session, signed with the connection's secret."""
    client: Any = APIClient()  # the stubs do not let **headers through to generic()
    return client.generic(
        "POST", url, raw, content_type="application/json", **signed_webhook_headers(secret, raw)
    )


def signed_webhook_headers(secret: str, raw: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256)
    return {
        "HTTP_X_ENERGYTRACK_TIMESTAMP": timestamp,
        "HTTP_X_ENERGYTRACK_SIGNATURE": "sha256=" + digest.hexdigest(),
    }


@dataclass
class Scene:
    actor: User
    victim: User
    team: Team
    connection: CrmConnection
    connection_secret: str
    actor_insight_id: str
    actor_draft_id: str
    actor_notification_id: str
    victim_entry_id: str
    victim_grant: ShareGrant
    victim_summary: Summary
    # Tokens that only e-mails carry: a team invitation and a coaching share for the actor.
    team_invitation_token: str
    coach_invitation_token: str


def build_scene() -> Scene:
    actor = consenting(email="actor@example.com")
    victim = consenting(email="victim@example.com")
    team = team_create(name="Actor's team", creator=actor)
    Membership.objects.create(team=team, user=victim, role=Role.REP, manager=actor)
    connection, connection_secret = crm_connection_create(team=team, name="Actor's CRM")

    entry_id = uuid.uuid4()
    outcome = entries_upsert(
        user=victim,
        items=[
            EntryInput(
                kind="energy",
                id=entry_id,
                values={"occurred_at": parse_datetime("2026-11-20T10:00:00+01:00"), "level": 7},
            )
        ],
    )[0]
    assert outcome.result == "created", outcome
    victim_grant = share(victim, actor)
    victim_summary = weekly_summary(victim_grant, approve=True, note="the victim's own words")

    draft = weekly_summary(share(actor, someone()), approve=False, note="the actor's note")
    notification = notification_services.notification_create(
        user=actor,
        kind="system",
        title_key="system.notice",
        fingerprint_key="scene",
        body="A notice for the actor",
    )
    browser = FakeBrowser()
    with override_settings(PUSH_ALLOW_LOOPBACK=True):
        notification_services.push_subscription_upsert(
            user=actor, endpoint=ACTOR_PUSH_ENDPOINT, p256dh=browser.p256dh, auth=browser.auth
        )

    other_team = Team.objects.create(name="A team that invites the actor")
    _invitation, team_invitation_token = invitation_create(
        team=other_team, email=actor.email, role=Role.REP, invited_by=victim
    )
    _grant, coach_invitation_token = coaching_services.grant_create(
        rep=consenting(), coach_email=actor.email, scopes=["energy_trend"]
    )
    return Scene(
        actor=actor,
        victim=victim,
        team=team,
        connection=connection,
        connection_secret=connection_secret,
        actor_insight_id=str(make_insight(actor).pk),
        actor_draft_id=str(draft.pk),
        actor_notification_id=str(notification.pk),
        victim_entry_id=str(entry_id),
        victim_grant=victim_grant,
        victim_summary=victim_summary,
        team_invitation_token=team_invitation_token,
        coach_invitation_token=coach_invitation_token,
    )


def database_snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table but sessions (signing in writes one), in a stable order."""
    return {
        model._meta.label: list(model._base_manager.order_by("pk").values())
        for model in apps.get_models()
        if model is not Session
    }


def recent(days: int = 2) -> str:
    return (timezone.now() - dt.timedelta(days=days)).isoformat()


def json_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()
