"""Performance objects for the privacy sweep (tests/test_privacy_sweep.py): for each route
with a path parameter, a function that creates an object of ``owner`` and returns the cases
that address it (params, a valid body for writes, ids that must never leak)."""

from __future__ import annotations

import datetime as dt
import uuid

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.services import team_create
from apps.performance import services
from tests.sweep_types import SweepCase


def _recent_day() -> dt.date:
    return timezone.now().date() - dt.timedelta(days=3)


def _call_stats(owner: User) -> list[SweepCase]:
    stats_id = uuid.uuid4()
    body = {
        "local_date": _recent_day().isoformat(),
        "calls_made": 30,
        "connected": 9,
        "conversations": 4,
        "talk_minutes": 40,
    }
    services.call_stats_upsert(
        user=owner,
        stats_id=stats_id,
        values={**body, "local_date": _recent_day()},
    )
    return [SweepCase(params={"stats_id": str(stats_id)}, body=body, secret_ids=[str(stats_id)])]


def _meeting(owner: User) -> list[SweepCase]:
    meeting_id = uuid.uuid4()
    start = timezone.now() - dt.timedelta(days=2)
    body = {"occurred_at": start.isoformat(), "status": "held", "budget": True}
    services.meeting_upsert(
        user=owner,
        meeting_id=meeting_id,
        values={"occurred_at": start, "status": "held", "budget": True},
    )
    return [
        SweepCase(params={"meeting_id": str(meeting_id)}, body=body, secret_ids=[str(meeting_id)])
    ]


def _import(owner: User) -> list[SweepCase]:
    occurred = (timezone.now() - dt.timedelta(days=1)).isoformat()
    content = f"kind,external_id,occurred_at,outcome\ncall,sweep-1,{occurred},connected\n"
    job, _queued = services.import_submit(
        user=owner,
        team_id=None,
        options=services.ImportOptions(format="energytrack"),
        upload=SimpleUploadedFile("sweep.csv", content.encode(), "text/csv"),
    )
    return [SweepCase(params={"import_id": str(job.pk)}, secret_ids=[str(job.pk)])]


def _team(owner: User) -> list[SweepCase]:
    team = team_create(name="Sweep sales team", creator=owner)
    return [SweepCase(params={"team_id": str(team.pk)}, body={"name": "Attacker CRM"})]


def _connection(owner: User) -> list[SweepCase]:
    team = team_create(name="Sweep CRM team", creator=owner)
    connection, _secret = services.crm_connection_create(team=team, name="Owner CRM")
    return [
        SweepCase(
            params={"connection_id": str(connection.pk)},
            body={"event_id": "sweep", "activities": []},
            secret_ids=[str(connection.pk)],
        )
    ]


SWEEP = {
    "/api/v1/performance/calls/{stats_id}": _call_stats,
    "/api/v1/performance/meetings/{meeting_id}": _meeting,
    "/api/v1/performance/imports/{import_id}": _import,
    "/api/v1/performance/teams/{team_id}/sales": _team,
    "/api/v1/performance/teams/{team_id}/crm-connections": _team,
    "/api/v1/performance/crm-connections/{connection_id}": _connection,
    "/api/v1/performance/crm-connections/{connection_id}/rotate": _connection,
    "/api/v1/performance/webhooks/{connection_id}": _connection,
}
# The webhook is authenticated by its HMAC signature only, never by a user: any user (or
# nobody) without the signature gets 401, which the sweep accepts as long as nothing changes.
OWN_SCOPE_PATHS = {"/api/v1/performance/webhooks/{connection_id}"}
