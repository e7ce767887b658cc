"""Each screen does its job end to end: what the rep taps is what the server stores."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.accounts.models import User
from apps.insights.models import Insight
from apps.journal.models import (
    ActivityEntry,
    AlcoholEntry,
    EnergyCheckin,
    ExerciseEntry,
    MealEntry,
    SleepEntry,
)
from apps.performance.models import DailyCallStats, Meeting
from apps.privacy.selectors import consented_categories
from tests.pwa.conftest import (
    DEMO_EMAIL,
    DEMO_PASSWORD,
    poll,
    settle,
    sign_in,
    wait_for_empty_outbox,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_morning_prompt_adds_last_night_in_one_more_tap(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    page = new_context().new_page()  # the context's clock reads about 08:00
    sign_in(page, live_server.url)
    page.get_by_role("button", name="Energy 5 of 9").click()
    morning = page.locator("section.morning")
    expect(morning).to_be_visible()
    morning.get_by_text("2", exact=True).click()
    morning.get_by_role("button", name="Save last night").click()
    expect(morning).to_have_count(0)
    wait_for_empty_outbox(page)
    sleep = SleepEntry.objects.get(user=consenting_rep)
    drinks = AlcoholEntry.objects.get(user=consenting_rep)
    energy = EnergyCheckin.objects.get(user=consenting_rep)
    assert sleep.duration_minutes == 8 * 60  # 23:00 to 07:00, the defaults
    assert drinks.standard_drinks == 2
    # Yesterday evening's drinks belong to yesterday; the night to the morning it ends.
    assert drinks.local_date == energy.local_date - dt.timedelta(days=1)
    assert sleep.local_date == energy.local_date


def test_quick_forms_edit_and_delete(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    page = new_context().new_page()
    sign_in(page, live_server.url)
    dialog = page.locator("dialog[open]")

    page.get_by_role("button", name="Meal", exact=True).click()
    dialog.get_by_text("Lunch", exact=True).click()
    dialog.get_by_text("Heavy", exact=True).click()
    dialog.get_by_text("Vegetables", exact=True).click()
    dialog.get_by_role("button", name="Save").click()
    page.get_by_role("button", name="Exercise", exact=True).click()
    dialog.get_by_label("Minutes").fill("45")
    dialog.get_by_text("Hard", exact=True).click()
    dialog.get_by_role("button", name="Save").click()
    page.get_by_role("button", name="Activity", exact=True).click()
    dialog.get_by_label("What did you do").fill("Dinner with friends")
    dialog.get_by_text("Gave energy", exact=True).click()
    dialog.get_by_role("button", name="Save").click()
    page.get_by_role("button", name="Note", exact=True).click()
    dialog.get_by_label("Note").fill("Long drive, tired eyes")
    dialog.get_by_role("button", name="Save").click()
    wait_for_empty_outbox(page)

    meal = MealEntry.objects.get(user=consenting_rep)
    assert (meal.meal_type, meal.heaviness, meal.tags) == ("lunch", "heavy", ["vegetables"])
    exercise = ExerciseEntry.objects.get(user=consenting_rep)
    assert (exercise.duration_minutes, exercise.intensity) == (45, "vigorous")
    activity = ActivityEntry.objects.get(user=consenting_rep)
    assert (activity.what, activity.effect) == ("Dinner with friends", "gave")
    note = EnergyCheckin.objects.get(user=consenting_rep)
    assert (note.level, note.note) == (None, "Long drive, tired eyes")

    # Edit: the same entry (same id) changes; nothing is added.
    page.reload()
    page.locator(".entry-list .entry", has_text="Lunch").click()
    dialog.get_by_text("Light", exact=True).click()
    dialog.get_by_role("button", name="Save").click()
    wait_for_empty_outbox(page)
    assert list(
        MealEntry.objects.filter(user=consenting_rep).values_list("heaviness", flat=True)
    ) == ["light"]
    # Delete.
    page.locator(".entry-list .entry", has_text="Dinner with friends").click()
    dialog.get_by_role("button", name="Delete").click()
    wait_for_empty_outbox(page)
    assert not ActivityEntry.objects.filter(user=consenting_rep).exists()
    expect(page.locator(".entry-list .entry", has_text="Dinner with friends")).to_have_count(0)


def test_work_calls_and_meeting_with_bant(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    page = new_context().new_page()
    sign_in(page, live_server.url)
    page.get_by_role("link", name="Work").click()
    settle(page)
    page.get_by_label("Calls made").fill("40")
    page.get_by_label("Reached a person").fill("12")
    page.get_by_label("Conversations").fill("5")
    page.get_by_label("Talk time (minutes)").fill("75")
    page.get_by_role("button", name="Save calls").click()
    form = page.locator("form.meeting-form")
    for flag in ("Decision-maker present", "Budget", "Need", "Timeline"):
        form.get_by_text(flag, exact=True).click()
    form.get_by_label("Deal value").fill("12500")
    form.get_by_role("button", name="Save meeting").click()
    wait_for_empty_outbox(page)
    expect(page.locator(".entry-list")).to_contain_text("BANT 3/4")

    calls = DailyCallStats.objects.get(user=consenting_rep)
    assert (calls.calls_made, calls.connected, calls.conversations, calls.talk_minutes) == (
        40,
        12,
        5,
        75,
    )
    meeting = Meeting.objects.get(user=consenting_rep)
    assert meeting.status == "held"
    assert (meeting.budget, meeting.authority, meeting.need, meeting.timeline) == (
        True,
        False,
        True,
        True,
    )
    assert meeting.decision_maker_present
    assert (meeting.bant_score, meeting.qualified) == (3, True)
    assert (meeting.deal_value_cents, meeting.currency) == (1_250_000, "EUR")

    # A deal in yen (no minor unit) is stored as yen and shown as yen, not a hundredth of it.
    form = page.locator("form.meeting-form")
    form.get_by_label("Deal value").fill("150000")
    form.get_by_label("Currency").fill("JPY")
    form.get_by_role("button", name="Save meeting").click()
    wait_for_empty_outbox(page)
    yen = Meeting.objects.get(user=consenting_rep, currency="JPY")
    assert yen.deal_value_cents == 150_000
    expect(page.locator(".entry-list")).to_contain_text("¥150,000")

    # Correcting the day's calls updates the same row.
    page.reload()
    settle(page)
    expect(page.get_by_label("Calls made")).to_have_value("40")
    page.get_by_label("Calls made").fill("42")
    page.get_by_role("button", name="Save calls").click()
    wait_for_empty_outbox(page)
    assert list(
        DailyCallStats.objects.filter(user=consenting_rep).values_list("calls_made", flat=True)
    ) == [42]


def test_consent_withdraw_and_give_again(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    page = new_context().new_page()
    sign_in(page, live_server.url)
    page.get_by_role("link", name="Privacy").click()
    switch = page.get_by_role("switch", name="Alcohol")
    expect(switch).to_have_attribute("aria-checked", "true")
    switch.click()
    page.locator("dialog[open]").get_by_role("button", name="Stop storing").click()
    expect(page.get_by_role("switch", name="Alcohol")).to_have_attribute("aria-checked", "false")
    assert "alcohol" not in consented_categories(user=consenting_rep)
    # The Today screen now asks before storing drinks.
    page.get_by_role("link", name="Today").click()
    page.get_by_role("button", name="Drinks", exact=True).click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_contain_text("allow energytrack to store your Alcohol data")
    dialog.get_by_role("button", name="Allow and continue").click()
    expect(dialog.get_by_label("Standard drinks")).to_be_visible()
    assert "alcohol" in consented_categories(user=consenting_rep)


def test_settings_day_boundary_and_language(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    page = new_context().new_page()
    sign_in(page, live_server.url)
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("A new day starts at").select_option("3")
    page.get_by_role("button", name="Save").first.click()
    poll(page, lambda: User.objects.get(pk=consenting_rep.pk).day_boundary_hour == 3, "save")
    page.get_by_label("Show the app in").select_option("nl")
    expect(page.locator("h1")).to_have_text("Instellingen")
    poll(page, lambda: User.objects.get(pk=consenting_rep.pk).locale == "nl", "the language")
    page.reload()
    expect(page.locator("#tabs")).to_contain_text("Vandaag")


def test_insight_feedback(live_server: Any, new_context: Any, demo_rep: User) -> None:
    page = new_context().new_page()
    sign_in(page, live_server.url, DEMO_EMAIL, DEMO_PASSWORD)
    page.get_by_role("link", name="Insights").click()
    card = page.locator("article.insight").first
    card.get_by_text("How sure is this?").click()
    expect(card.locator(".evidence")).to_contain_text("days with")
    card.get_by_role("button", name="Helpful", exact=True).click()
    expect(card.get_by_role("button", name="Helpful", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    wait_for_empty_outbox(page)
    assert Insight.objects.filter(user=demo_rep, feedback="helpful").count() == 1
    # Shown once: new insights are marked read.
    poll(page, lambda: not Insight.objects.filter(user=demo_rep, status="new").exists(), "read")
