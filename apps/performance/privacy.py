"""Export and erasure of one user's sales figures (DESIGN.md §2.6), registered with the
privacy app. CRM connections and webhook events belong to a team, not to a person."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.conf import settings

from apps.core.renderers import jsonable
from apps.performance.models import Call, DailyCallStats, ImportJob, Meeting
from apps.performance.selectors import CALL_STATS_FIELDS, MEETING_OUTPUT_FIELDS
from apps.privacy.registry import PrivacyHandler, register

logger = logging.getLogger(__name__)

CALL_FIELDS = (
    "id",
    "source",
    "external_id",
    "occurred_at",
    "tz",
    "local_date",
    "duration_seconds",
    "connected",
    "disposition",
    # The team whose import or CRM connection brought the call (null: the rep's own).
    "team_id",
    "created_at",
    "updated_at",
)
# Every stored fact of a meeting: what the API shows, and the team that brought it.
MEETING_FIELDS = (*MEETING_OUTPUT_FIELDS, "team_id")
IMPORT_FIELDS = (
    "id",
    "team_id",
    "format",
    "mode",
    "dry_run",
    "status",
    "file_name",
    "file_size",
    "rows_total",
    "rows_done",
    "counts",
    "report",
    "unknown_reps",
    "detail",
    "created_at",
    "finished_at",
)


def _rows(queryset: Any, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{k: jsonable(v) for k, v in row.items()} for row in queryset.values(*fields)]


def export_user(user: Any) -> dict[str, Any]:
    return {
        "call_stats": _rows(
            DailyCallStats.objects.filter(user=user).order_by("local_date", "source"),
            CALL_STATS_FIELDS,
        ),
        "calls": _rows(Call.objects.filter(user=user).order_by("occurred_at", "id"), CALL_FIELDS),
        "meetings": _rows(
            Meeting.objects.filter(user=user).order_by("occurred_at", "id"), MEETING_FIELDS
        ),
        "imports": _rows(
            ImportJob.objects.filter(created_by=user).order_by("created_at", "id"), IMPORT_FIELDS
        ),
    }


def erase_user(user: Any) -> int:
    media_root = Path(settings.MEDIA_ROOT)
    for file_path in (
        ImportJob.objects.filter(created_by=user)
        .exclude(file_path="")
        .values_list("file_path", flat=True)
    ):
        (media_root / file_path).unlink(missing_ok=True)
    deleted = 0
    for queryset in (
        DailyCallStats.objects.filter(user=user),
        Call.objects.filter(user=user),
        Meeting.objects.filter(user=user),
        ImportJob.objects.filter(created_by=user),
    ):
        deleted += queryset.delete()[0]
    return deleted


register(
    PrivacyHandler(
        app_label="performance",
        models=(DailyCallStats, Call, Meeting, ImportJob),
        export_user=export_user,
        erase_user=erase_user,
    )
)
