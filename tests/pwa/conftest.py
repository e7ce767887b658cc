"""Browser fixtures: Playwright for Python driving Debian's Chromium against ``live_server``.

Never ``playwright install``: the browser is /usr/bin/chromium (``apt-get install chromium``).
Without Playwright or Chromium the browser tests skip loudly, or fail under REQUIRE_SERVICES=1
(CI), like the PostgreSQL and Redis tests.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from apps.accounts.models import User
from apps.core.management.commands.seed_demo import DEMO_EMAIL, DEMO_PASSWORD
from tests.factories import UserFactory

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# A mid-size phone (Pixel 7 / iPhone 14 width), inside the 360-430 px range the app targets.
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
PASSWORD = "correct horse battery"
AXE_SOURCE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
__all__ = ["DEMO_EMAIL", "DEMO_PASSWORD"]

try:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
except ImportError:  # pragma: no cover - reported by the skip below
    sync_playwright = None  # type: ignore[assignment]


def _browser_missing() -> str | None:
    if sync_playwright is None:
        return "playwright is not installed (pip install playwright)"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _browser_missing()
    if reason is None or os.environ.get("REQUIRE_SERVICES") == "1":
        return  # under REQUIRE_SERVICES=1 the browser fixture fails instead
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.skip(reason=f"browser: {reason}"))


@pytest.fixture(scope="module")
def playwright_instance() -> Iterator[Playwright]:
    """Playwright for one test module. Its sync API keeps an asyncio loop running in this
    thread while it is started, which trips Django's async-safety guard on the tests' own
    (synchronous) ORM calls and on the database fixtures. So the guard is off exactly while
    Playwright runs, and Playwright stops at the end of each module: tests in other modules
    run with the guard on, as always."""
    reason = _browser_missing()
    if reason is not None:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            yield playwright
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def morning_zone() -> str:
    """An IANA zone where it is morning now (as near 08:00 as possible), so the morning prompt
    shows whatever the time the tests run, and where it is the same date as in Amsterdam, the
    zone of the seeded reps, so "today" and "yesterday" in the browser are the days the seed
    filled. (Picking only the nearest 08:00 put the browser a day ahead between 18:00 and 23:00
    UTC, and the Today screen showed no entries.) Etc/GMT-N is N hours ahead of UTC (the sign is
    inverted in IANA); offsets run from -12 to +14."""
    now = dt.datetime.now(dt.UTC)
    seeded_day = now.astimezone(ZoneInfo("Europe/Amsterdam")).date()
    offset = min(
        (o for o in range(-12, 15) if (now + dt.timedelta(hours=o)).date() == seeded_day),
        key=lambda o: abs((now + dt.timedelta(hours=o)).hour - 8),
    )
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"


@pytest.fixture
def new_context(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        settings: dict[str, Any] = {**PHONE, "locale": "en-US", "timezone_id": morning_zone()}
        settings.update(options)
        context = browser.new_context(**settings)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def rep(transactional_db: None) -> User:
    user = cast(User, UserFactory(email="rep@example.com", locale="en"))
    return user


@pytest.fixture
def consenting_rep(rep: User, grant_all: Callable[[User], None]) -> User:
    grant_all(rep)
    return rep


@pytest.fixture
def demo_rep(transactional_db: None) -> User:
    """The demo rep with 60 days of journal and sales data, day features and insights, made by
    the same commands `make run` uses."""
    call_command("seed_demo", days=60, stdout=io.StringIO())
    call_command("compute_insights", email=DEMO_EMAIL, stdout=io.StringIO())
    return User.objects.get(email=DEMO_EMAIL)


def sign_in(
    page: Page, base_url: str, email: str = "rep@example.com", password: str = PASSWORD
) -> None:
    page.goto(f"{base_url}/app/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.locator("form button[type=submit]").click()
    page.wait_for_selector(".energy-grid")


def poll(page: Page, check: Callable[[], object], what: str, timeout_s: float = 15.0) -> None:
    """Wait until ``check()`` is truthy. (page.wait_for_function evaluates a string, which the
    app's CSP rightly forbids, so tests poll with page.evaluate instead.)"""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        page.wait_for_timeout(100)


def settle(page: Page) -> None:
    """Wait until the screen has loaded: network quiet, no busy main, a moment for redraws."""
    page.wait_for_load_state("networkidle")
    poll(page, lambda: page.locator("main[aria-busy]").count() == 0, "the screen")
    page.wait_for_timeout(300)


def wait_for_worker(page: Page) -> None:
    """Until the service worker controls the page (installed, activated and claimed)."""
    poll(
        page,
        lambda: page.evaluate("() => Boolean(navigator.serviceWorker.controller)"),
        "the service worker to control the page",
    )


def wait_for_empty_outbox(page: Page) -> None:
    poll(page, lambda: outbox_size(page) == 0, "the outbox to empty")


def outbox_size(page: Page) -> int:
    return int(
        page.evaluate(
            "async () => { await import('/static/js/outbox.js');"
            " return (await globalThis.ETOutbox.pending()).length; }"
        )
    )
