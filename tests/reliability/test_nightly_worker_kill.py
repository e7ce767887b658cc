"""A Celery worker killed with SIGKILL in the middle of the nightly insight run (issue 9).

A real worker runs the real nightly dispatcher on a real Redis broker (acks_late); it is killed
at one of three moments, a second worker takes over the unacknowledged message, and afterwards:

- every rep has exactly one set of insights: the very set a clean, uninterrupted run stores;
- every rep has exactly one "new insights" notification, and got exactly one push.

The moments:
- ``mid-transaction``: the chunk's transaction is open, insights written, notification not yet
  (the worker waits on a table lock the test holds); the database rolls it all back.
- ``after-commit``: the chunk's work is committed and its pushes queued, the message is not yet
  acknowledged; the second worker runs the whole chunk again.
- ``dispatcher``: the dispatcher fanned the chunk out but was not acknowledged; the second
  worker runs the dispatcher again, so the chunk arrives twice.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from apps.accounts.models import User
from apps.insights.models import Insight
from apps.insights.services import insights_compute
from apps.journal.services import EntryInput, entries_upsert
from apps.notifications import services as notifications
from apps.notifications.models import Delivery, Notification, PushSubscription
from apps.notifications.push import generate_vapid_keys
from apps.privacy.models import Category
from apps.privacy.services import consent_grant
from tests.factories import UserFactory
from tests.notifications.fakepush import FakeBrowser, FakePushService
from tests.reliability.services import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
REPS = 4
HISTORY_DAYS = 200
NIGHTLY_HOUR = 5  # apps.insights.tasks.NIGHTLY_LOCAL_HOUR
DISPATCH = "apps.insights.tasks.dispatch_nightly_insights"
CHUNK = "apps.insights.tasks.compute_insights_batch"
DELIVER = "apps.notifications.tasks.deliver"
VAPID_SUBJECT = "mailto:privacy@energytrack.test"
_VAPID = generate_vapid_keys()


def zone_at_nightly_hour(now: dt.datetime) -> str:
    """A fixed-offset zone whose clock reads the nightly hour now, so the real dispatcher on
    the real clock finds the test's reps due."""
    for offset in range(-12, 15):
        if (now.hour + offset) % 24 == NIGHTLY_HOUR:
            return "Etc/UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc signs are inverted
    raise AssertionError("every hour has a zone")


def seed(user: User, tz: str, today: dt.date, seed_value: int) -> None:
    """Energy drops after 3+ drinks the evening before: a pattern the engine finds."""
    rng = np.random.default_rng(seed_value)
    zone = ZoneInfo(tz)
    items, previous = [], 0.0
    for back in range(HISTORY_DAYS, 0, -1):
        day = today - dt.timedelta(days=back)
        weekend = day.weekday() in (4, 5)
        drinks = float(rng.choice([0, 0, 0, 1, 2, 3, 4] if weekend else [0, 0, 0, 0, 0, 1, 3]))
        energy = 6.3 - (1.5 if previous >= 3 else 0.0) + rng.normal(0, 0.8)
        previous = drinks
        morning = dt.datetime.combine(day, dt.time(10), tzinfo=zone)
        evening = dt.datetime.combine(day, dt.time(21), tzinfo=zone)
        items.append(
            EntryInput(
                kind="energy",
                id=uuid.uuid4(),
                values={"occurred_at": morning, "level": int(min(9, max(1, round(energy))))},
            )
        )
        items.append(
            EntryInput(
                kind="alcohol",
                id=uuid.uuid4(),
                values={"occurred_at": evening, "standard_drinks": Decimal(str(drinks))},
            )
        )
    assert {o.result for o in entries_upsert(user=user, items=items)} == {"created"}


class Workers:
    """Real worker processes on the test's own queue of the test broker."""

    def __init__(self, tmp_path: Path) -> None:
        self.queue = f"nightly-kill-{uuid.uuid4().hex[:8]}"
        self.runs = tmp_path / "runs.jsonl"
        self.runs.touch()
        self.log = tmp_path / "workers.log"
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, hold_after: str = "") -> subprocess.Popen[bytes]:
        database = connection.settings_dict
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "energytrack.settings.test",
            "DATABASE_URL": (
                f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}"
                f"/{database['NAME']}"
            ),
            "REDIS_URL": settings.REDIS_URL,
            "TEST_QUEUE": self.queue,
            "TEST_RUNS_FILE": str(self.runs),
            "TEST_HOLD_AFTER": hold_after,
            "TEST_VAPID_PRIVATE_KEY": _VAPID[0],
            "TEST_VAPID_PUBLIC_KEY": _VAPID[1],
            "TEST_VAPID_SUBJECT": VAPID_SUBJECT,
        }
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.reliability.worker_app",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "-Q",
            self.queue,
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            "--loglevel=INFO",
            "-n",
            f"{self.queue}-{len(self.processes)}@%h",
        ]
        with self.log.open("ab") as out:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def finished(self, task: str, pid: int | None = None) -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in self.runs.read_text().splitlines() if line]
        return [r for r in lines if r["task"] == task and (pid is None or r["pid"] == pid)]

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(10)


@pytest.fixture
def push_service() -> Iterator[FakePushService]:
    service = FakePushService().start()
    yield service
    service.stop()


def _lock_notifications() -> psycopg.Connection[Any]:
    """Another session holds the inbox table: the chunk's transaction stops at its first
    notification insert, with the insights already written in it."""
    database = connection.settings_dict
    lock = psycopg.connect(
        host=database["HOST"],
        port=database["PORT"],
        user=database["USER"],
        dbname=database["NAME"],
    )
    lock.execute("LOCK TABLE notifications_notification IN EXCLUSIVE MODE")
    return lock


