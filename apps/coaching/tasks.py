"""Celery entry points for coaching: take ids and plain values, call one service.

All idempotent: a grant has one summary per ISO week (unique constraint; an existing draft is
never overwritten), and expiring drafts is a state change from draft only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from apps.coaching import selectors, services
from apps.core.tasks import RETRY_ON_DATABASE

FAN_OUT_CHUNK = 500


@shared_task(
    name="apps.coaching.tasks.draft_summaries_batch",
    **RETRY_ON_DATABASE,
    max_retries=3,
    soft_time_limit=300,
    time_limit=360,
)
def draft_summaries_batch(grant_ids: list[str], as_of: str | None = None) -> int:
    """Draft last week's summary for a chunk of grants (one day-feature query per chunk)."""
    now = dt.datetime.fromisoformat(as_of) if as_of else None
    return services.summaries_draft(grant_ids=grant_ids, now=now)


@shared_task(
    name="apps.coaching.tasks.dispatch_weekly_summaries",
    acks_late=True,
    soft_time_limit=120,
    time_limit=180,
)
def dispatch_weekly_summaries() -> dict[str, Any]:
    """Hourly: every live grant whose rep's week is over (Monday 06:00 local) and has no
    summary yet gets its draft, in chunks. Nothing due, nothing sent; a lost run is repaired
    by the next one."""
    now = timezone.now()
    grant_ids = selectors.grant_ids_due_for_summary(now=now)
    chunks = [grant_ids[i : i + FAN_OUT_CHUNK] for i in range(0, len(grant_ids), FAN_OUT_CHUNK)]
    for chunk in chunks:
        # The dispatch time travels with the chunk, so a late worker drafts the same week;
        # it expires before the next dispatch, which sends whatever is still due.
        draft_summaries_batch.apply_async(args=[chunk, now.isoformat()], expires=50 * 60)
    return {"grants": len(grant_ids), "chunks": len(chunks)}


@shared_task(
    name="apps.coaching.tasks.expire_drafts",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=120,
    time_limit=180,
)
def expire_drafts() -> int:
    """Daily: drafts the rep did not approve in time are withdrawn and emptied."""
    return services.drafts_expire()
