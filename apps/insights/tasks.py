"""Celery entry points for insights: take ids and plain values, call one service."""

from __future__ import annotations

import datetime as dt
from typing import Any

from celery import shared_task
from django.utils import timezone

from apps.core.tasks import RETRY_ON_DATABASE
from apps.insights import services
from apps.notifications.schedule import floor_to_hour

NIGHTLY_LOCAL_HOUR = services.NIGHTLY_LOCAL_HOUR
FAN_OUT_CHUNK = 500
STALE_RUN_SECONDS = 40


@shared_task(
    name="apps.insights.tasks.stale_days_refresh",
    **RETRY_ON_DATABASE,
    max_retries=3,
    soft_time_limit=50,
    time_limit=60,
)
def stale_days_refresh() -> int:
    """Every 30 s (beat): recompute the days the journal and sales data marked stale."""
    return services.stale_days_drain(max_seconds=STALE_RUN_SECONDS)


@shared_task(
    name="apps.insights.tasks.compute_insights_batch",
    **RETRY_ON_DATABASE,
    max_retries=3,
    soft_time_limit=600,
    time_limit=900,
)
def compute_insights_batch(
    user_ids: list[str], as_of: str | None = None, window_start: str | None = None
) -> dict[str, int]:
    day = dt.date.fromisoformat(as_of) if as_of else None
    window = dt.datetime.fromisoformat(window_start) if window_start else None
    return services.insights_compute(user_ids=user_ids, as_of=day, window_start=window)


@shared_task(
    name="apps.insights.tasks.dispatch_nightly_insights",
    acks_late=True,
    soft_time_limit=120,
    time_limit=180,
)
def dispatch_nightly_insights(window_start: str | None = None) -> dict[str, Any]:
    """Hourly: reps whose local nightly hour falls in this hour window get their run, in chunks.

    The window is the hour this run was scheduled in (beat sends it at :05 and it expires
    before the next hour), so a late start misses no zone; ``window_start`` (ISO) replays a
    missed hour by hand.
    """
    start = floor_to_hour(
        dt.datetime.fromisoformat(window_start) if window_start else timezone.now()
    )
    user_ids = services.users_due_for_nightly(now=start, local_hour=NIGHTLY_LOCAL_HOUR)
    chunks = [user_ids[i : i + FAN_OUT_CHUNK] for i in range(0, len(user_ids), FAN_OUT_CHUNK)]
    for chunk in chunks:
        # Expires before the next dispatch: a backlog never processes the same night twice.
        compute_insights_batch.apply_async(
            args=[chunk], kwargs={"window_start": start.isoformat()}, expires=50 * 60
        )
    return {"reps": len(user_ids), "chunks": len(chunks)}
