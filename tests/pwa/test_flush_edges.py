"""Edges of the outbox found in review: another rep signing in while a flush still runs, a
refusal worded in Dutch in the list of what could not be saved, and a night's length while
its edit waits to sync."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import pytest
from playwright.sync_api import expect

from apps.accounts.models import User
from apps.journal.models import EnergyCheckin, SleepEntry
from apps.performance.models import Meeting
from tests.factories import UserFactory
from tests.pwa import slow_urls
from tests.pwa.conftest import (
    PASSWORD,
    outbox_size,
    poll,
    sign_in,
    wait_for_empty_outbox,
    wait_for_worker,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_flush_under_way_stops_when_another_rep_signs_in(
    live_server: Any, new_context: Any, consenting_rep: User, grant_all: Any, settings: Any
) -> None:
    other = cast(User, UserFactory(email="other@example.com", locale="en"))
    grant_all(other)
    slow_urls.entered.clear()
    slow_urls.release.clear()
    settings.ROOT_URLCONF = "tests.pwa.slow_urls"
    context = new_context(service_workers="block")
    page = context.new_page()
    sign_in(page, live_server.url)
    page.locator("a[data-screen=work]").click()
    page.wait_for_selector(".meeting-form")
    page.wait_for_load_state("networkidle")
    context.set_offline(True)
    page.locator(".meeting-form button[type=submit]").click()
    page.locator("a[data-screen=today]").click()
    page.locator(".energy-level.level-4").click()
    poll(page, lambda: outbox_size(page) == 2, "two items queued")
    context.set_offline(False)
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    poll(page, lambda: slow_urls.entered.is_set(), "the batch in flight")

    # The first rep signs out (accepting that the queued meeting is lost), the second signs
    # in, and only then does the batch's answer come back.
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("#settings-link").click()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_selector("input[name=email]")
    page.locator("input[name=email]").fill("other@example.com")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_selector(".energy-grid")
    slow_urls.release.set()
    page.wait_for_timeout(4000)

    assert not Meeting.objects.filter(user=other).exists(), "a meeting stored in the wrong account"
    assert EnergyCheckin.objects.filter(user=consenting_rep).count() == 1


def test_a_refused_deletion_is_explained_in_dutch(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    context = new_context(locale="nl-NL")
    page = context.new_page()
    sign_in(page, live_server.url)
    wait_for_worker(page)
    page.locator(".energy-level.level-4").click()
    wait_for_empty_outbox(page)
    poll(page, lambda: EnergyCheckin.objects.filter(user=consenting_rep).exists(), "stored")

    context.set_offline(True)
    page.locator(".entry-list .entry").first.click()
    page.locator("dialog[open] .button.danger").click()
    poll(page, lambda: outbox_size(page) == 1, "the deletion queued")
    # Another phone edits the entry after the deletion was made.
    EnergyCheckin.objects.filter(user=consenting_rep).update(
        client_updated_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    )
    context.set_offline(False)

    failed = page.locator(".failed-list")
    expect(failed).to_be_visible(timeout=20000)
    expect(failed).to_contain_text("ander apparaat")
    expect(failed).not_to_contain_text("changed after you deleted")
    assert EnergyCheckin.objects.filter(user=consenting_rep).exists()


def test_an_edited_night_shows_its_new_length_while_it_waits(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    context = new_context()
    page = context.new_page()
    sign_in(page, live_server.url)
    wait_for_worker(page)
    page.locator(".morning-form button[type=submit]").click()  # 23:00 to 07:00
    wait_for_empty_outbox(page)
    poll(page, lambda: SleepEntry.objects.filter(user=consenting_rep).exists(), "stored")
    expect(page.locator(".entry-list").first).to_contain_text("8 h 00 min")

    context.set_offline(True)
    page.locator(".entry-list .entry", has_text="Sleep").click()
    page.locator("dialog[open] input[name=time]").fill("05:00")
    page.locator("dialog[open] button[type=submit]").click()
    poll(page, lambda: outbox_size(page) == 1, "the edit queued")

    expect(page.locator(".entry-list").first).to_contain_text("6 h 00 min")


def test_an_entry_just_sent_stays_listed_when_the_list_comes_from_the_cache(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    """The write goes through, the read after it fails: the service worker answers with the
    list it cached before, which does not hold the entry. It must not vanish from the screen
    (the rep would log it again)."""
    context = new_context()
    page = context.new_page()
    sign_in(page, live_server.url)
    wait_for_worker(page)
    page.reload()
    page.wait_for_selector(".energy-grid")
    page.wait_for_timeout(1500)  # the day view, with no entries yet, is in the worker's cache
    context.route("**/api/v1/journal/days*", lambda route: route.abort())

    page.locator(".energy-level.level-5").click()
    poll(page, lambda: EnergyCheckin.objects.filter(user=consenting_rep).count() == 1, "stored")
    wait_for_empty_outbox(page)

    host = page.locator(".entries-host")
    expect(host).to_contain_text("Energy 5")
    page.wait_for_timeout(1500)
    expect(host).to_contain_text("Energy 5")
    expect(host).not_to_contain_text("Waiting to sync")


def test_a_read_that_never_answers_falls_back_to_the_cached_list(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    """A connection that takes the request and never answers: after the worker's limit the
    cached list is shown (with what was sent since), and later saves still show up."""
    context = new_context()
    page = context.new_page()
    sign_in(page, live_server.url)
    wait_for_worker(page)
    page.get_by_role("button", name="Energy 4 of 9").click()
    wait_for_empty_outbox(page)
    page.wait_for_timeout(1000)
    hung: list[Any] = []
    context.route("**/api/v1/journal/days*", lambda route: hung.append(route))  # never answered

    page.get_by_role("button", name="Energy 5 of 9").click()
    poll(page, lambda: EnergyCheckin.objects.filter(user=consenting_rep).count() == 2, "stored")
    page.get_by_role("button", name="Energy 7 of 9").click()
    poll(page, lambda: EnergyCheckin.objects.filter(user=consenting_rep).count() == 3, "stored")

    host = page.locator(".entries-host")
    expect(host).to_contain_text("Energy 7", timeout=25000)
    expect(host).to_contain_text("Energy 5")
    expect(host).to_contain_text("Energy 4")
    assert hung, "the reads were not held"
