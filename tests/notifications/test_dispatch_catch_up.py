"""The hourly dispatcher catches up the hours it missed (beat, broker or workers down), within
limits: recent reminders and late digests are still made, stale reminders are not, every
window is dispatched once even when two runs race, and the very first run starts now."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.notifications import services, tasks
from apps.notifications.models import Delivery, Notification
from tests.factories import UserFactory

UTC = dt.UTC
# Thursday 3 December 2026; Amsterdam is on CET (+01:00), so local 18:00 is 17:00 UTC.
THURSDAY = dt.datetime(2026, 12, 3, tzinfo=UTC)


def _rep(local_reminder: dt.time | None = None, **prefs: Any) -> Any:
    user = UserFactory(timezone="Europe/Amsterdam")
    if local_reminder is not None:
        prefs = {"reminder_enabled": True, "reminder_time": local_reminder, **prefs}
    services.preferences_update(user=user, **prefs)
    return user


def _reminder_rep(subscribe: Any, local_reminder: dt.time) -> Any:
    user = _rep(local_reminder)
    subscribe(user, name=str(user.pk))  # one browser each
    return user


def _dispatch_and_prepare(at: dt.datetime, published: list[dict[str, Any]]) -> dict[str, int]:
    """One beat tick at ``at`` and the workers running the chunks it queued, as in production."""
    published.clear()
    with time_machine.travel(at):
        counts = tasks.dispatch_local_schedules()
        _run_prepare_chunks(published)
    return counts


def _run_prepare_chunks(published: list[dict[str, Any]]) -> None:
    for message in published:
        if message["task"] == services.PREPARE_REMINDERS_TASK:
            tasks.prepare_reminders(*message["args"])
        elif message["task"] == services.PREPARE_DIGESTS_TASK:
            tasks.prepare_digests(*message["args"])


def _reminders(user: Any) -> list[Notification]:
    return list(Notification.objects.filter(user=user, kind=Notification.Kind.REMINDER))


@pytest.mark.django_db
def test_missed_hours_are_caught_up_once(subscribe, published) -> None:
    at_16 = _reminder_rep(subscribe, dt.time(17, 0))  # 16:00 UTC
    at_17 = _reminder_rep(subscribe, dt.time(18, 0))  # 17:00 UTC
    at_18 = _reminder_rep(subscribe, dt.time(19, 15))  # 18:15 UTC
    at_19 = _reminder_rep(subscribe, dt.time(20, 30))  # 19:30 UTC

    _dispatch_and_prepare(THURSDAY.replace(hour=16, second=5), published)
    assert len(_reminders(at_16)) == 1
    # No run at 17:00 and 18:00 UTC (a deploy, beat down); the 19:00 run catches up.
    counts = _dispatch_and_prepare(THURSDAY.replace(hour=19, second=5), published)
    windows = sorted(m["args"][1] for m in published)
    assert windows == [
        "2026-12-03T17:00:00+00:00",
        "2026-12-03T18:00:00+00:00",
        "2026-12-03T19:00:00+00:00",
    ]
    for rep, due in (
        (at_16, THURSDAY.replace(hour=16)),
        (at_17, THURSDAY.replace(hour=17)),
        (at_18, THURSDAY.replace(hour=18, minute=15)),
        (at_19, THURSDAY.replace(hour=19, minute=30)),
    ):
        [reminder] = _reminders(rep)
        assert reminder.params == {"local_date": "2026-12-03"}
        assert Delivery.objects.get(notification=reminder).due_at == due
    assert counts.get("windows") == 3 and counts["reminders"] == 3

    # A second run in the same hour (a duplicated tick) dispatches nothing and makes nothing.
    counts = _dispatch_and_prepare(THURSDAY.replace(hour=19, minute=40), published)
    assert published == []
    assert Notification.objects.count() == 4
    assert Delivery.objects.count() == 4
    assert counts["windows"] == 0 and counts["reminders"] == 0


@pytest.mark.django_db
def test_a_long_gap_skips_stale_reminders_but_still_sends_the_monday_digest(
    subscribe, published
) -> None:
    sunday_evening = dt.datetime(2026, 12, 6, 20, 0, 5, tzinfo=UTC)
    monday_noon = dt.datetime(2026, 12, 7, 12, 0, 5, tzinfo=UTC)
    digest_rep = _rep(email_digest=True)  # Monday 08:00 CET = 07:00 UTC
    stale = _reminder_rep(subscribe, dt.time(9, 0))  # 08:00 UTC: four hours before the run
    recent = _reminder_rep(subscribe, dt.time(11, 0))  # 10:00 UTC: two hours before
    now_due = _reminder_rep(subscribe, dt.time(13, 20))  # 12:20 UTC: this hour

    _dispatch_and_prepare(sunday_evening, published)
    # Down from Sunday 21:00 until Monday noon UTC.
    counts = _dispatch_and_prepare(monday_noon, published)

    assert _reminders(stale) == []
    assert len(_reminders(recent)) == 1
    assert len(_reminders(now_due)) == 1
    [digest] = Notification.objects.filter(user=digest_rep, kind=Notification.Kind.DIGEST)
    assert digest.params == {"week_start": "2026-11-30", "week_end": "2026-12-06"}
    delivery = Delivery.objects.get(notification=digest)
    assert delivery.channel == Delivery.Channel.EMAIL
    # Due at once: the sweeper sends it with the next minute's run.
    assert delivery.due_at <= monday_noon
    assert counts["windows"] == 16  # 21:00 Sunday .. 12:00 Monday
    assert counts["reminder_windows_too_old"] == 13  # only 10:00, 11:00 and 12:00 remind
    assert counts["digest_windows_too_old"] == 0


@pytest.mark.django_db
def test_a_digest_is_caught_up_for_two_days_and_not_after(published) -> None:
    amsterdam = _rep(email_digest=True)  # Monday 08:00 CET = Monday 07:00 UTC
    honolulu = UserFactory(timezone="Pacific/Honolulu")  # Monday 08:00 HST = 18:00 UTC
    services.preferences_update(user=honolulu, email_digest=True)
    _dispatch_and_prepare(dt.datetime(2026, 12, 6, 20, 0, 5, tzinfo=UTC), published)
    # Nothing ran from Sunday 21:00 until Wednesday 08:00 UTC: Honolulu's Monday hour is 38
    # hours old, Amsterdam's 49.
    counts = _dispatch_and_prepare(dt.datetime(2026, 12, 9, 8, 0, 5, tzinfo=UTC), published)
    [digest] = Notification.objects.filter(user=honolulu, kind=Notification.Kind.DIGEST)
    assert digest.params == {"week_start": "2026-11-30", "week_end": "2026-12-06"}
    assert not Notification.objects.filter(user=amsterdam).exists()
    assert counts["windows"] == 60
    assert counts["digest_windows_too_old"] == 12  # Sunday 21:00 .. Monday 08:00


@pytest.mark.django_db
def test_a_caught_up_reminder_is_not_made_inside_quiet_hours(subscribe, published) -> None:
    rep = _reminder_rep(subscribe, dt.time(20, 45))  # 19:45 UTC; quiet hours from 21:00 CET
    _dispatch_and_prepare(THURSDAY.replace(hour=18, second=5), published)
    # The 19:00 UTC run was missed; at 20:00 UTC (21:00 CET) the rep's quiet hours have begun:
    # held until 07:30 tomorrow, it would remind of a day that has passed.
    counts = _dispatch_and_prepare(THURSDAY.replace(hour=20, second=5), published)
    assert counts["reminders"] == 1  # dispatched ...
    assert _reminders(rep) == []  # ... and passed over when prepared


@pytest.mark.django_db
def test_the_first_run_dispatches_only_its_own_hour(subscribe, published) -> None:
    before = _reminder_rep(subscribe, dt.time(11, 10))  # 10:10 UTC, before the first run
    first = _reminder_rep(subscribe, dt.time(12, 10))  # 11:10 UTC
    missed = _reminder_rep(subscribe, dt.time(13, 10))  # 12:10 UTC
    then = _reminder_rep(subscribe, dt.time(14, 10))  # 13:10 UTC

    counts = _dispatch_and_prepare(THURSDAY.replace(hour=11, second=5), published)
    assert [m["args"][1] for m in published] == ["2026-12-03T11:00:00+00:00"]
    assert _reminders(before) == []
    assert len(_reminders(first)) == 1
    # The first run is where catching up starts: 12:00 was missed, 13:00 catches it up.
    later = _dispatch_and_prepare(THURSDAY.replace(hour=13, second=5), published)
    assert len(_reminders(missed)) == 1
    assert len(_reminders(then)) == 1
    assert _reminders(before) == []
    assert (counts["windows"], later["windows"]) == (1, 2)


@pytest.mark.django_db
def test_a_window_the_broker_refused_is_dispatched_by_the_next_run(
    subscribe, published, monkeypatch
) -> None:
    at_17 = _reminder_rep(subscribe, dt.time(18, 0))  # 17:00 UTC
    at_18 = _reminder_rep(subscribe, dt.time(19, 0))  # 18:00 UTC
    _dispatch_and_prepare(THURSDAY.replace(hour=16, second=5), published)

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionRefusedError("broker down")

    # The broker is the outside world: the one thing replaced here.
    with monkeypatch.context() as patch:
        patch.setattr("apps.core.tasks.app.send_task", broker_down)
        counts = _dispatch_and_prepare(THURSDAY.replace(hour=17, second=5), published)
    assert _reminders(at_17) == []

    later = _dispatch_and_prepare(THURSDAY.replace(hour=18, second=5), published)
    assert len(_reminders(at_17)) == 1
    assert len(_reminders(at_18)) == 1
    assert (counts["windows"], later["windows"]) == (0, 2)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_dispatch_each_window_once(subscribe, published) -> None:
    reps = {
        hour: [_reminder_rep(subscribe, dt.time(hour + 1, 5)) for _ in range(3)]
        for hour in (17, 18, 19)
    }
    services.dispatch_local_schedules(now=THURSDAY.replace(hour=16, second=5))
    published.clear()

    # Four runs of the 19:00 tick at once (a duplicated beat tick, a redelivery, ...).
    runs = 4
    barrier = threading.Barrier(runs)
    results: list[dict[str, int]] = []
    failures: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(
                services.dispatch_local_schedules(now=THURSDAY.replace(hour=19, second=5))
            )
        except BaseException as exc:  # surfaced in the main thread below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures

    per_window = Counter(
        (m["task"], m["args"][1], tuple(m["args"][0])) for m in published if m["args"]
    )
    assert sorted(window for _, window, _ in per_window) == [
        "2026-12-03T17:00:00+00:00",
        "2026-12-03T18:00:00+00:00",
        "2026-12-03T19:00:00+00:00",
    ]
    assert set(per_window.values()) == {1}
    # One run took the three missed windows, the others found them done.
    assert sorted(r.get("windows", -1) for r in results) == [0, 0, 0, 3]
    with time_machine.travel(THURSDAY.replace(hour=19, second=30)):
        _run_prepare_chunks(published)
    for hour, due in reps.items():
        for rep in due:
            [reminder] = _reminders(rep)
            assert Delivery.objects.get(notification=reminder).due_at == THURSDAY.replace(
                hour=hour, minute=5
            )


@pytest.mark.django_db
def test_a_catch_up_run_costs_the_same_queries_for_any_number_of_reps(subscribe, published) -> None:
    def catch_up(day: int, reps_per_hour: int) -> tuple[int, dict[str, int]]:
        for hour in (17, 18, 19):
            for _ in range(reps_per_hour):
                # Amsterdam zone, reminder at local hour + 1 (this UTC hour) on any day.
                _reminder_rep(subscribe, dt.time(hour + 1, 5))
        start = dt.datetime(2026, 12, day, 16, 0, 5, tzinfo=UTC)
        services.dispatch_local_schedules(now=start)
        with CaptureQueriesContext(connection) as queries:
            counts = services.dispatch_local_schedules(now=start.replace(hour=19))
        return len(queries), counts

    few, few_counts = catch_up(3, 1)
    many, many_counts = catch_up(4, 10)
    assert few_counts["reminders"] == 3
    assert many_counts["reminders"] == 33  # the first day's reps are due again
    assert few == many


@pytest.mark.django_db
def test_a_state_written_by_a_clock_that_was_ahead_does_not_stop_dispatch(
    subscribe, published
) -> None:
    rep = _reminder_rep(subscribe, dt.time(18, 0))  # 17:00 UTC
    # A server clock a day ahead ran the dispatcher once; then the clock was put right.
    _dispatch_and_prepare(THURSDAY.replace(day=4, hour=17, second=5), published)
    assert len(_reminders(rep)) == 1
    counts = _dispatch_and_prepare(THURSDAY.replace(hour=17, second=5), published)
    assert [m["args"][1] for m in published] == ["2026-12-03T17:00:00+00:00"]
    assert sorted(r.params["local_date"] for r in _reminders(rep)) == ["2026-12-03", "2026-12-04"]
    assert counts["windows"] == 1
