"""When sending goes wrong, the app recovers by itself: a busy server, a stalled answer, an
expired session, a wrong clock. Entries stay on the phone meanwhile and reach the server once.

These run with the service worker blocked: the page alone must recover, as it has to on
browsers without Background Sync (and a worker's flush would race the page's retry here)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Route, expect

from apps.accounts.models import User
from apps.journal.models import EnergyCheckin, MealEntry
from tests.pwa import stalling_urls
from tests.pwa.conftest import PASSWORD, outbox_size, poll, sign_in, wait_for_empty_outbox
from tests.pwa.test_i18n import load

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
BATCH = "**/api/v1/journal/batch"
PROBLEM = '{"type": "about:blank", "title": "Unavailable", "status": 503, "errors": {}}'


def energy_rows(user: User) -> int:
    return EnergyCheckin.objects.filter(user=user).count()


def failing_then_passing(
    attempts: list[float], failures: list[Callable[[Route], None]]
) -> Callable[[Route], None]:
    """A route handler that answers the first requests with `failures`, in order, and lets
    the rest through to the server; it notes when each request came."""

    def handle(route: Route) -> None:
        attempts.append(time.monotonic())
        if len(attempts) <= len(failures):
            failures[len(attempts) - 1](route)
        else:
            route.continue_()

    return handle


def test_a_503_with_retry_after_is_sent_again_by_itself_when_the_server_says(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    context = new_context(service_workers="block")
    attempts: list[float] = []

    def busy(route: Route) -> None:
        route.fulfill(
            status=503,
            headers={"Retry-After": "3", "Content-Type": "application/problem+json"},
            body=PROBLEM,
        )

    context.route(BATCH, failing_then_passing(attempts, [busy]))
    page = context.new_page()
    sign_in(page, live_server.url)
    page.get_by_role("button", name="Energy 7 of 9").click()
    expect(page.locator(".confirmation")).to_contain_text("Energy 7 saved")

    # No tap, no reconnect, no reload: the page tries again on its own.
    poll(page, lambda: energy_rows(consenting_rep) == 1, "the entry on the server")
    wait_for_empty_outbox(page)
    assert len(attempts) == 2
    # Not before the server said it would be ready (the backoff alone would be under 2 s).
    assert attempts[1] - attempts[0] >= 3.0


def test_failures_without_retry_after_are_retried_with_backoff(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    context = new_context(service_workers="block")
    attempts: list[float] = []

    def server_error(route: Route) -> None:
        route.fulfill(status=500, headers={"Content-Type": "application/json"}, body="{}")

    def connection_lost(route: Route) -> None:
        route.abort("connectionreset")

    context.route(BATCH, failing_then_passing(attempts, [connection_lost, server_error]))
    page = context.new_page()
    sign_in(page, live_server.url)
    page.get_by_role("button", name="Energy 4 of 9").click()

    poll(page, lambda: energy_rows(consenting_rep) == 1, "the entry on the server", 20)
    wait_for_empty_outbox(page)
    assert len(attempts) == 3
    first_wait, second_wait = attempts[1] - attempts[0], attempts[2] - attempts[1]
    assert 0.9 <= first_wait < 3.5, first_wait  # 2 s base, jittered between 1 and 2 s
    assert 1.9 <= second_wait < 5.5, second_wait  # doubled: between 2 and 4 s
    page.wait_for_timeout(1500)  # no stray retry after the success
    assert len(attempts) == 3


def test_an_item_that_changed_while_it_was_saved_is_sent_again_not_filed_as_failed(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    """A batch item answered 409 ("send it again": its row vanished mid-save) is a race, not
    the rep's to fix: it stays queued and the retry stores it; nothing shows as not saved."""
    context = new_context(service_workers="block")
    attempts: list[float] = []

    def conflict(route: Route) -> None:
        item = route.request.post_data_json["items"][0]
        answer = {
            "results": [
                {
                    "index": 0,
                    "id": item["id"],
                    "kind": item["kind"],
                    "result": "rejected",
                    "status": 409,
                    "code": "conflict",
                    "detail": "This entry changed while it was being saved; send it again.",
                    "errors": {},
                }
            ],
            "counts": {"rejected": 1},
        }
        route.fulfill(status=200, headers={"Content-Type": "application/json"}, json=answer)

    context.route(BATCH, failing_then_passing(attempts, [conflict]))
    page = context.new_page()
    sign_in(page, live_server.url)
    page.get_by_role("button", name="Energy 6 of 9").click()

    poll(page, lambda: energy_rows(consenting_rep) == 1, "the entry on the server", 20)
    wait_for_empty_outbox(page)
    assert len(attempts) == 2
    expect(page.locator(".failed-list")).to_have_count(0)


