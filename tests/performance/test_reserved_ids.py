"""Imported rows have ids the server derives (uuid5 of rep, source and external id, from a
namespace in the source code): a rep's manual entry may not take one, or a colleague's import
would overwrite it (and count the colleague's deal as the rep's) or fail on it."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from apps.performance.ingest import derived_stats_id, imported_id
from apps.performance.models import DailyCallStats, Meeting
from tests.performance.conftest import client_for, post_import

pytestmark = pytest.mark.usefixtures("frozen", "media_root")

CSV = (
    "kind,external_id,owner_email,occurred_at,tz,duration_seconds,outcome,status,budget,"
    "authority,need,timeline,deal_value,currency\n"
    "call,c-1,anna@acme.test,2026-11-20T09:00:00+01:00,,300,connected,,,,,,,\n"
    "meeting,m-1,anna@acme.test,2026-11-20T14:00:00+01:00,,,,held,1,1,1,1,90000.00,EUR\n"
)
CALLS = {
    "local_date": "2026-11-20",
    "calls_made": 1,
    "connected": 0,
    "conversations": 0,
    "talk_minutes": 0,
}


def _import_annas_day(org) -> None:
    response = post_import(
        client_for(org.admin), CSV.encode(), format="energytrack", team_id=str(org.team.pk)
    )
    assert response.status_code == 201, response.content


def _refused(response) -> None:
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert "id" in response.json()["errors"]


def test_a_colleagues_imported_meeting_id_is_refused_and_the_import_stays_hers(org) -> None:
    squat = imported_id("meeting", org.anna.pk, "csv", "m-1")

    _refused(
        client_for(org.bram).put(
            f"/api/v1/performance/meetings/{squat}",
            {"occurred_at": "2026-11-19T10:00:00+01:00", "status": "held"},
            format="json",
        )
    )
    assert not Meeting.objects.exists()

    _import_annas_day(org)
    meeting = Meeting.objects.get(pk=squat)
    assert (meeting.user_id, meeting.source, meeting.deal_value_cents) == (
        org.anna.pk,
        "csv",
        9_000_000,
    )
    assert not Meeting.objects.filter(user=org.bram).exists()


def test_a_colleagues_derived_call_figures_id_is_refused_and_the_import_runs(org) -> None:
    squat = derived_stats_id(org.anna.pk, "csv", dt.date(2026, 11, 20))

    _refused(client_for(org.bram).put(f"/api/v1/performance/calls/{squat}", CALLS, format="json"))

    _import_annas_day(org)
    figures = DailyCallStats.objects.get(user=org.anna, source="csv")
    assert (figures.pk, figures.calls_made) == (squat, 1)
    assert not DailyCallStats.objects.filter(user=org.bram).exists()


def test_random_and_time_ordered_ids_are_taken(org) -> None:
    bram = client_for(org.bram)
    v7 = uuid.UUID(int=(uuid.uuid4().int & ~(0xF << 76)) | (0x7 << 76))
    assert v7.version == 7
    for entry_id in (uuid.uuid4(), v7):
        response = bram.put(
            f"/api/v1/performance/meetings/{entry_id}",
            {"occurred_at": "2026-11-19T10:00:00+01:00", "status": "held"},
            format="json",
        )
        assert response.status_code == 201, response.content
