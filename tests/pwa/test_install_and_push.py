"""Installable as an app, opens offline after the first visit, and push shows neutral text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Playwright, expect

from apps.accounts.models import User
from tests.pwa.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE, poll, sign_in, wait_for_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREEN_HEADINGS = {
    "": "Today",
    "work": "Work",
    "trends": "Trends",
    "insights": "Insights",
    "privacy": "Sharing & privacy",
    "settings": "Settings",
}


@pytest.fixture
def persistent_context(playwright_instance: Playwright, tmp_path: Path) -> Any:
    # Installability is only judged outside incognito, i.e. with a real profile directory.
    context = playwright_instance.chromium.launch_persistent_context(
        str(tmp_path / "profile"),
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        locale="en-US",
        **PHONE,
    )
    context.set_default_timeout(15_000)
    yield context
    context.close()


def test_installable_and_opens_offline(
    live_server: Any, persistent_context: BrowserContext, consenting_rep: User
) -> None:
    page = (
        persistent_context.pages[0] if persistent_context.pages else persistent_context.new_page()
    )
    sign_in(page, live_server.url)
    wait_for_worker(page)
    cdp = persistent_context.new_cdp_session(page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["errors"] == []
    assert manifest["url"].endswith("/manifest.webmanifest")
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert errors == []
    # Viewed once under the service worker: that answer is what offline shows.
    page.reload()
    expect(page.locator(".entries-host")).to_contain_text("Nothing logged yet")

    persistent_context.set_offline(True)
    page.reload()
    expect(page.locator("h1")).to_contain_text("Today")
    expect(page.locator("#status")).to_contain_text("Offline")
    # Every screen's code is in the service worker's cache, not just the first one.
    for path, heading in SCREEN_HEADINGS.items():
        page.goto(f"{live_server.url}/app/{path}")
        expect(page.locator("h1")).to_contain_text(heading)
    # Today's data, viewed online before, is still there offline.
    page.goto(f"{live_server.url}/app/")
    expect(page.locator(".entries-host")).to_contain_text("Nothing logged yet")


def _registration_id(context: BrowserContext, page: Any) -> str:
    cdp = context.new_cdp_session(page)
    registrations: list[dict[str, Any]] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(event["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    poll(page, lambda: any(not r["isDeleted"] for r in registrations), "the registration")
    page.wait_for_timeout(100)
    cdp.registration_id = next(r["registrationId"] for r in registrations if not r["isDeleted"])  # type: ignore[attr-defined]
    return cdp  # type: ignore[return-value]


def _push_and_read(context: BrowserContext, page: Any, origin: str, payload: Any) -> list[Any]:
    # The app hands the worker its texts in the rep's language shortly after start (idle time);
    # a push in the first second would fall back to English.
    poll(
        page,
        lambda: page.evaluate(
            "async () => { await import('/static/js/outbox.js');"
            " return Boolean(await globalThis.ETOutbox.getMeta('pushText')); }"
        ),
        "the push texts",
    )
    cdp: Any = _registration_id(context, page)
    script = (
        "() => self.registration.getNotifications().then((list) => list.map((n) =>"
        " ({title: n.title, body: n.body, tag: n.tag, url: n.data && n.data.url})))"
    )
    notes: list[Any] = []

    def shown() -> bool:
        # The newest worker: an older one may still be listed while it is being replaced.
        notes[:] = context.service_workers[-1].evaluate(script)
        return bool(notes)

    # A push delivered while the worker is still starting can be dropped by the browser (seen
    # on a loaded CI machine): send it again. Notifications share a tag, so a second delivery
    # replaces the first instead of adding one.
    for attempt in range(3):
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {
                "origin": origin,
                "registrationId": cdp.registration_id,
                "data": payload if isinstance(payload, str) else json.dumps(payload),
            },
        )
        try:
            poll(page, shown, "a notification", timeout_s=8.0)
        except AssertionError:
            if attempt == 2:
                raise
        else:
            return notes
    return notes


# What the notifications app sends (apps/notifications/services.py _push_payload), with words
# that must never reach a lock screen unless the rep opted in to detailed notifications.
SENSITIVE = {
    "kind": "insight",
    "title": "After 3 or more drinks you held fewer qualified meetings",
    "body": "On days after 3 or more drinks the evening before, your qualified meetings ...",
    "detailed": False,
    "url": "https://attacker.example/phish",
    "tag": "insight",
    "notification_id": "5f0c2b8e-8d4e-4a8e-9d0c-5b7ab7a0c001",
}


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("en-US", "A new insight is ready."), ("nl-NL", "Er staat een nieuw inzicht voor je klaar.")],
)
def test_push_message_shows_neutral_text(
    live_server: Any, new_context: Any, consenting_rep: User, locale: str, expected: str
) -> None:
    context = new_context(locale=locale)
    context.grant_permissions(["notifications"], origin=live_server.url)
    page = context.new_page()
    sign_in(page, live_server.url)
    wait_for_worker(page)
    notes = _push_and_read(context, page, live_server.url, SENSITIVE)
    assert notes == [
        {"title": "energytrack", "body": expected, "tag": "et-insight", "url": "/app/insights"}
    ]
    assert "drinks" not in json.dumps(notes)


def test_push_detail_only_when_opted_in_and_never_a_foreign_link(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    context = new_context()
    context.grant_permissions(["notifications"], origin=live_server.url)
    page = context.new_page()
    sign_in(page, live_server.url)
    wait_for_worker(page)
    notes = _push_and_read(context, page, live_server.url, {**SENSITIVE, "detailed": True})
    assert notes[0]["title"] == SENSITIVE["title"]
    assert notes[0]["url"] == "/app/insights"


def test_push_without_json_payload_is_neutral(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    context = new_context()
    context.grant_permissions(["notifications"], origin=live_server.url)
    page = context.new_page()
    sign_in(page, live_server.url)
    wait_for_worker(page)
    notes = _push_and_read(context, page, live_server.url, "your sleep was 4 h")
    assert notes == [
        {
            "title": "energytrack",
            "body": "There is something new for you in energytrack.",
            "tag": "et-default",
            "url": "/app/",
        }
    ]
