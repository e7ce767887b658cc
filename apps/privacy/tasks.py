"""Celery entry points for the privacy toolkit."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from apps.privacy import services


@shared_task(
    name="apps.privacy.tasks.build_export",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=300,
    time_limit=360,
)
def build_export(export_id: str) -> str:
    return services.export_build(export_id=export_id).status


@shared_task(
    name="apps.privacy.tasks.purge_expired_entries",
    acks_late=True,
    soft_time_limit=1800,
    time_limit=2000,
)
def purge_expired_entries() -> dict[str, int]:
    return services.retention_purge()


@shared_task(
    name="apps.privacy.tasks.sweep_pending_exports",
    acks_late=True,
    soft_time_limit=100,
    time_limit=120,
)
def sweep_pending_exports() -> int:
    """Exports whose trigger was lost (broker down) are built by this periodic sweep."""
    stuck = services.exports_stuck()
    for export_id in stuck:
        build_export.delay(export_id)
    return len(stuck)
