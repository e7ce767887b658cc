"""Shared fixtures. Real PostgreSQL and Redis when reachable; tests that need a service are
marked and skip loudly without it, or fail under REQUIRE_SERVICES=1 (CI)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.core.throttles import WriteThrottle
from apps.privacy.models import Category
from apps.privacy.services import consent_grant
from tests.factories import UserFactory
from tests.reliability.services import PrivateRedis

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
_SKIPPED_FOR_SERVICES: list[str] = []


def pytest_runtest_setup(item: pytest.Item) -> None:
    for service in ("postgres", "redis"):
        if item.get_closest_marker(service) and not settings.SERVICES.get(service):
            message = f"{service} is not reachable"
            if REQUIRE_SERVICES:
                pytest.fail(f"{message} and REQUIRE_SERVICES=1")
            _SKIPPED_FOR_SERVICES.append(f"{item.nodeid} ({service})")
            pytest.skip(message)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    services = ", ".join(f"{k}={'real' if v else 'MISSING'}" for k, v in settings.SERVICES.items())
    terminalreporter.write_line(
        f"services: {services}; database: {settings.DATABASES['default']['ENGINE']}"
    )
    if _SKIPPED_FOR_SERVICES:
        terminalreporter.write_line(
            f"SKIPPED for missing services ({len(_SKIPPED_FOR_SERVICES)}):", yellow=True
        )
        for nodeid in _SKIPPED_FOR_SERVICES:
            terminalreporter.write_line(f"  {nodeid}")


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def user(db: None) -> User:
    return UserFactory()


@pytest.fixture
def other_user(db: None) -> User:
    return UserFactory()


@pytest.fixture
def make_client() -> Callable[[User | None], APIClient]:
    def _make(as_user: User | None = None) -> APIClient:
        client = APIClient()
        if as_user is not None:
            client.force_login(as_user)
        return client

    return _make


@pytest.fixture
def api(user: User, make_client: Callable[[User | None], APIClient]) -> APIClient:
    return make_client(user)


@pytest.fixture
def grant_all() -> Callable[[User], None]:
    def _grant(for_user: User) -> None:
        for category in Category.values:
            consent_grant(user=for_user, category=category)

    return _grant


@pytest.fixture
def consenting_user(user: User, grant_all: Callable[[User], None]) -> User:
    grant_all(user)
    return user


@pytest.fixture
def tasks_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The broker replaced by running each task as it is sent, in this process: the broker is
    the outside world, the task code is the real one."""
    from energytrack.celery import app

    app.loader.import_default_modules()  # every app's tasks module, as a worker has them

    def run_now(name: str, args: Any = (), kwargs: Any = None, **options: Any) -> None:
        app.tasks[name].apply(args=args, kwargs=kwargs or {})

    monkeypatch.setattr(app, "send_task", run_now)


@pytest.fixture
def three_writes_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-rep write limit at 3 a minute (Redis-counted writes and the journal's own)."""
    # DRF copies DEFAULT_THROTTLE_RATES onto the class at import, so patch the class.
    monkeypatch.setattr(
        WriteThrottle, "THROTTLE_RATES", {**WriteThrottle.THROTTLE_RATES, "writes": "3/min"}
    )


@pytest.fixture
def fresh_throttle_window() -> Iterator[Any]:
    """The clock moved on to the start of the next minute, and left ticking, for tests that
    count requests against a limit. The throttles count in fixed windows of a minute or an hour
    (apps/core/throttles.py): a test that ran across a window edge saw its count start again
    halfway, and the request it expected to be refused went through. From here the test has a
    whole minute before the next edge. Forward, so that what was made before stays past."""
    start = timezone.now().replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    with time_machine.travel(start, tick=True) as traveller:
        yield traveller


def service_missing(what: str) -> None:
    """A program a test needs is not installed: skip loudly, or fail under REQUIRE_SERVICES=1."""
    message = f"{what} is not installed"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} and REQUIRE_SERVICES=1")
    pytest.skip(message)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A Redis server of the test's own (the fault tests, sessions): killed, or paused with
    CLIENT PAUSE, without touching the Redis the rest of the suite shares."""
    if shutil.which("redis-server") is None:
        service_missing("redis-server")
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.kill()
