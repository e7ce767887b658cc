"""Nothing is lost when a channel or the broker fails: the inbox row exists first, and the
sweeper queues what is due again; a worker that died mid-send is never resent."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
import time_machine
from django.db import connection

from apps.notifications import services, tasks
from apps.notifications.models import Delivery, Notification
from tests.insights.sweep import make_insight
from tests.notifications.fakepush import FakePushService

UTC = dt.UTC
NOON = dt.datetime(2026, 11, 26, 11, 0, tzinfo=UTC)  # 12:00 CET


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOON, tick=True) as traveller:
        yield traveller


def _run_published(published) -> None:
    """Be the worker for what was queued (without Celery's own in-task retries, so the
    sweeper's schedule is what is tested)."""
    for message in list(published):
        if message["task"].endswith(".deliver"):
            tasks.deliver_batch([message["args"][0]])
        elif message["task"].endswith(".deliver_batch"):
            tasks.deliver_batch(*message["args"])


@pytest.mark.django_db
def test_a_lost_trigger_is_repaired_by_the_sweeper(
    user, subscribe, push_service, published, sweep, clock
) -> None:
    browser, _ = subscribe(user)
    # The request's transaction commits, but the task message never reaches a worker
    # (on_commit hooks do not run in this test: as if the broker had been down).
    notification = services.notify_new_insights(
        user_id=user.pk, insight_ids=[make_insight(user).pk]
    )
    assert Notification.objects.filter(pk=notification.pk).exists()
    assert sweep()["queued"] == 0  # it may still be on its way
    clock.shift(services.ENQUEUE_TTL + dt.timedelta(seconds=5))
    assert sweep()["queued"] == 1
    assert sweep()["queued"] == 0  # queued once, not every minute
    _run_published(published)
    assert browser.decrypt(push_service.received[0])["body"] == "A new insight is ready"


@pytest.mark.django_db
def test_a_refused_publish_is_retried_at_the_next_sweep(
    user, subscribe, push_service, published, sweep, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    subscribe(user)
    monkeypatch.setattr(services, "send_task_safely", lambda *a, **k: False)  # broker down
    with django_capture_on_commit_callbacks(execute=True):
        notification = services.notify_new_insights(
            user_id=user.pk, insight_ids=[make_insight(user).pk]
        )
    delivery = notification.deliveries.get()
    delivery.refresh_from_db()
    assert delivery.enqueued_at is None and delivery.state == "pending"
    monkeypatch.undo()
    assert sweep()["queued"] == 1
    _run_published(published)
    assert len(push_service.received) == 1


@pytest.mark.django_db
def test_push_service_down_then_back(
    user, subscribe, push_service, published, sweep, clock
) -> None:
    browser, _ = subscribe(user)
    push_service.scripted["/push/sub"] = [503, 502]
    notification = services.notify_new_insights(
        user_id=user.pk, insight_ids=[make_insight(user).pk]
    )
    delivery = notification.deliveries.get()
    assert tasks.deliver_batch([delivery.pk]) == {"retry-later": 1}
    delivery.refresh_from_db()
    assert delivery.state == "pending" and delivery.next_attempt_at > dt.datetime.now(tz=UTC)
    assert sweep()["queued"] == 0  # backing off

    clock.move_to(delivery.next_attempt_at + dt.timedelta(seconds=1))
    assert sweep()["queued"] == 1
    _run_published(published)  # 502 again: backs off longer
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.state == "pending"
    published.clear()

    clock.move_to(delivery.next_attempt_at + dt.timedelta(seconds=1))
    assert sweep()["queued"] == 1
    _run_published(published)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("sent", 3)
    assert [r.status for r in push_service.received] == [503, 502, 201]
    assert browser.decrypt(push_service.received[-1])["kind"] == "insight"


@pytest.mark.django_db
def test_a_partial_failure_only_retries_the_browsers_that_failed(
    user, subscribe, push_service
) -> None:
    subscribe(user, "phone")
    subscribe(user, "laptop")
    push_service.scripted["/push/laptop"] = [500]
    notification = services.notify_new_insights(
        user_id=user.pk, insight_ids=[make_insight(user).pk]
    )
    result = tasks.deliver.apply(args=[notification.deliveries.get().pk])
    assert result.get() == "sent"
    assert len(push_service.to("phone")) == 1  # not sent twice to the phone
    assert len(push_service.to("laptop")) == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_two_workers_racing_for_one_delivery_send_one_push(user, subscribe, push_service) -> None:
    subscribe(user)
    notification = services.notify_new_insights(
        user_id=user.pk, insight_ids=[make_insight(user).pk]
    )
    delivery_id = notification.deliveries.get().pk
    push_service.hold = threading.Event()
    results: list[str] = []

    def worker() -> None:
        try:
            results.append(tasks.deliver(delivery_id))
        finally:
            connection.close()

    first = threading.Thread(target=worker)
    first.start()
    assert push_service.arrived.wait(10)  # the first worker is mid-send
    second = threading.Thread(target=worker)
    second.start()
    second.join(10)
    push_service.hold.set()
    first.join(10)
    assert sorted(results) == ["already-sending", "sent"]
    assert len(push_service.received) == 1
    assert Delivery.objects.get(pk=delivery_id).state == "sent"


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_two_batches_of_the_same_deliveries_at_once_push_each_exactly_once(
    subscribe, push_service
) -> None:
    from tests.factories import UserFactory

    ids = []
    for index in range(25):
        rep = UserFactory()
        subscribe(rep, f"rep{index}")
        notification = services.notify_new_insights(
            user_id=rep.pk, insight_ids=[make_insight(rep, fingerprint=f"f{index}").pk]
        )
        ids.append(notification.deliveries.get().pk)
    results: list[dict[str, int]] = []
    start = threading.Barrier(2)

    def worker(order: list[int]) -> None:
        try:
            start.wait(5)
            results.append(tasks.deliver_batch(order))
        finally:
            connection.close()

    threads = [
        threading.Thread(target=worker, args=(ids,)),
        threading.Thread(target=worker, args=(list(reversed(ids)),)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(r.get("sent", 0) for r in results) == 25
    assert sorted(r.path for r in push_service.received) == sorted(
        f"/push/rep{i}" for i in range(25)
    )
    assert set(Delivery.objects.filter(pk__in=ids).values_list("state", flat=True)) == {"sent"}


@pytest.mark.django_db
def test_a_broken_answer_for_one_rep_loses_no_other_reps_push(
    subscribe: Any, push_service: FakePushService
) -> None:
    """A push service that resets the connection mid-answer is one transient failure of that
    delivery, not a crash of the whole batch (claimed rows of a crashed batch are never
    resent)."""
    from tests.factories import UserFactory

    ids = []
    for index in range(3):
        rep: Any = UserFactory()
        subscribe(rep, f"rep{index}")
        notification = services.notify_new_insights(
            user_id=rep.pk, insight_ids=[make_insight(rep, fingerprint=f"f{index}").pk]
        )
        assert notification is not None
        ids.append(notification.deliveries.get().pk)
    push_service.broken.add("/push/rep0")

    assert tasks.deliver_batch(ids) == {"retry-later": 1, "sent": 2}

    states = dict(Delivery.objects.filter(pk__in=ids).values_list("pk", "state"))
    assert [states[pk] for pk in ids] == ["pending", "sent", "sent"]
    assert Delivery.objects.get(pk=ids[0]).outcome == "broken-answer"
