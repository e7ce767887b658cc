"""Writers of CRM figures at once. Two drains of one connection (a backlog's next task beside a
new delivery's drain, or the sweeper's) take turns a batch at a time: deliveries keep their
order and a day's call figures count every call. Two imports at once count every call too."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connection as db_connection

from apps.performance import ingest, selectors, services
from apps.performance.models import Call, DailyCallStats
from tests.performance.conftest import client_for, post_import, webhook_post
from tests.performance.test_webhooks import CALL

pytestmark = [pytest.mark.usefixtures("frozen"), pytest.mark.postgres]


@dataclass
class Pause:
    inside: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


def _pause_the_first(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> Pause:
    """``module.name`` stops, once it has run, in the thread called "first" until released
    (its transaction still open); every other thread runs it as it is."""
    pause = Pause()
    original: Callable[..., Any] = getattr(module, name)

    def paused(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if threading.current_thread().name == "first":
            pause.inside.set()
            pause.release.wait(10)
        return result

    monkeypatch.setattr(module, name, paused)
    return pause


def _second_waits_for_the_first(work: Callable[[], None], pause: Pause) -> None:
    """``work`` in a thread "first" until it pauses, then in a thread "second", which must wait
    for the first one's transaction; then both finish."""

    def run() -> None:
        try:
            work()
        finally:
            db_connection.close()

    first = threading.Thread(target=run, name="first")
    first.start()
    assert pause.inside.wait(10)
    second = threading.Thread(target=run, name="second")
    second.start()
    second.join(1.0)
    assert second.is_alive(), "the second writer did not wait for the first one's transaction"
    pause.release.set()
    first.join(10)
    second.join(10)
    assert not first.is_alive() and not second.is_alive()


def _two_drains_of_two_deliveries(
    org: Any, monkeypatch: pytest.MonkeyPatch, second: dict[str, Any], pause_after: tuple[Any, str]
) -> None:
    """Deliveries e1 (CALL) and e2 (``second``); drain "first" takes e1 and stops after
    ``pause_after`` (a module and a function the batch calls), drain "second" must wait for it,
    then takes e2."""
    response = client_for(org.admin).post(
        f"/api/v1/performance/teams/{org.team.pk}/crm-connections", {"name": "HubSpot"}
    )
    connection_id, secret = response.json()["id"], response.json()["secret"]
    # The drains run by hand below.
    monkeypatch.setattr("apps.core.tasks.app.send_task", lambda *a, **k: None)
    for event_id, activity in (("e1", CALL), ("e2", second)):
        body = {"event_id": event_id, "activities": [activity]}
        assert webhook_post(connection_id, secret, body).status_code == 202
    monkeypatch.setattr(services, "WEBHOOK_DRAIN_BATCH", 1)
    pause = _pause_the_first(monkeypatch, *pause_after)

    _second_waits_for_the_first(
        lambda: services._webhook_events_batch(connection_id=uuid.UUID(connection_id)), pause
    )


@pytest.mark.django_db(transaction=True)
def test_a_later_delivery_keeps_its_values_when_two_drains_run(org, monkeypatch) -> None:
    # Stopped before it writes e1's call: with no row of it locked, nothing but the drain lock
    # keeps the second drain from storing e2's values first.
    before_writing = (selectors, "crm_connection_team_id")

    _two_drains_of_two_deliveries(
        org, monkeypatch, {**CALL, "duration_seconds": 1200}, before_writing
    )

    assert Call.objects.get().duration_seconds == 1200


@pytest.mark.django_db(transaction=True)
def test_the_day_counts_both_calls_when_two_drains_run(org, monkeypatch) -> None:
    other = {**CALL, "external_id": "call-2", "occurred_at": "2026-11-20T10:00:00+01:00"}

    # Stopped after it rebuilt the day's figures from the calls it could see.
    after_rebuilding = (services, "_webhook_events_processed")

    _two_drains_of_two_deliveries(org, monkeypatch, other, after_rebuilding)

    assert Call.objects.filter(user=org.anna).count() == 2
    assert DailyCallStats.objects.get(user=org.anna, source="webhook").calls_made == 2


HEADER = "kind,external_id,owner_email,occurred_at,tz,duration_seconds,outcome\n"


@pytest.mark.django_db(transaction=True)
def test_two_imports_at_once_count_both_calls_of_the_day(org, monkeypatch) -> None:
    """Import "first" stops after rebuilding the day's figures, before it commits; import
    "second", of another call of the same rep and day, must wait for it, then count both."""
    files = {
        "first": HEADER + "call,a-1,anna@acme.test,2026-11-20T09:00:00+01:00,,300,connected\n",
        "second": HEADER + "call,b-1,anna@acme.test,2026-11-20T10:00:00+01:00,,60,connected\n",
    }
    pause = _pause_the_first(monkeypatch, ingest, "call_stats_rebuild")
    answers: dict[str, int] = {}

    def one_import() -> None:
        name = threading.current_thread().name
        response = post_import(
            client_for(org.admin),
            files[name].encode(),
            format="energytrack",
            team_id=str(org.team.pk),
        )
        answers[name] = response.status_code

    _second_waits_for_the_first(one_import, pause)

    assert answers == {"first": 201, "second": 201}
    assert Call.objects.filter(user=org.anna).count() == 2
    assert DailyCallStats.objects.get(user=org.anna, source="csv").calls_made == 2
