"""A check-in reminder is a nudge for its own local day: sent late (a slow queue, a retry after
the push service failed) it is not pushed once that day is over, whether quiet hours would
hold it to the next morning or the day boundary has already passed. Quiet hours that end the
same day still hold it, and other kinds are held and sent as before."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine

from apps.notifications import services, tasks
from apps.notifications.models import Delivery
from tests.insights.sweep import make_insight
from tests.notifications.test_dispatch_catch_up import _rep

UTC = dt.UTC
# Thursday 26 November 2026, 20:00 in Amsterdam (CET, +01:00); quiet hours from 21:00 by default.
EVENING = dt.datetime(2026, 11, 26, 19, 0, tzinfo=UTC)


def _reminder_deliveries(window_start: dt.datetime, *reps: Any) -> dict[Any, Delivery]:
    """The reminders of ``reps`` for that hour's dispatch window, by rep."""
    services.reminders_prepare(user_ids=[rep.pk for rep in reps], window_start=window_start)
    return {
        d.notification.user_id: d
        for d in Delivery.objects.select_related("notification").filter(
            notification__user__in=reps, notification__kind="reminder"
        )
    }


@pytest.mark.django_db
def test_a_reminder_quiet_hours_would_hold_to_the_next_morning_is_not_sent(
    subscribe: Callable[..., Any],
    push_service: Any,
    published: list[dict[str, Any]],
    sweep: Callable[[], dict[str, int]],
) -> None:
    rep = _rep(dt.time(20, 55))  # quiet hours 21:00-07:30
    browser, _ = subscribe(rep)
    with time_machine.travel(EVENING, tick=False) as clock:
        reminder = _reminder_deliveries(EVENING, rep)[rep.pk]
        assert reminder.due_at == dt.datetime(2026, 11, 26, 19, 55, tzinfo=UTC)  # 20:55 CET
        clock.move_to(reminder.due_at)
        notification = services.notify_new_insights(
            user_id=rep.pk, insight_ids=[make_insight(rep).pk]
        )
        assert notification is not None
        insight = notification.deliveries.get()
        # The broker lost both tasks; at 21:06 CET, inside the quiet hours, the sweeper queues
        # them again in one batch.
        clock.move_to(dt.datetime(2026, 11, 26, 20, 6, tzinfo=UTC))
        assert sweep()["queued"] == 2
        [batch] = [m for m in published if m["task"] == services.DELIVER_BATCH_TASK]
        assert tasks.deliver_batch(*batch["args"]) == {"too-late": 1, "held": 1}

        # 07:31 CET on the 27th: the insight goes out, the reminder for the 26th does not.
        clock.move_to(dt.datetime(2026, 11, 27, 6, 31, tzinfo=UTC))
        published.clear()
        assert sweep()["queued"] == 1
        assert [m["args"] for m in published] == [[insight.pk]]
        assert tasks.deliver(insight.pk) == "sent"
        assert tasks.deliver(reminder.pk) == "already-skipped"  # a duplicate task
    reminder.refresh_from_db()
    assert (reminder.state, reminder.outcome) == ("skipped", "too-late")
    assert reminder.due_at == dt.datetime(2026, 11, 26, 19, 55, tzinfo=UTC)
    [received] = push_service.received
    assert browser.decrypt(received)["kind"] == "insight"


@pytest.mark.django_db
def test_a_reminder_retried_inside_the_quiet_hours_is_not_sent_the_next_morning(
    subscribe: Callable[..., Any], push_service: Any, sweep: Callable[[], dict[str, int]]
) -> None:
    rep = _rep(dt.time(20, 55))
    subscribe(rep)
    push_service.scripted["/push/sub"] = [503]
    with time_machine.travel(EVENING, tick=False) as clock:
        reminder = _reminder_deliveries(EVENING, rep)[rep.pk]
        clock.move_to(reminder.due_at)
        with pytest.raises(services.TransientDeliveryError):
            services.delivery_send(delivery_id=reminder.pk)
        # The retry runs late, at 21:02 CET.
        clock.move_to(dt.datetime(2026, 11, 26, 20, 2, tzinfo=UTC))
        assert tasks.deliver(reminder.pk) == "too-late"
        clock.move_to(dt.datetime(2026, 11, 27, 6, 31, tzinfo=UTC))
        assert sweep()["queued"] == 0
    reminder.refresh_from_db()
    assert (reminder.state, reminder.outcome, reminder.attempts) == ("skipped", "too-late", 1)
    assert [r.status for r in push_service.received] == [503]


