"""Scheduling on the rep's own clock: the hourly dispatcher across time zones and DST
changes, quiet hours, reminders skipped after a check-in, the weekly digest, and fan-out
messages that expire."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from apps.notifications import selectors, services, tasks
from apps.notifications.models import Delivery, Notification
from apps.notifications.schedule import local_instant, occurrences_in_window, quiet_hours_end
from tests.factories import UserFactory
from tests.insights.sweep import make_insight

UTC = dt.UTC
AMS = ZoneInfo("Europe/Amsterdam")


def _rep(tz: str, reminder: str | None = None, **prefs) -> object:
    user = UserFactory(timezone=tz)
    if reminder is not None:
        hour, minute = map(int, reminder.split(":"))
        prefs = {"reminder_enabled": True, "reminder_time": dt.time(hour, minute), **prefs}
    if prefs:
        services.preferences_update(user=user, **prefs)
    return user


def _window(instant: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    return instant, instant + dt.timedelta(hours=1)


# --- pure clock arithmetic -------------------------------------------------------------------


def test_a_time_in_the_spring_gap_happens_just_after_it() -> None:
    # 29 March 2026: Amsterdam jumps from 02:00 CET to 03:00 CEST (01:00 UTC).
    assert local_instant(dt.date(2026, 3, 29), dt.time(2, 30), AMS) == dt.datetime(
        2026, 3, 29, 1, 30, tzinfo=UTC
    )
    assert local_instant(dt.date(2026, 3, 29), dt.time(3, 30), AMS) == dt.datetime(
        2026, 3, 29, 1, 30, tzinfo=UTC
    )


def test_a_time_that_happens_twice_in_autumn_happens_once() -> None:
    # 25 October 2026: 02:00-03:00 happens twice in Amsterdam (00:00-01:00 and 01:00-02:00 UTC).
    start = dt.datetime(2026, 10, 24, 12, 0, tzinfo=UTC)
    hits = list(
        occurrences_in_window(
            start=start, end=start + dt.timedelta(days=1), tz=AMS, wall_time=dt.time(2, 30)
        )
    )
    assert hits == [(dt.date(2026, 10, 25), dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC))]


def test_quiet_hours_end_across_midnight_and_dst() -> None:
    start, end = dt.time(21, 0), dt.time(7, 30)
    evening = dt.datetime(2026, 11, 26, 21, 0, tzinfo=UTC)  # 22:00 CET
    assert quiet_hours_end(evening, AMS, start, end) == dt.datetime(2026, 11, 27, 6, 30, tzinfo=UTC)
    early = dt.datetime(2026, 11, 27, 5, 0, tzinfo=UTC)  # 06:00 CET
    assert quiet_hours_end(early, AMS, start, end) == dt.datetime(2026, 11, 27, 6, 30, tzinfo=UTC)
    assert quiet_hours_end(dt.datetime(2026, 11, 27, 7, 0, tzinfo=UTC), AMS, start, end) is None
    # The night the clocks go forward, quiet hours still end at 07:30 on the wall clock.
    night = dt.datetime(2026, 3, 28, 22, 0, tzinfo=UTC)  # 23:00 CET
    assert quiet_hours_end(night, AMS, start, end) == dt.datetime(2026, 3, 29, 5, 30, tzinfo=UTC)
    # Daytime quiet hours (no midnight wrap).
    assert quiet_hours_end(
        dt.datetime(2026, 11, 26, 12, 0, tzinfo=UTC), AMS, dt.time(12, 0), dt.time(14, 0)
    ) == dt.datetime(2026, 11, 26, 13, 0, tzinfo=UTC)


# --- the dispatcher --------------------------------------------------------------------------


@pytest.mark.django_db
def test_reps_in_every_zone_are_due_at_their_own_local_time() -> None:
    # 10:00-11:00 UTC on Thursday 26 November 2026.
    start, end = _window(dt.datetime(2026, 11, 26, 10, 0, tzinfo=UTC))
    due = {
        _rep("Europe/Amsterdam", "11:20"),  # 10:20 UTC
        _rep("Asia/Kolkata", "15:30"),  # +05:30 -> 10:00 UTC
        _rep("Asia/Kathmandu", "16:40"),  # +05:45 -> 10:55 UTC
        _rep(
            "America/New_York", "05:30", quiet_hours_start=dt.time(22), quiet_hours_end=dt.time(5)
        ),
        _rep("Pacific/Auckland", "23:15", quiet_hours_enabled=False),  # +13 -> 10:15 UTC
    }
    not_due = [
        _rep("Europe/Amsterdam", "12:00"),
        _rep("Europe/Amsterdam", "10:59"),
        _rep("Asia/Kolkata", "16:30"),
        _rep("Asia/Kathmandu", "15:40"),
        _rep(
            "America/New_York", "06:00", quiet_hours_start=dt.time(22), quiet_hours_end=dt.time(5)
        ),
        _rep("Europe/London", None),  # no reminder
    ]
    assert set(selectors.reminder_users_due(start=start, end=end)) == {str(u.pk) for u in due}
    assert not_due


@pytest.mark.django_db
def test_dst_moves_the_utc_hour_of_a_local_reminder() -> None:
    rep = _rep("Europe/Amsterdam", "17:00")
    pk = str(rep.pk)

    def due_at(utc_hour: dt.datetime) -> bool:
        return pk in selectors.reminder_users_due(
            start=utc_hour, end=utc_hour + dt.timedelta(hours=1)
        )

    # Saturday 28 March (CET, +01:00): 17:00 local is 16:00 UTC.
    assert due_at(dt.datetime(2026, 3, 28, 16, 0, tzinfo=UTC))
    assert not due_at(dt.datetime(2026, 3, 28, 15, 0, tzinfo=UTC))
    # Monday 30 March (CEST, +02:00): 17:00 local is 15:00 UTC.
    assert due_at(dt.datetime(2026, 3, 30, 15, 0, tzinfo=UTC))
    assert not due_at(dt.datetime(2026, 3, 30, 16, 0, tzinfo=UTC))
    # Back to CET on Monday 26 October.
    assert due_at(dt.datetime(2026, 10, 26, 16, 0, tzinfo=UTC))


@pytest.mark.django_db
def test_dst_gap_and_overlap_reminders_fire_exactly_once_a_day() -> None:
    gap = _rep("Europe/Amsterdam", "02:30", quiet_hours_enabled=False)
    hourly_counts: dict[str, int] = {str(gap.pk): 0}
    for day_start in (
        dt.datetime(2026, 3, 28, 22, tzinfo=UTC),
        dt.datetime(2026, 10, 24, 22, tzinfo=UTC),
    ):
        hourly_counts[str(gap.pk)] = 0
        for hour in range(24):
            start = day_start + dt.timedelta(hours=hour)
            if str(gap.pk) in selectors.reminder_users_due(
                start=start, end=start + dt.timedelta(hours=1)
            ):
                hourly_counts[str(gap.pk)] += 1
                fired_at = start
        assert hourly_counts[str(gap.pk)] == 1
        # Spring: 02:30 does not exist, it happens at 03:30 CEST (01:30 UTC).
        # Autumn: the first 02:30 (CEST, 00:30 UTC).
        assert fired_at in (
            dt.datetime(2026, 3, 29, 1, tzinfo=UTC),
            dt.datetime(2026, 10, 25, 0, tzinfo=UTC),
        )


@pytest.mark.django_db
def test_dispatcher_fans_out_in_chunks_that_expire(published, monkeypatch) -> None:
    monkeypatch.setattr(services, "PREPARE_CHUNK", 2)
    reps = [_rep("Europe/Amsterdam", "11:20") for _ in range(5)]
    digest_rep = _rep("Europe/Amsterdam", None, email_digest=True)
    # Monday 30 November 2026, 07:10 UTC = 08:10 CET: the digest hour, and 11:20 is not.
    with time_machine.travel(dt.datetime(2026, 11, 30, 7, 10, tzinfo=UTC)):
        counts = tasks.dispatch_local_schedules()
    assert counts == {
        "windows": 1,
        "reminder_windows_too_old": 0,
        "digest_windows_too_old": 0,
        "reminders": 0,
        "reminders_chunks": 0,
        "digests": 1,
        "digests_chunks": 1,
    }
    assert published == [
        {
            "task": "apps.notifications.tasks.prepare_digests",
            "args": [[str(digest_rep.pk)], "2026-11-30T07:00:00+00:00"],
            "expires": published[0]["expires"],
        }
    ]
    published.clear()
    with time_machine.travel(dt.datetime(2026, 11, 30, 10, 0, 5, tzinfo=UTC)):
        counts = tasks.dispatch_local_schedules()
    # 08:00 and 09:00 UTC had no run: caught up, with nobody due in them.
    assert counts["windows"] == 3
    assert counts["reminders"] == 5 and counts["reminders_chunks"] == 3
    chunks = [m["args"][0] for m in published]
    assert sorted(pk for chunk in chunks for pk in chunk) == sorted(str(r.pk) for r in reps)
    assert [len(c) for c in chunks] == [2, 2, 1]
    for message in published:
        assert message["task"] == "apps.notifications.tasks.prepare_reminders"
        assert message["args"][1] == "2026-11-30T10:00:00+00:00"
        # Expires well before the next hourly dispatch.
        expires = dt.datetime.fromisoformat(message["expires"])
        assert (
            dt.datetime(2026, 11, 30, 10, 40, tzinfo=UTC)
            < expires
            < dt.datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
        )


@pytest.mark.django_db
def test_prepared_reminders_wait_for_their_minute_and_are_idempotent(
    subscribe, push_service, published, sweep
) -> None:
    rep = _rep("Europe/Amsterdam", "11:20")
    browser, _ = subscribe(rep)
    start = dt.datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=True) as clock:
        assert tasks.prepare_reminders([str(rep.pk)], start.isoformat()) == {
            "reminders": 1,
            "skipped_checked_in": 0,
        }
        tasks.prepare_reminders([str(rep.pk)], start.isoformat())  # a duplicated chunk
        assert Notification.objects.filter(user=rep).count() == 1
        delivery = Delivery.objects.get(notification__user=rep)
        assert delivery.due_at == dt.datetime(2026, 11, 26, 10, 20, tzinfo=UTC)
        assert sweep()["queued"] == 0

        clock.move_to(dt.datetime(2026, 11, 26, 10, 20, 30, tzinfo=UTC))
        assert sweep()["queued"] == 1
        [message] = [m for m in published if m["task"].endswith(".deliver")]
        assert message["args"] == [delivery.pk]
        assert tasks.deliver(*message["args"]) == "sent"
    payload = browser.decrypt(push_service.received[0])
    assert payload["kind"] == "reminder"
    assert payload["title"] == "energytrack"
    assert payload["body"] == "Time for a quick check-in"
    assert payload["url"] == "/app/"


@pytest.mark.django_db
def test_no_reminder_when_the_rep_already_checked_in_that_local_day(
    consenting_user, checkin, subscribe, push_service
) -> None:
    services.preferences_update(
        user=consenting_user, reminder_enabled=True, reminder_time=dt.time(17, 0)
    )
    subscribe(consenting_user)
    start = dt.datetime(2026, 11, 26, 16, 0, tzinfo=UTC)  # 17:00 CET
    with time_machine.travel(start + dt.timedelta(minutes=1)):
        checkin(consenting_user, dt.datetime(2026, 11, 26, 8, 0, tzinfo=UTC))
        assert services.reminders_prepare(user_ids=[consenting_user.pk], window_start=start) == {
            "reminders": 0,
            "skipped_checked_in": 1,
        }
    assert not Notification.objects.filter(user=consenting_user).exists()
    # Yesterday's check-in does not count for today.
    with time_machine.travel(start + dt.timedelta(days=1, minutes=1)):
        result = services.reminders_prepare(
            user_ids=[consenting_user.pk], window_start=start + dt.timedelta(days=1)
        )
    assert result == {"reminders": 1, "skipped_checked_in": 0}


@pytest.mark.django_db
def test_a_check_in_after_the_reminder_was_planned_stops_the_push(
    consenting_user, checkin, subscribe, push_service
) -> None:
    services.preferences_update(
        user=consenting_user, reminder_enabled=True, reminder_time=dt.time(17, 40)
    )
    subscribe(consenting_user)
    start = dt.datetime(2026, 11, 26, 16, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=True) as clock:
        services.reminders_prepare(user_ids=[consenting_user.pk], window_start=start)
        delivery = Delivery.objects.get(notification__user=consenting_user)
        clock.move_to(dt.datetime(2026, 11, 26, 16, 25, tzinfo=UTC))
        checkin(consenting_user, dt.datetime(2026, 11, 26, 16, 25, tzinfo=UTC))
        clock.move_to(dt.datetime(2026, 11, 26, 16, 41, tzinfo=UTC))
        assert tasks.deliver(delivery.pk) == "checked-in"
    assert push_service.received == []
    delivery.refresh_from_db()
    assert delivery.state == "skipped"
    assert delivery.notification.dismissed_at is not None


@pytest.mark.django_db
def test_setting_a_reminder_later_this_hour_still_reminds_today(subscribe) -> None:
    rep = UserFactory(timezone="Europe/Amsterdam")
    subscribe(rep)
    # 17:10 CET: the 17:00 dispatch has run; a reminder for 17:45 is set now.
    with time_machine.travel(dt.datetime(2026, 11, 26, 16, 10, tzinfo=UTC)):
        services.preferences_update(user=rep, reminder_enabled=True, reminder_time=dt.time(17, 45))
    delivery = Delivery.objects.get(notification__user=rep)
    assert delivery.due_at == dt.datetime(2026, 11, 26, 16, 45, tzinfo=UTC)


@pytest.mark.django_db
def test_switching_on_a_reminder_whose_time_has_passed_does_not_ping_at_once(subscribe) -> None:
    rep = UserFactory(timezone="Europe/Amsterdam")
    subscribe(rep)
    # 17:40 CET, in the app: the reminder is switched on for 17:00, already past today.
    with time_machine.travel(dt.datetime(2026, 11, 26, 16, 40, tzinfo=UTC)):
        services.preferences_update(user=rep, reminder_enabled=True, reminder_time=dt.time(17, 0))
    assert not Notification.objects.filter(user=rep).exists()
    # Tomorrow's 17:00 dispatch reminds as usual.
    start = dt.datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    with time_machine.travel(start):
        services.reminders_prepare(user_ids=[rep.pk], window_start=start)
    assert Delivery.objects.get(notification__user=rep).due_at == start


# --- quiet hours -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_quiet_hours_hold_a_push_until_they_end(
    user, subscribe, push_service, published, sweep
) -> None:
    browser, _ = subscribe(user)
    evening = dt.datetime(2026, 11, 26, 21, 15, tzinfo=UTC)  # 22:15 CET
    with time_machine.travel(evening, tick=True) as clock:
        notification = services.notify_new_insights(
            user_id=user.pk, insight_ids=[make_insight(user).pk]
        )
        delivery = notification.deliveries.get()
        assert delivery.due_at == dt.datetime(2026, 11, 27, 6, 30, tzinfo=UTC)  # 07:30 CET
        # A task that runs anyway (duplicate, early sweep) sends nothing.
        assert tasks.deliver(delivery.pk) == "not-due"
        clock.move_to(dt.datetime(2026, 11, 27, 6, 29, tzinfo=UTC))
        assert sweep()["queued"] == 0
        clock.move_to(dt.datetime(2026, 11, 27, 6, 30, 20, tzinfo=UTC))
        assert sweep()["queued"] == 1
        for message in published:
            if message["task"].endswith(".deliver"):
                tasks.deliver(*message["args"])
    assert len(push_service.received) == 1
    assert browser.decrypt(push_service.received[0])["body"] == "A new insight is ready"


@pytest.mark.django_db
def test_changed_quiet_hours_move_what_they_hold(
    user, subscribe, push_service, published, django_capture_on_commit_callbacks
) -> None:
    """A push held until 07:30 by quiet hours follows the rep's new quiet hours: shortened to
    23:00 it goes out at 23:00, lengthened to 09:00 at 09:00, turned off at once. A push that
    was not held (scheduled for later) keeps its time."""
    subscribe(user)
    evening = dt.datetime(2026, 11, 26, 21, 15, tzinfo=UTC)  # 22:15 CET
    with time_machine.travel(evening, tick=False) as clock:
        held = services.notify_new_insights(user_id=user.pk, insight_ids=[make_insight(user).pk])
        delivery = held.deliveries.get()
        (later,) = services.notifications_create(
            [
                services.NotificationSpec(
                    user=user,
                    kind="system",
                    title_key="system.notice",
                    fingerprint="later",
                    scheduled_at=dt.datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
                )
            ]
        )
        planned = later.deliveries.get()
        assert delivery.due_at == dt.datetime(2026, 11, 27, 6, 30, tzinfo=UTC)

        services.preferences_update(user=user, quiet_hours_end=dt.time(23, 0))
        delivery.refresh_from_db()
        assert delivery.due_at == dt.datetime(2026, 11, 26, 22, 0, tzinfo=UTC)  # 23:00 CET

        services.preferences_update(user=user, quiet_hours_end=dt.time(9, 0))
        delivery.refresh_from_db()
        assert delivery.due_at == dt.datetime(2026, 11, 27, 8, 0, tzinfo=UTC)  # 09:00 CET
        assert push_service.received == []

        clock.move_to(evening + dt.timedelta(minutes=10))
        published.clear()
        with django_capture_on_commit_callbacks(execute=True):
            services.preferences_update(user=user, quiet_hours_enabled=False)
        delivery.refresh_from_db()
        assert delivery.due_at == evening + dt.timedelta(minutes=10)
        queued = [m["args"][0] for m in published if m["task"].endswith(".deliver")]
        assert queued == [delivery.pk]
        assert tasks.deliver(delivery.pk) == "sent"
    planned.refresh_from_db()
    assert planned.due_at == dt.datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert planned.state == "pending"
    assert len(push_service.received) == 1


@pytest.mark.django_db
def test_quiet_hours_are_checked_again_at_send_time(user, subscribe, push_service) -> None:
    subscribe(user)
    with time_machine.travel(dt.datetime(2026, 11, 26, 19, 55, tzinfo=UTC), tick=True) as clock:
        notification = services.notify_new_insights(
            user_id=user.pk, insight_ids=[make_insight(user).pk]
        )
        delivery = notification.deliveries.get()
        # The queue was slow: the task runs at 21:05 CET, inside the quiet hours.
        clock.move_to(dt.datetime(2026, 11, 26, 20, 5, tzinfo=UTC))
        assert tasks.deliver(delivery.pk) == "held"
    delivery.refresh_from_db()
    assert delivery.state == "pending"
    assert delivery.due_at == dt.datetime(2026, 11, 27, 6, 30, tzinfo=UTC)
    assert push_service.received == []


@pytest.mark.django_db
def test_quiet_hours_off_or_urgent_is_sent_at_once(user, subscribe, push_service) -> None:
    subscribe(user)
    night = dt.datetime(2026, 11, 26, 23, 0, tzinfo=UTC)
    with time_machine.travel(night, tick=True):
        urgent = services.notification_create(
            user=user, kind="system", title_key="system.notice", fingerprint_key="u", urgent=True
        )
        assert urgent.deliveries.get().due_at <= dt.datetime.now(tz=UTC)
        assert tasks.deliver(urgent.deliveries.get().pk) == "sent"
        services.preferences_update(user=user, quiet_hours_enabled=False)
        later = services.notify_new_insights(user_id=user.pk, insight_ids=[make_insight(user).pk])
        assert tasks.deliver(later.deliveries.get().pk) == "sent"
    assert push_service.received[0].headers["urgency"] == "high"
    assert len(push_service.received) == 2


@pytest.mark.django_db
def test_quiet_hours_follow_the_reps_own_zone(subscribe) -> None:
    tokyo = UserFactory(timezone="Asia/Tokyo")
    subscribe(tokyo)
    # 12:00 UTC is 21:00 in Tokyo: held until 07:30 Tokyo time (22:30 UTC).
    with time_machine.travel(dt.datetime(2026, 11, 26, 12, 0, tzinfo=UTC)):
        notification = services.notify_new_insights(
            user_id=tokyo.pk, insight_ids=[make_insight(tokyo).pk]
        )
    assert notification.deliveries.get().due_at == dt.datetime(2026, 11, 26, 22, 30, tzinfo=UTC)


@pytest.mark.django_db
def test_no_reminder_row_for_a_rep_who_cannot_be_reminded(subscribe) -> None:
    start = dt.datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    no_browser = _rep("Europe/Amsterdam", "11:20")
    push_off = _rep("Europe/Amsterdam", "11:20", push_enabled=False)
    subscribe(push_off)
    with time_machine.travel(start):
        result = services.reminders_prepare(
            user_ids=[no_browser.pk, push_off.pk], window_start=start
        )
    assert result == {"reminders": 0, "skipped_checked_in": 0}
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_yesterdays_unread_reminder_is_dismissed_by_todays(subscribe) -> None:
    rep = _rep("Europe/Amsterdam", "11:20")
    subscribe(rep)
    first = dt.datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    with time_machine.travel(first):
        services.reminders_prepare(user_ids=[rep.pk], window_start=first)
    with time_machine.travel(first + dt.timedelta(days=1)):
        services.reminders_prepare(user_ids=[rep.pk], window_start=first + dt.timedelta(days=1))
    rows = {n.params["local_date"]: n.dismissed_at for n in Notification.objects.filter(user=rep)}
    assert rows["2026-11-26"] is None
    assert rows["2026-11-25"] is not None
