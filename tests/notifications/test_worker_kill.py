"""A real worker killed with SIGKILL in the middle of a push: Celery (acks_late) hands the
message to another worker, which must not send the push a second time."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from apps.notifications import services, tasks
from apps.notifications.models import Delivery
from tests.insights.sweep import make_insight
from tests.notifications.conftest import VAPID_SUBJECT

ROOT = Path(__file__).resolve().parents[2]


def _start_worker(queue: str, log: Path, vapid_keys: tuple[str, str]) -> subprocess.Popen[bytes]:
    from django.conf import settings

    database = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "energytrack.settings.test",
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
        ),
        "REDIS_URL": settings.REDIS_URL,
        "TEST_VAPID_PRIVATE_KEY": vapid_keys[0],
        "TEST_VAPID_PUBLIC_KEY": vapid_keys[1],
        "TEST_VAPID_SUBJECT": VAPID_SUBJECT,
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "tests.notifications.worker_app",
        "worker",
        "--pool=solo",
        "--concurrency=1",
        "-Q",
        queue,
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
        "--loglevel=INFO",
        "-n",
        f"{queue}-{uuid.uuid4().hex[:6]}@%h",
    ]
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_push_does_not_send_twice(
    user, subscribe, push_service, vapid_keys, tmp_path, published
) -> None:
    # A real worker runs on the real clock: no quiet hours in the way.
    services.preferences_update(user=user, quiet_hours_enabled=False)
    subscribe(user)
    notification = services.notify_new_insights(
        user_id=user.pk, insight_ids=[make_insight(user).pk]
    )
    delivery_id = notification.deliveries.get().pk
    queue = f"notif-kill-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "workers.log"
    push_service.hold = threading.Event()  # the push service hangs: the worker is mid-send

    first = _start_worker(queue, log, vapid_keys)
    second: subprocess.Popen[bytes] | None = None
    try:
        result = tasks.deliver.apply_async(args=[delivery_id], queue=queue)
        assert push_service.arrived.wait(60), log.read_text()
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        push_service.hold.set()
        assert Delivery.objects.get(pk=delivery_id).state == "sending"

        second = _start_worker(queue, log, vapid_keys)
        # The unacknowledged message comes back to the second worker, which finds the row
        # claimed by the dead one and sends nothing.
        assert result.get(timeout=60) == "already-sending", log.read_text()
        time.sleep(0.5)
        assert len(push_service.received) == 1
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(15)
                except subprocess.TimeoutExpired:
                    worker.kill()
    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.state == "sending" and delivery.attempts == 1
    # After the lease the sweeper closes it as interrupted; it is never sent again.
    later = delivery.claimed_at + services.CLAIM_LEASE + dt.timedelta(minutes=1)
    assert services.deliveries_sweep(now=later)["interrupted"] == 1
    assert Delivery.objects.get(pk=delivery_id).outcome == "interrupted"
