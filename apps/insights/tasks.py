"""Celery entry points for insights: take ids and plain values, call one service."""

from __future__ import annotations

import datetime as dt
from typing import Any

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from apps.insights import services

NIGHTLY_LOCAL_HOUR = 5
FAN_OUT_CHUNK = 500


@shared_task(
    name="apps.insights.tasks.day_features_refresh",
    acks_late=True,
    soft_time_limit=60,
    time_limit=90,
)
def day_features_refresh(user_id: str, dates: list[str]) -> bool:
    """Sent by the journal after a change; debounced into one flush per user."""
    return services.day_features_mark_dirty(user_id=user_id, dates=dates)


@shared_task(
    name="apps.insights.tasks.day_features_flush",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=60,
    time_limit=90,
)
def day_features_flush(user_id: str) -> int:
    return services.day_features_flush(user_id=user_id)


@shared_task(
    name="apps.insights.tasks.compute_insights_batch",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=3,
    soft_time_limit=600,
    time_limit=900,
)
def compute_insights_batch(user_ids: list[str], as_of: str | None = None) -> dict[str, int]:
    day = dt.date.fromisoformat(as_of) if as_of else None
    return services.insights_compute(user_ids=user_ids, as_of=day)


@shared_task(
    name="apps.insights.tasks.dispatch_nightly_insights",
    acks_late=True,
    soft_time_limit=120,
    time_limit=180,
)
def dispatch_nightly_insights() -> dict[str, Any]:
    """Hourly: reps whose local time is the nightly hour get their run, in chunks."""
    user_ids = services.users_due_for_nightly(now=timezone.now(), local_hour=NIGHTLY_LOCAL_HOUR)
    chunks = [user_ids[i : i + FAN_OUT_CHUNK] for i in range(0, len(user_ids), FAN_OUT_CHUNK)]
    for chunk in chunks:
        # Expires before the next dispatch: a backlog never processes the same night twice.
        compute_insights_batch.apply_async(args=[chunk], expires=50 * 60)
    return {"reps": len(user_ids), "chunks": len(chunks)}