@pytest.fixture
def stalling_server(settings: Any) -> Iterator[None]:
    stalling_urls.stalled.clear()
    stalling_urls.released.clear()
    settings.ROOT_URLCONF = "tests.pwa.stalling_urls"
    yield
    stalling_urls.released.set()  # lets the stalled server thread finish


def test_an_answer_that_stalls_after_its_headers_times_out_and_is_sent_again(
    live_server: Any, new_context: Any, consenting_rep: User, stalling_server: None
) -> None:
    page = new_context(service_workers="block").new_page()
    sign_in(page, live_server.url)
    page.get_by_role("button", name="Energy 6 of 9").click()
    poll(page, lambda: bool(stalling_urls.stalled), "the stalled answer")
    assert energy_rows(consenting_rep) == 0

    # The 20 s timeout covers the body: the flush gives up, frees the lock, and the retry
    # goes through (the server holds the stalled answer for 60 s).
    poll(page, lambda: energy_rows(consenting_rep) == 1, "the entry on the server", 35)
    wait_for_empty_outbox(page)


def test_an_expired_session_asks_to_sign_in_and_loses_nothing(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    context = new_context(service_workers="block")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, live_server.url)

    context.set_offline(True)
    page.get_by_role("button", name="Energy 4 of 9").click()
    page.get_by_role("button", name="Meal", exact=True).click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_text("Lunch", exact=True).click()

    # Meanwhile the session ran out; back online, the queued check-in is refused (401).
    context.clear_cookies()
    context.set_offline(False)
    expect(page.locator("main h1")).to_have_text("Sign in")
    expect(page.locator("input[name=email]")).to_be_visible()

    # The form that was open still saves, on the phone.
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_have_count(0)
    assert outbox_size(page) == 2

    page.locator("input[name=email]").fill("rep@example.com")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    expect(page.locator(".energy-grid")).to_be_visible()
    # Signing in sends what waited, without any other nudge.
    poll(page, lambda: MealEntry.objects.filter(user=consenting_rep).count() == 1, "the meal")
    poll(page, lambda: energy_rows(consenting_rep) == 1, "the check-in")
    wait_for_empty_outbox(page)
    assert MealEntry.objects.get(user=consenting_rep).meal_type == "lunch"
    assert errors == []


def phone_clock_two_hours_behind(route: Route) -> None:
    skewed = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).isoformat()
    route.continue_(headers={**route.request.headers, "x-client-time": skewed})


def test_sync_now_with_a_wrong_clock_says_so_in_dutch(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    consenting_rep.locale = "nl"
    consenting_rep.save(update_fields=["locale"])
    context = new_context(locale="nl-NL", service_workers="block")
    context.route(BATCH, phone_clock_two_hours_behind)
    page = context.new_page()
    sign_in(page, live_server.url)
    page.get_by_role("button", name="Energie 6 van 9").click()
    expect(page.locator("#status")).to_contain_text("klok", timeout=15_000)

    page.locator("#settings-link").click()
    page.get_by_role("button", name="Nu synchroniseren").click()
    toast = page.locator("#toasts .toast").last
    expect(toast).to_have_text(load("nl")["sync.state.clock"].strip('"'))
    expect(page.locator("#toasts")).not_to_contain_text("sync.state")
    assert energy_rows(consenting_rep) == 0
