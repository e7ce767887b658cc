from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from celery.signals import before_task_publish

from apps.accounts.models import User
from apps.journal.services import EntryInput, entries_upsert
from apps.notifications import services
from apps.notifications.models import PushSubscription
from apps.notifications.push import generate_vapid_keys
from tests.notifications.fakepush import FakeBrowser, FakePushService

VAPID_SUBJECT = "mailto:privacy@energytrack.test"
_KEYS = generate_vapid_keys()


@pytest.fixture(scope="session")
def vapid_keys() -> tuple[str, str]:
    return _KEYS


@pytest.fixture(autouse=True)
def push_settings(settings: Any) -> Any:
    settings.VAPID_PRIVATE_KEY, settings.VAPID_PUBLIC_KEY = _KEYS
    settings.VAPID_SUBJECT = VAPID_SUBJECT
    settings.PUSH_ALLOW_LOOPBACK = True
    settings.FRONTEND_BASE_URL = "https://energytrack.test"
    return settings


@pytest.fixture(autouse=True)
def _fresh_senders() -> Iterator[None]:
    # Connections and cached VAPID headers belong to one test's fake push service.
    yield
    for sender in services._SENDERS.values():
        sender.close()
    services._SENDERS.clear()


@pytest.fixture
def push_service() -> Iterator[FakePushService]:
    service = FakePushService().start()
    yield service
    service.stop()


@pytest.fixture
def subscribe(push_service: FakePushService) -> Callable[..., tuple[FakeBrowser, PushSubscription]]:
    def _subscribe(user: User, name: str = "sub") -> tuple[FakeBrowser, PushSubscription]:
        browser = FakeBrowser()
        subscription, _ = services.push_subscription_upsert(
            user=user,
            endpoint=push_service.endpoint(name),
            p256dh=browser.p256dh,
            auth=browser.auth,
        )
        return browser, subscription

    return _subscribe


@pytest.fixture
def checkin() -> Callable[[User, dt.datetime], None]:
    def _checkin(user: User, at: dt.datetime, level: int = 6) -> None:
        outcome = entries_upsert(
            user=user,
            items=[
                EntryInput(
                    kind="energy", id=uuid.uuid4(), values={"occurred_at": at, "level": level}
                )
            ],
        )[0]
        assert outcome.result == "created", outcome

    return _checkin


@pytest.fixture
def published() -> Iterator[list[dict[str, Any]]]:
    """Every task message published during the test: name, args and expiry (headers)."""
    from energytrack.celery import app

    messages: list[dict[str, Any]] = []

    def _record(sender: str | None = None, headers: Any = None, body: Any = None, **_: Any) -> None:
        args = list(body[0]) if isinstance(body, list | tuple) else None
        messages.append({"task": sender, "args": args, "expires": (headers or {}).get("expires")})

    before_task_publish.connect(_record, weak=False)
    yield messages
    before_task_publish.disconnect(_record)
    # Nobody consumes these here: leave the test broker empty.
    if messages:
        app.control.purge()


@pytest.fixture
def sweep(django_capture_on_commit_callbacks: Any) -> Callable[[], dict[str, int]]:
    """Run the sweeper now (its queueing happens on commit, as in production)."""

    def _sweep() -> dict[str, int]:
        with django_capture_on_commit_callbacks(execute=True):
            return services.deliveries_sweep(now=dt.datetime.now(tz=dt.UTC))

    return _sweep
