"""A real round trip through Redis and a real Celery worker (not eager mode): a queued import
and a webhook delivery are picked up and processed by the worker thread."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker

from apps.performance.models import Call, ImportJob, Meeting, WebhookEvent
from apps.performance.services import crm_connection_create
from energytrack.celery import app
from tests.performance.conftest import Org, client_for, data_file, post_import, webhook_post


def _wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("the worker did not finish in time")


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_queued_import_and_webhook_run_on_a_real_worker(
    org: Org, media_root: Any, settings: Any
) -> None:
    assert app.conf.broker_url.startswith("redis://")
    assert not app.conf.task_always_eager
    settings.IMPORT_SYNC_MAX_BYTES = 0
    app.control.purge()  # stale messages of earlier runs must not be what we observe
    connection, secret = crm_connection_create(team=org.team, name="HubSpot")
    with start_worker(app, perform_ping_check=False, loglevel="WARNING"):
        response = post_import(
            client_for(org.admin),
            data_file("hubspot_calls.csv"),
            format="hubspot_calls",
            team_id=str(org.team.pk),
        )
        assert response.status_code == 202, response.content
        job_id = response.json()["id"]
        delivery = webhook_post(
            connection.pk,
            secret,
            {
                "event_id": "worker-1",
                "activities": [
                    {
                        "kind": "meeting",
                        "external_id": "w-1",
                        "owner_email": "anna@acme.test",
                        "occurred_at": "2026-11-20T14:00:00+01:00",
                        "status": "held",
                        "budget": True,
                        "authority": True,
                        "need": True,
                    }
                ],
            },
        )
        assert delivery.status_code == 202, delivery.content
        _wait_for(lambda: ImportJob.objects.get(pk=job_id).status == "done")
        _wait_for(lambda: WebhookEvent.objects.get(event_id="worker-1").status == "processed")
    assert Call.objects.count() == 6
    assert Meeting.objects.get(external_id="w-1").qualified is True
