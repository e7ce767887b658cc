"""Celery entry points of the performance app: take ids, call one service, nothing else.

All are idempotent (state checks and upserts by external id), acks_late, and retried only on
transient database errors.
"""

from __future__ import annotations

import uuid

from celery import shared_task
from django.db import InterfaceError, OperationalError

from apps.performance import services

TRANSIENT = (OperationalError, InterfaceError, ConnectionError)


@shared_task(
    name="apps.performance.tasks.import_job_run",
    acks_late=True,
    ignore_result=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
    # A 100,000-row file takes well under a minute; a 100 MB file several minutes.
    soft_time_limit=30 * 60,
    time_limit=31 * 60,
)
def import_job_run(job_id: str) -> None:
    services.import_job_run(job_id=uuid.UUID(job_id))


@shared_task(
    name="apps.performance.tasks.webhook_events_drain",
    acks_late=True,
    ignore_result=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
    # At most 5,000 events per task (a fresh task continues a longer backlog).
    soft_time_limit=4 * 60,
    time_limit=5 * 60,
)
def webhook_events_drain(connection_id: str) -> int:
    return services.webhook_events_drain(connection_id=uuid.UUID(connection_id))


@shared_task(
    name="apps.performance.tasks.performance_sweep",
    acks_late=True,
    ignore_result=True,
    soft_time_limit=50,
    time_limit=55,
)
def performance_sweep() -> dict[str, int]:
    return services.performance_sweep()


@shared_task(
    name="apps.performance.tasks.meetings_requalify",
    acks_late=True,
    ignore_result=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    max_retries=5,
)
def meetings_requalify(user_ids: list[str]) -> int:
    return services.meetings_requalify(user_ids=[uuid.UUID(u) for u in user_ids])
