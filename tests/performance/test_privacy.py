"""Export and erasure of sales figures, and coverage by the privacy registry."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings

from apps.performance import privacy
from apps.performance.models import Call, DailyCallStats, ImportJob, Meeting
from apps.privacy.registry import covered_models
from tests.performance.conftest import Org, client_for, data_file, post_import

pytestmark = pytest.mark.usefixtures("frozen", "media_root")


def test_every_performance_model_with_a_user_is_covered() -> None:
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    with_user = {
        model
        for model in apps.get_app_config("performance").get_models()
        if any(
            getattr(field, "related_model", None) is user_model
            for field in model._meta.get_fields()
        )
    }
    assert with_user == {DailyCallStats, Call, Meeting, ImportJob}
    assert with_user <= covered_models()


def _load(org: Org) -> str:
    admin = client_for(org.admin)
    job = post_import(
        admin, data_file("energytrack.csv"), format="energytrack", team_id=str(org.team.pk)
    )
    assert job.status_code == 201, job.content
    return str(job.json()["id"])


def test_export_holds_the_users_own_sales_figures(org: Org) -> None:
    job_id = _load(org)
    anna = privacy.export_user(org.anna)
    assert [c["external_id"] for c in anna["calls"]] == ["c-1", "c-2"]
    assert [m["id"] for m in anna["meetings"]] == [
        str(m.pk) for m in Meeting.objects.filter(user=org.anna)
    ]
    assert anna["call_stats"][0]["local_date"] == "2026-11-20"
    assert anna["imports"] == []
    admin = privacy.export_user(org.admin)
    assert [job["id"] for job in admin["imports"]] == [job_id]
    assert admin["calls"] == [] and admin["meetings"] == []


def test_erasure_removes_everything_of_the_user_and_nothing_else(
    org: Org, settings: Any, media_root: Path
) -> None:
    _load(org)
    bram_meetings = Meeting.objects.filter(user=org.bram).count()
    assert privacy.erase_user(org.anna) == 4  # two calls, one day of figures, one meeting
    assert not Call.objects.filter(user=org.anna).exists()
    assert not Meeting.objects.filter(user=org.anna).exists()
    assert not DailyCallStats.objects.filter(user=org.anna).exists()
    assert Meeting.objects.filter(user=org.bram).count() == bram_meetings

    stored = media_root / "imports" / "left.csv"
    stored.parent.mkdir(parents=True)
    stored.write_text("x")
    ImportJob.objects.filter(created_by=org.admin).update(file_path="imports/left.csv")
    assert privacy.erase_user(org.admin) == 1
    assert not stored.exists()
    assert not ImportJob.objects.exists()


def test_export_is_stable(org: Org) -> None:
    _load(org)
    assert privacy.export_user(org.anna) == privacy.export_user(org.anna)
    assert all(
        isinstance(row["occurred_at"], str) for row in privacy.export_user(org.anna)["calls"]
    )
    assert dt.date.fromisoformat(privacy.export_user(org.anna)["call_stats"][0]["local_date"])


def test_export_carries_every_stored_fact_of_calls_and_meetings(org: Org) -> None:
    """Art. 15: each stored field of a rep's call and meeting, including the team whose import
    brought it (the user is the account itself; hash and last result are request bookkeeping)."""
    _load(org)
    anna = privacy.export_user(org.anna)
    for model, rows, bookkeeping in (
        (Call, anna["calls"], set()),
        (Meeting, anna["meetings"], {"request_hash", "last_result"}),
    ):
        stored = {field.attname for field in model._meta.concrete_fields}
        assert set(rows[0]) == stored - {"user_id"} - bookkeeping, model
        assert {row["team_id"] for row in rows} == {str(org.team.pk)}
