"""Writers of CRM figures at once. Two drains of one connection (a backlog's next task beside a
new delivery's drain, or the sweeper's) take turns a batch at a time: deliveries keep their
order and a day's call figures count every call. Two imports at once count every call too."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection as db_connection

from apps.performance import ingest, services
from apps.performance.models import Call, DailyCallStats
from tests.performance.conftest import client_for, post_import, webhook_post

pytestmark = [pytest.mark.usefixtures("frozen"), pytest.mark.postgres]

CALL = {
    "kind": "call",
    "external_id": "call-1",
    "owner_email": "anna@acme.test",
    "occurred_at": "2026-11-20T09:00:00+01:00",
    "duration_seconds": 300,
    "outcome": "connected",
}


def _two_deliveries(org: Any, monkeypatch: pytest.MonkeyPatch, second: dict[str, Any]) -> uuid.UUID:
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
    return uuid.UUID(connection_id)


def _second_drain_waits_for_the_first(
    connection_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drain A stops at the end of its batch, holding e1; drain B starts, must wait for A's
    batch to commit, then takes e2."""
    inside, release = threading.Event(), threading.Event()
    original: Callable[..., Any] = services._webhook_events_processed

    def paused(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "drain-a":
            inside.set()
            release.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(services, "_webhook_events_processed", paused)

    def drain() -> None:
        try:
            services._webhook_events_batch(connection_id=connection_id)
        finally:
            db_connection.close()

    a = threading.Thread(target=drain, name="drain-a")
    a.start()
    assert inside.wait(10)
    b = threading.Thread(target=drain, name="drain-b")
    b.start()
    b.join(0.5)
    assert b.is_alive(), "the second drain did not wait for the first one's batch"
    release.set()
    a.join(10)
    b.join(10)
    assert not a.is_alive() and not b.is_alive()


@pytest.mark.django_db(transaction=True)
def test_a_later_delivery_keeps_its_values_when_two_drains_run(org, monkeypatch) -> None:
    later = {**CALL, "duration_seconds": 1200}
    connection_id = _two_deliveries(org, monkeypatch, later)

    _second_drain_waits_for_the_first(connection_id, monkeypatch)

    assert Call.objects.get().duration_seconds == 1200


@pytest.mark.django_db(transaction=True)
def test_the_day_counts_both_calls_when_two_drains_run(org, monkeypatch) -> None:
    other = {**CALL, "external_id": "call-2", "occurred_at": "2026-11-20T10:00:00+01:00"}
    connection_id = _two_deliveries(org, monkeypatch, other)

    _second_drain_waits_for_the_first(connection_id, monkeypatch)

    assert Call.objects.filter(user=org.anna).count() == 2
    assert DailyCallStats.objects.get(user=org.anna, source="webhook").calls_made == 2


HEADER = "kind,external_id,owner_email,occurred_at,tz,duration_seconds,outcome\n"


@pytest.mark.django_db(transaction=True)
def test_two_imports_at_once_count_both_calls_of_the_day(org, monkeypatch) -> None:
    """Import A stops after rebuilding the day's figures, before it commits; import B of
    another call of the same rep and day must wait for it, then count both calls."""
    files = {
        "import-a": HEADER + "call,a-1,anna@acme.test,2026-11-20T09:00:00+01:00,,300,connected\n",
        "import-b": HEADER + "call,b-1,anna@acme.test,2026-11-20T10:00:00+01:00,,60,connected\n",
    }
    rebuilt, release = threading.Event(), threading.Event()
    original = ingest.call_stats_rebuild

    def paused(**kwargs: Any) -> None:
        original(**kwargs)
        if threading.current_thread().name == "import-a":
            rebuilt.set()
            release.wait(10)

    monkeypatch.setattr(ingest, "call_stats_rebuild", paused)
    answers: dict[str, int] = {}

    def run() -> None:
        name = threading.current_thread().name
        try:
            response = post_import(
                client_for(org.admin),
                files[name].encode(),
                format="energytrack",
                team_id=str(org.team.pk),
            )
            answers[name] = response.status_code
        finally:
            db_connection.close()

    a = threading.Thread(target=run, name="import-a")
    a.start()
    assert rebuilt.wait(10)
    b = threading.Thread(target=run, name="import-b")
    b.start()
    b.join(1.0)
    assert b.is_alive(), "the second import did not wait for the first one's rebuild"
    release.set()
    a.join(10)
    b.join(10)

    assert answers == {"import-a": 201, "import-b": 201}
    assert Call.objects.filter(user=org.anna).count() == 2
    assert DailyCallStats.objects.get(user=org.anna, source="csv").calls_made == 2
