"""Logging, reloading, and logging offline: the outbox keeps entries and sends each once."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
from playwright.sync_api import Route, expect

from apps.accounts.models import User
from apps.journal.models import DeletedEntry, EnergyCheckin
from tests.pwa.conftest import (
    outbox_size,
    poll,
    sign_in,
    wait_for_empty_outbox,
    wait_for_worker,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_energy_checkin_survives_a_reload(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    page = new_context().new_page()
    sign_in(page, live_server.url)
    page.get_by_role("button", name="Energy 7 of 9").click()
    expect(page.locator(".confirmation")).to_contain_text("Energy 7 saved")
    wait_for_empty_outbox(page)
    page.reload()
    entry = page.locator(".entry-list .entry", has_text="Energy 7")
    expect(entry).to_have_count(1)
    expect(entry).not_to_contain_text("Waiting to sync")
    stored = list(EnergyCheckin.objects.filter(user=consenting_rep).values_list("level", flat=True))
    assert stored == [7]


def test_offline_entries_survive_closing_and_are_sent_once(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    context = new_context()
    sent: Counter[str] = Counter()

    def count_batch(route: Route) -> None:
        # Counted for the page and the service worker alike: every item id the server gets.
        for item in (route.request.post_data_json or {})["items"]:
            sent[item["id"]] += 1
        route.continue_()

    context.route("**/api/v1/journal/batch", count_batch)
    page = context.new_page()
    sign_in(page, live_server.url)
    wait_for_worker(page)

    context.set_offline(True)
    for level in (3, 5, 8):
        page.get_by_role("button", name=f"Energy {level} of 9").click()
        expect(page.locator(".confirmation")).to_contain_text(f"Energy {level} saved")
    expect(page.locator("#status")).to_contain_text("3 waiting to sync")
    expect(page.locator(".entry-list .badge-pending")).to_have_count(3)
    assert outbox_size(page) == 3
    page.close()

    # Reopened while still offline: the shell comes from the service worker, the entries
    # from IndexedDB; nothing has reached the server.
    page = context.new_page()
    page.goto(f"{live_server.url}/app/")
    expect(page.locator("h1")).to_contain_text("Today")
    expect(page.locator("#status")).to_contain_text("Offline")
    expect(page.locator("#status")).to_contain_text("3 waiting to sync")
    assert EnergyCheckin.objects.filter(user=consenting_rep).count() == 0

    context.set_offline(False)
    # Polled through Playwright, so the route handler above keeps being served meanwhile.
    poll(
        page,
        lambda: EnergyCheckin.objects.filter(user=consenting_rep).count() == 3,
        "three entries on the server",
    )
    wait_for_empty_outbox(page)
    expect(page.locator("#status")).not_to_contain_text("waiting")
    page.wait_for_timeout(1500)  # room for a late duplicate, which must not come

    levels = sorted(
        EnergyCheckin.objects.filter(user=consenting_rep).values_list("level", flat=True)
    )
    assert levels == [3, 5, 8]
    assert len(sent) == 3
    assert set(sent.values()) == {1}, f"an entry was sent more than once: {sent}"


def test_a_phone_clock_two_hours_behind_keeps_entries_queued_and_says_so(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    context = new_context()

    def phone_two_hours_behind(route: Route) -> None:
        # What a phone with a wrong clock sends: its own time in X-Client-Time.
        skewed = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).isoformat()
        route.continue_(headers={**route.request.headers, "x-client-time": skewed})

    context.route("**/api/v1/journal/batch", phone_two_hours_behind)
    page = context.new_page()
    sign_in(page, live_server.url)
    page.get_by_role("button", name="Energy 6 of 9").click()
    expect(page.locator(".confirmation")).to_contain_text("Energy 6 saved")

    expect(page.locator("#status")).to_contain_text("clock is wrong", timeout=15_000)
    expect(page.locator("#status")).to_contain_text("1 waiting to sync")
    assert outbox_size(page) == 1
    assert EnergyCheckin.objects.filter(user=consenting_rep).count() == 0

    # Clock set right: the queued entry goes through and the warning goes away.
    context.unroute("**/api/v1/journal/batch")
    page.reload()
    poll(
        page,
        lambda: EnergyCheckin.objects.filter(user=consenting_rep).count() == 1,
        "the entry on the server",
    )
    wait_for_empty_outbox(page)
    expect(page.locator("#status")).not_to_contain_text("clock")


def test_a_deletion_made_offline_is_timed_when_the_rep_made_it(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    context = new_context()
    page = context.new_page()
    sign_in(page, live_server.url)
    wait_for_worker(page)
    page.get_by_role("button", name="Energy 4 of 9").click()
    wait_for_empty_outbox(page)

    context.set_offline(True)
    page.locator(".entry-list .entry", has_text="Energy 4").click()
    page.locator("dialog[open]").get_by_role("button", name="Delete").click()
    poll(page, lambda: outbox_size(page) == 1, "the deletion queued")
    queued_by = dt.datetime.now(dt.UTC)
    page.wait_for_timeout(2000)  # the deletion waits offline; its time must not move
    sent_after = dt.datetime.now(dt.UTC)
    context.set_offline(False)
    poll(
        page,
        lambda: not EnergyCheckin.objects.filter(user=consenting_rep).exists(),
        "the entry deleted on the server",
    )

    # Recorded with the phone's time of the deletion, not the server's time of receipt: an
    # edit made on another phone in between is newer and would have kept the entry.
    deleted_at = DeletedEntry.objects.get(user=consenting_rep).deleted_at
    assert deleted_at <= queued_by < sent_after
