"""Fixtures for the performance app: a team with an org admin and two reps, CSV uploads,
signed webhook deliveries, and a clock frozen in late November 2026 (the fixture files hold
activities of 16-20 November 2026)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from apps.accounts.models import Membership, Role, Team, User
from apps.performance.models import Call, DailyCallStats, ImportJob, Meeting, WebhookEvent
from tests.factories import UserFactory

DATA = Path(__file__).parent / "data"
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
IMPORTS_URL = "/api/v1/performance/imports"


@pytest.fixture
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def media_root(settings: Any, tmp_path: Path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = str(root)
    return root


@dataclass
class Org:
    team: Team
    admin: User
    anna: User
    bram: User
    coach: User


@pytest.fixture
def org(db: None) -> Org:
    team = Team.objects.create(name="Acme Sales")
    admin = UserFactory(email="admin@acme.test")
    anna = UserFactory(email="anna@acme.test", timezone="Europe/Amsterdam")
    bram = UserFactory(email="bram@acme.test", timezone="Europe/Amsterdam")
    coach = UserFactory(email="coach@acme.test")
    Membership.objects.create(team=team, user=admin, role=Role.ORG_ADMIN)
    Membership.objects.create(team=team, user=anna, role=Role.REP)
    Membership.objects.create(team=team, user=bram, role=Role.REP)
    Membership.objects.create(team=team, user=coach, role=Role.COACH)
    return Org(team=team, admin=admin, anna=anna, bram=bram, coach=coach)


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def data_file(name: str) -> bytes:
    return (DATA / name).read_bytes()


def post_import(
    client: APIClient, content: bytes, *, name: str = "export.csv", **fields: Any
) -> Any:
    body: dict[str, Any] = {"file": SimpleUploadedFile(name, content, "text/csv")}
    for key, value in fields.items():
        if value is None:
            continue
        body[key] = json.dumps(value) if isinstance(value, dict) else value
    return client.post(IMPORTS_URL, body, format="multipart")


def table_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (DailyCallStats, Call, Meeting, ImportJob, WebhookEvent)
    }


def signature(secret: str, timestamp: int | str, raw: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def webhook_post(
    connection_id: uuid.UUID | str,
    secret: str,
    body: dict[str, Any] | bytes,
    *,
    timestamp: int | None = None,
    sign_with: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    ts = int(time.time()) if timestamp is None else timestamp
    extra = {
        "HTTP_X_ENERGYTRACK_TIMESTAMP": str(ts),
        "HTTP_X_ENERGYTRACK_SIGNATURE": signature(sign_with or secret, ts, raw),
    }
    if headers is not None:
        extra = headers
    return APIClient().generic(
        "POST",
        f"/api/v1/performance/webhooks/{connection_id}",
        raw,
        content_type="application/json",
        **extra,
    )
