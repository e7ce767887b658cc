"""Celery entry points for delivery: take ids and plain values, call one service.

Every task is safe to run twice: rows are keyed by fingerprints and a delivery is claimed
under a row lock before anything is sent (see services).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from celery import Task, shared_task
from django.db import OperationalError
from django.utils import timezone

from apps.core.tasks import RETRY_ON_DATABASE
from apps.notifications import services


@shared_task(
    name="apps.notifications.tasks.deliver",
    bind=True,
    acks_late=True,
    max_retries=services.MAX_ATTEMPTS,
    soft_time_limit=60,
    time_limit=90,
)
def deliver(self: Task, delivery_id: int) -> str:
    """One delivery, sent right after its notification was stored; retries itself with
    exponential backoff and jitter on transient failures (the row holds the schedule)."""
    will_retry = self.request.retries < (self.max_retries or 0)
    try:
        return services.delivery_send(delivery_id=delivery_id, will_retry=will_retry)
    except services.TransientDeliveryError as exc:
        if not will_retry:
            return "retry-later"  # the sweeper takes it from here
        # A retry lives as long as the sweeper waits for it, then the sweeper takes over.
        expires = exc.retry_in + int(services.ENQUEUE_TTL.total_seconds())
        raise self.retry(countdown=exc.retry_in, expires=expires, exc=exc) from exc
    except OperationalError as exc:
        raise self.retry(countdown=30, exc=exc) from exc


@shared_task(
    name="apps.notifications.tasks.deliver_batch",
    acks_late=True,
    soft_time_limit=600,
    time_limit=660,
)
def deliver_batch(delivery_ids: list[int]) -> dict[str, int]:
    """Up to ``services.DELIVERY_BATCH`` deliveries; failures are left to the sweeper."""
    return services.deliveries_send(delivery_ids=delivery_ids)


@shared_task(
    name="apps.notifications.tasks.dispatch_local_schedules",
    acks_late=True,
    soft_time_limit=120,
    time_limit=180,
)
def dispatch_local_schedules() -> dict[str, int]:
    """Hourly: reps whose local reminder or digest time falls in this hour (and in the hours
    missed since the last run, within limits), in chunks."""
    return services.dispatch_local_schedules(now=timezone.now())


@shared_task(
    name="apps.notifications.tasks.prepare_reminders",
    **RETRY_ON_DATABASE,
    max_retries=3,
    soft_time_limit=240,
    time_limit=300,
)
def prepare_reminders(user_ids: list[str], window_start: str) -> dict[str, int]:
    return services.reminders_prepare(
        user_ids=user_ids, window_start=dt.datetime.fromisoformat(window_start)
    )


@shared_task(
    name="apps.notifications.tasks.prepare_digests",
    **RETRY_ON_DATABASE,
    max_retries=3,
    soft_time_limit=240,
    time_limit=300,
)
def prepare_digests(user_ids: list[str], window_start: str) -> dict[str, int]:
    return services.digests_prepare(
        user_ids=user_ids, window_start=dt.datetime.fromisoformat(window_start)
    )


@shared_task(
    name="apps.notifications.tasks.sweep_deliveries",
    acks_late=True,
    soft_time_limit=50,
    time_limit=55,
)
def sweep_deliveries() -> dict[str, Any]:
    """Every minute: due and lost deliveries are queued again; dead claims are closed."""
    return services.deliveries_sweep(now=timezone.now())