@pytest.mark.django_db
def test_quiet_hours_that_end_the_same_day_still_hold_a_reminder(
    subscribe: Callable[..., Any], push_service: Any, sweep: Callable[[], dict[str, int]]
) -> None:
    until_morning = _rep(dt.time(20, 55))  # quiet until 07:30: the 26th is over by then
    until_late_evening = _rep(dt.time(20, 55), quiet_hours_end=dt.time(23, 0))
    for rep in (until_morning, until_late_evening):
        subscribe(rep, name=str(rep.pk))
    with time_machine.travel(EVENING, tick=False) as clock:
        reminders = _reminder_deliveries(EVENING, until_morning, until_late_evening)
        # The queue was slow: both tasks run at 21:02 CET, inside the quiet hours.
        clock.move_to(dt.datetime(2026, 11, 26, 20, 2, tzinfo=UTC))
        assert tasks.deliver(reminders[until_morning.pk].pk) == "too-late"
        assert tasks.deliver(reminders[until_late_evening.pk].pk) == "held"
        clock.move_to(dt.datetime(2026, 11, 26, 22, 0, 20, tzinfo=UTC))  # 23:00 CET
        assert sweep()["queued"] == 1
        assert tasks.deliver(reminders[until_late_evening.pk].pk) == "sent"
    assert [r.path for r in push_service.received] == [f"/push/{until_late_evening.pk}"]


@pytest.mark.django_db
def test_a_reminder_retried_after_its_day_boundary_is_not_sent(
    subscribe: Callable[..., Any], push_service: Any
) -> None:
    """Without quiet hours the day ends at the rep's day boundary (04:00), not at midnight:
    a check-in at 00:30 still counts for the evening before, so a retry then still reminds."""
    after_midnight = _rep(dt.time(23, 30), quiet_hours_enabled=False)
    after_boundary = _rep(dt.time(23, 30), quiet_hours_enabled=False)
    for rep in (after_midnight, after_boundary):
        subscribe(rep, name=str(rep.pk))
        push_service.scripted[f"/push/{rep.pk}"] = [503]
    window = dt.datetime(2026, 11, 26, 22, 0, tzinfo=UTC)  # 23:00 CET
    with time_machine.travel(window, tick=False) as clock:
        reminders = _reminder_deliveries(window, after_midnight, after_boundary)
        clock.move_to(dt.datetime(2026, 11, 26, 22, 30, tzinfo=UTC))
        for reminder in reminders.values():
            with pytest.raises(services.TransientDeliveryError):
                services.delivery_send(delivery_id=reminder.pk)
        # The next attempts run late (workers down): 00:30 and 04:05 CET on the 27th.
        clock.move_to(dt.datetime(2026, 11, 26, 23, 30, tzinfo=UTC))
        assert tasks.deliver(reminders[after_midnight.pk].pk) == "sent"
        clock.move_to(dt.datetime(2026, 11, 27, 3, 5, tzinfo=UTC))
        assert tasks.deliver(reminders[after_boundary.pk].pk) == "too-late"
    late = Delivery.objects.get(pk=reminders[after_boundary.pk].pk)
    assert (late.state, late.outcome) == ("skipped", "too-late")
    assert sorted((r.path, r.status) for r in push_service.received) == sorted(
        [
            (f"/push/{after_midnight.pk}", 503),
            (f"/push/{after_boundary.pk}", 503),
            (f"/push/{after_midnight.pk}", 201),
        ]
    )
