"""A deploy while the app is open: the page moves to the new version, never under the rep's
fingers, and nothing typed or queued is lost."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from apps.accounts.models import User
from apps.journal.models import ActivityEntry
from apps.pwa.views import _service_worker_cached
from tests.pwa.conftest import poll, sign_in, wait_for_empty_outbox, wait_for_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def deploy(settings: Any, tmp_path: Path) -> Iterator[Callable[[], None]]:
    """Ships the next version: one more file under static/js, so the worker gets a new version
    hash and precache list, the browser installs it, and it takes over and deletes the old
    cache. A deploy starts new server processes, so the worker built by this one is dropped."""

    def ship() -> None:
        extra = tmp_path / "next-release"
        (extra / "js").mkdir(parents=True)
        (extra / "js" / "release-note.js").write_text("// shipped with the next deploy\n")
        settings.STATICFILES_DIRS = [*settings.STATICFILES_DIRS, extra]
        _service_worker_cached.cache_clear()

    yield ship
    _service_worker_cached.cache_clear()  # later tests get this release's worker again


def mark_page(page: Page) -> None:
    # A flag only this page instance has: gone after a reload.
    page.evaluate("() => { window.etTestMark = true; }")


def reloaded(page: Page) -> bool:
    return bool(page.evaluate("() => window.etTestMark !== true"))


def check_for_update(page: Page) -> None:
    # What the browser does by itself on a later navigation; not awaited, since the page may
    # reload before it would answer.
    page.evaluate("() => { navigator.serviceWorker.getRegistration().then((r) => r.update()); }")


def shell_caches(page: Page) -> list[str]:
    return list(
        page.evaluate(
            "async () => (await caches.keys()).filter((name) => name.startsWith('et-shell-'))"
        )
    )


def wait_for_new_version(page: Page, old: list[str]) -> None:
    poll(
        page,
        lambda: len(now := shell_caches(page)) == 1 and now != old,
        "the new version to take over",
    )


def test_an_update_reloads_an_idle_page_once(
    live_server: Any, new_context: Any, consenting_rep: User, deploy: Callable[[], None]
) -> None:
    context = new_context()
    page = context.new_page()
    sign_in(page, live_server.url)
    wait_for_worker(page)
    page.wait_for_timeout(1000)  # the first install's controllerchange must not reload
    mark_page(page)
    page.wait_for_timeout(500)
    assert not reloaded(page)

    old = shell_caches(page)
    deploy()
    with page.expect_event("load"):
        check_for_update(page)
    assert reloaded(page)
    wait_for_new_version(page, old)
    expect(page.locator(".energy-grid")).to_be_visible()
    mark_page(page)
    page.wait_for_timeout(1500)
    assert not reloaded(page), "reloaded again"


def test_an_update_waits_for_the_open_form_and_keeps_its_entry(
    live_server: Any, new_context: Any, consenting_rep: User, deploy: Callable[[], None]
) -> None:
    context = new_context()
    page = context.new_page()
    sign_in(page, live_server.url)
    wait_for_worker(page)
    mark_page(page)

    page.get_by_role("button", name="Activity", exact=True).click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("What did you do").fill("Trade fair")
    old = shell_caches(page)
    deploy()
    check_for_update(page)
    wait_for_new_version(page, old)
    page.wait_for_timeout(1000)
    # Still the same page, still the rep's words.
    assert not reloaded(page)
    expect(dialog.get_by_label("What did you do")).to_have_value("Trade fair")

    with page.expect_event("load"):
        dialog.get_by_role("button", name="Save").click()
    assert reloaded(page)
    expect(page.locator(".energy-grid")).to_be_visible()
    poll(
        page,
        lambda: ActivityEntry.objects.filter(user=consenting_rep, what="Trade fair").exists(),
        "the entry on the server",
    )
    wait_for_empty_outbox(page)
    assert ActivityEntry.objects.filter(user=consenting_rep).count() == 1
