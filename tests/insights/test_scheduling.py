"""The nightly dispatcher picks reps by their local clock; feature refreshes are debounced."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone

from apps.insights import services
from apps.journal.services import EntryInput, entries_upsert
from tests.factories import UserFactory


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("utc_now", "due"),
    [
        # 04:00 UTC in January: 05:00 in Amsterdam (UTC+1), 23:00 in New York, 13:00 in Tokyo.
        (dt.datetime(2026, 1, 15, 4, 0, tzinfo=dt.UTC), {"Europe/Amsterdam"}),
        # 03:00 UTC in July: 05:00 in Amsterdam under summer time (UTC+2).
        (dt.datetime(2026, 7, 15, 3, 0, tzinfo=dt.UTC), {"Europe/Amsterdam"}),
        # 10:00 UTC in July: 05:00 in Chicago (CDT, UTC-5).
        (dt.datetime(2026, 7, 15, 10, 0, tzinfo=dt.UTC), {"America/Chicago"}),
        # 20:00 UTC: 05:00 the next morning in Tokyo (UTC+9, no DST).
        (dt.datetime(2026, 7, 15, 20, 0, tzinfo=dt.UTC), {"Asia/Tokyo"}),
    ],
)
def test_reps_are_due_at_five_in_their_own_zone(utc_now: dt.datetime, due: set[str]) -> None:
    reps = {
        tz: UserFactory(timezone=tz)
        for tz in ("Europe/Amsterdam", "America/Chicago", "Asia/Tokyo", "America/New_York")
    }
    ids = set(services.users_due_for_nightly(now=utc_now, local_hour=5))
    assert ids == {str(reps[tz].pk) for tz in due}


@pytest.mark.django_db
def test_dispatcher_fans_out_due_reps_in_chunks(monkeypatch) -> None:
    from apps.insights import tasks

    reps = [UserFactory(timezone="Europe/Amsterdam") for _ in range(3)]
    sent: list[tuple[list[str], dict]] = []
    monkeypatch.setattr(tasks, "FAN_OUT_CHUNK", 2)
    monkeypatch.setattr(
        tasks.compute_insights_batch,
        "apply_async",
        lambda args, **options: sent.append((args[0], options)),
    )
    with time_machine.travel(dt.datetime(2026, 1, 15, 4, 10, tzinfo=dt.UTC)):
        result = tasks.dispatch_nightly_insights()
    assert result == {"reps": 3, "chunks": 2}
    assert sorted(i for chunk, _ in sent for i in chunk) == sorted(str(r.pk) for r in reps)
    assert all(options["expires"] == 50 * 60 for _, options in sent)


@pytest.mark.django_db
def test_refresh_requests_are_debounced_into_one_flush(consenting_user, monkeypatch) -> None:
    scheduled: list[tuple] = []
    monkeypatch.setattr(
        services, "send_task_safely", lambda name, *args, **kw: scheduled.append((name, args, kw))
    )
    day = timezone.now() - dt.timedelta(days=2)
    entries_upsert(
        user=consenting_user,
        items=[EntryInput(kind="energy", id=uuid.uuid4(), values={"occurred_at": day, "level": 7})],
    )
    uid = str(consenting_user.pk)
    cache.clear()
    services.day_features_mark_dirty(user_id=uid, dates=["2026-11-20"])
    services.day_features_mark_dirty(user_id=uid, dates=["2026-11-21", "2026-11-20"])
    assert len(scheduled) == 1
    name, args, kw = scheduled[0]
    assert name == "apps.insights.tasks.day_features_flush" and args == (uid,)
    assert kw["countdown"] == services.REFRESH_DEBOUNCE_SECONDS
    assert cache.get(f"features:dirty:{uid}") == ["2026-11-20", "2026-11-21"]
    services.day_features_flush(user_id=uid)
    assert cache.get(f"features:dirty:{uid}") is None
    # After a flush the next change schedules again.
    services.day_features_mark_dirty(user_id=uid, dates=["2026-11-22"])
    assert len(scheduled) == 2