def _waiting_on_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = 'notifications_notification' AND NOT l.granted"
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def _snapshot(user_ids: list[Any]) -> dict[str, Any]:
    insights = sorted(
        (str(u), fp, c, f, o, lag, d, str(day))
        for u, fp, c, f, o, lag, d, day in Insight.objects.filter(user_id__in=user_ids).values_list(
            "user_id", "fingerprint", "construct", "factor", "outcome", "lag", "direction",
            "computed_on",
        )
    )  # fmt: skip
    return {
        "insights": insights,
        "notifications": sorted(
            str(u)
            for u in Notification.objects.filter(
                user_id__in=user_ids, kind=Notification.Kind.INSIGHT
            ).values_list("user_id", flat=True)
        ),
    }


@pytest.mark.parametrize("moment", ["mid-transaction", "after-commit", "dispatcher"])
def test_worker_killed_mid_nightly_run(
    moment: str, push_service: FakePushService, tmp_path: Path
) -> None:
    began = time.monotonic()
    now = timezone.now()
    if now.minute == 59 and now.second > 30:
        # The dispatcher must run in the same hour as the reps were put at their nightly hour.
        time.sleep(62 - now.second)
        now = timezone.now()
    tz = zone_at_nightly_hour(now)
    today = now.astimezone(ZoneInfo(tz)).date()
    reps = [UserFactory(timezone=tz) for _ in range(REPS)]
    for index, rep in enumerate(reps):
        for category in Category.values:
            consent_grant(user=rep, category=category)
        seed(rep, tz, today, seed_value=index + 1)
        # A real worker runs on the real clock: no quiet hours in the way.
        notifications.preferences_update(user=rep, quiet_hours_enabled=False)
        browser = FakeBrowser()
        notifications.push_subscription_upsert(
            user=rep,
            endpoint=push_service.endpoint(f"rep{index}"),
            p256dh=browser.p256dh,
            auth=browser.auth,
        )
    user_ids = [rep.pk for rep in reps]
    seeded = time.monotonic()

    from energytrack.celery import app

    workers = Workers(tmp_path)
    lock = _lock_notifications() if moment == "mid-transaction" else None
    hold = {"after-commit": CHUNK, "dispatcher": DISPATCH}.get(moment, "")
    try:
        first = workers.start(hold_after=hold)
        app.send_task(DISPATCH, queue=workers.queue)
        if lock is not None:
            wait_until(_waiting_on_lock, 60, what=f"the chunk to block\n{workers.log}")
        else:
            wait_until((tmp_path / "held").exists, 60, what=f"the hold point\n{workers.log}")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        killed = time.monotonic()
        if lock is not None:
            # The dead worker's backend finds its client gone and rolls back.
            lock.rollback()
            lock.close()
            lock = None
        if moment == "after-commit":
            # Committed before the kill: the first worker's insights and inbox rows.
            assert Insight.objects.filter(user_id__in=user_ids).exists()
        else:
            assert not Insight.objects.filter(user_id__in=user_ids).exists()

        second = workers.start()
        # mid-transaction/after-commit: the chunk once more; dispatcher: both chunks.
        chunks_expected = 2 if moment == "dispatcher" else 1
        wait_until(
            lambda: (
                len(workers.finished(CHUNK, second.pid)) >= chunks_expected
                and len(push_service.received) >= REPS
            ),
            90,
            interval=0.2,
            what=f"the second worker to finish\n{workers.log}",
        )
        # Longer than the redelivery timeout: anything else still owed would arrive now.
        time.sleep(3)
    finally:
        if lock is not None:
            lock.close()
        workers.stop_all()
    recovered = time.monotonic()

    first_runs = {r["task"]: r for r in workers.finished(DISPATCH, first.pid)}
    dispatched = (workers.finished(DISPATCH) or [{}])[0].get("retval") or {}
    assert dispatched.get("reps") == REPS, (dispatched, tz)
    assert first_runs.get(CHUNK) is None or moment == "after-commit"

    # One push per rep, never two.
    per_endpoint = sorted(r.path for r in push_service.received)
    assert per_endpoint == sorted(f"/push/rep{i}" for i in range(REPS)), per_endpoint
    # One inbox row per rep, quoting exactly that rep's insights; one push delivery each.
    chaotic = _snapshot(user_ids)
    assert chaotic["notifications"] == sorted(str(pk) for pk in user_ids)
    for rep in reps:
        notification = Notification.objects.get(user=rep, kind=Notification.Kind.INSIGHT)
        own = sorted(
            str(pk) for pk in Insight.objects.filter(user=rep).values_list("pk", flat=True)
        )
        assert own, f"rep {rep.pk} got no insight: the planted pattern was not found"
        assert sorted(notification.params["insight_ids"]) == own
        assert notification.deliveries.filter(channel=Delivery.Channel.PUSH).count() == 1
    computed_on = {row[-1] for row in chaotic["insights"]}
    assert len(computed_on) == 1, computed_on

    # Exactly one set: the one a clean, uninterrupted run of the same night stores.
    PushSubscription.objects.filter(user_id__in=user_ids).delete()
    Notification.objects.filter(user_id__in=user_ids).delete()
    Insight.objects.filter(user_id__in=user_ids).delete()
    clean = insights_compute(user_ids=user_ids, as_of=dt.date.fromisoformat(computed_on.pop()))
    assert _snapshot(user_ids) == chaotic
    assert clean["new"] == len(chaotic["insights"])

    print(
        f"\nnightly run, worker killed {moment}: {REPS} reps, {len(chaotic['insights'])} "
        f"insights, {len(push_service.received)} pushes; seeding {seeded - began:.1f}s, "
        f"kill to caught up {recovered - killed:.1f}s (incl. 3s watch), "
        f"total {time.monotonic() - began:.1f}s"
    )
