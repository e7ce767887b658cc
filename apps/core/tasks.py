"""Safe dispatch of Celery work from request code (DESIGN.md §6).

A request never depends on the broker: the task is sent after commit, and if the broker is
unreachable the failure is logged (without payload) and left to the next scheduled run.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import OperationalError, transaction

from energytrack.celery import app, ensure_broker_folders

logger = logging.getLogger(__name__)

# The retry policy of a task whose only expected failure is a database that is briefly away:
# acknowledged after it ran (a killed worker's task runs again), retried with jittered backoff.
RETRY_ON_DATABASE: dict[str, Any] = {
    "acks_late": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "retry_jitter": True,
}


def send_task_safely(name: str, *args: Any, **options: Any) -> bool:
    if str(app.conf.broker_url).startswith("filesystem"):
        ensure_broker_folders()
    try:
        app.send_task(name, args=args, **options)
    except Exception as exc:
        logger.warning(
            "could not enqueue %s (%s); the scheduled run will repair it", name, type(exc).__name__
        )
        return False
    return True


def enqueue_on_commit(name: str, *args: Any, **options: Any) -> None:
    transaction.on_commit(lambda: send_task_safely(name, *args, **options))


@app.task(
    name="apps.core.tasks.ping",
    acks_late=True,
    ignore_result=False,
    soft_time_limit=5,
    time_limit=10,
)
def ping() -> str:
    """Liveness probe for the worker fleet (monitoring and the broker round-trip test)."""
    return "pong"
