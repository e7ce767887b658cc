"""A real round trip: task published to the real Redis broker, consumed by a real worker
(Celery's in-process test worker thread; not eager mode), result read back from Redis."""

from __future__ import annotations

import pytest
from celery.contrib.testing.worker import start_worker

from apps.core.tasks import ping, send_task_safely
from energytrack.celery import app


@pytest.mark.redis
def test_task_round_trip_through_redis() -> None:
    assert app.conf.broker_url.startswith("redis://")
    assert not app.conf.task_always_eager
    with start_worker(app, perform_ping_check=False, loglevel="WARNING"):
        assert ping.delay().get(timeout=20) == "pong"
        assert send_task_safely("apps.core.tasks.ping")
