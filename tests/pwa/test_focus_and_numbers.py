"""Keyboard focus survives the redraws that follow a save, numbers are read and shown in the
rep's language, and the words the server sends in English reach a Dutch rep in Dutch."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from apps.accounts.models import User
from apps.journal.models import AlcoholEntry, EnergyCheckin
from apps.performance.models import Meeting
from tests.pwa.conftest import (
    DEMO_EMAIL,
    DEMO_PASSWORD,
    poll,
    settle,
    sign_in,
    wait_for_empty_outbox,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def focused(page: Page) -> str:
    """What has focus: its data-focus key, else its id, else its tag (BODY when it was lost)."""
    return str(
        page.evaluate(
            "() => { const el = document.activeElement;"
            " return el.dataset.focus || el.id || el.tagName; }"
        )
    )


def focus_stays(page: Page, expected: str, what: str) -> None:
    """Focus is on ``expected`` and is still there after the redraws a save sets off."""
    poll(page, lambda: focused(page) == expected, f"focus on {expected} after {what}")
    page.wait_for_timeout(1500)  # the outbox flush and the screen's refresh
    assert focused(page) == expected, f"after {what}"


def test_focus_is_not_lost_after_a_save(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    page = new_context().new_page()  # about 08:00: the morning card shows
    sign_in(page, live_server.url)
    settle(page)

    # The morning card goes away once saved: focus moves on to the entries, not to <body>.
    page.locator("section.morning").get_by_role("button", name="Save last night").focus()
    page.keyboard.press("Enter")
    focus_stays(page, "entries-title", "saving last night")

    page.get_by_role("button", name="Energy 6 of 9").click()
    poll(page, lambda: EnergyCheckin.objects.filter(user=consenting_rep).count() == 1, "save")
    checkin = EnergyCheckin.objects.get(user=consenting_rep)
    # Editing an entry: the list is redrawn after the save; the entry's button keeps focus.
    entry = page.locator(".entry-list .entry", has_text="Energy 6")
    entry.focus()
    page.keyboard.press("Enter")
    expect(page.locator("dialog[open]")).to_be_visible()
    page.locator("dialog[open]").get_by_role("button", name="Save").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    focus_stays(page, f"entry-{checkin.id}", "editing an entry")
    # Deleting it: the entry is gone, so the list's heading gets focus.
    page.keyboard.press("Enter")
    page.locator("dialog[open]").get_by_role("button", name="Delete").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    focus_stays(page, "entries-title", "deleting an entry")
    wait_for_empty_outbox(page)

    # Work: saving the calls redraws their form; editing a meeting and cancelling goes back
    # to that meeting.
    page.get_by_role("link", name="Work").click()
    settle(page)
    page.get_by_label("Calls made").fill("3")
    page.get_by_role("button", name="Save calls").focus()
    page.keyboard.press("Enter")
    focus_stays(page, "calls-save", "saving the calls")
    page.get_by_role("button", name="Save meeting").click()
    poll(page, lambda: Meeting.objects.filter(user=consenting_rep).count() == 1, "the meeting")
    meeting = Meeting.objects.get(user=consenting_rep)
    page.locator("#main .entry-list .entry", has_text="Meeting").click()
    page.locator("form.meeting-form").get_by_role("button", name="Cancel").focus()
    page.keyboard.press("Enter")
    focus_stays(page, f"meeting-{meeting.id}", "cancelling a meeting's edit")

    # Settings: Sync now redraws its section.
    page.goto(f"{live_server.url}/app/settings")
    settle(page)
    page.get_by_role("button", name="Sync now").focus()
    page.keyboard.press("Enter")
    focus_stays(page, "sync-now", "Sync now")


def test_focus_is_not_lost_after_insight_feedback(
    live_server: Any, new_context: Any, demo_rep: User
) -> None:
    page = new_context().new_page()
    sign_in(page, live_server.url, DEMO_EMAIL, DEMO_PASSWORD)
    page.goto(f"{live_server.url}/app/insights")
    settle(page)
    insight_id = page.locator("article.insight h2").first.get_attribute("id")
    assert insight_id
    page.get_by_role("button", name="Helpful", exact=True).first.focus()
    page.keyboard.press("Enter")
    key = f"feedback-{insight_id.removeprefix('insight-')}-helpful"
    focus_stays(page, key, "giving feedback")
    expect(page.locator(f'[data-focus="{key}"]')).to_have_attribute("aria-pressed", "true")
    # Hiding an insight removes it: the screen's heading takes focus.
    page.get_by_role("button", name="Hide this insight").first.focus()
    page.keyboard.press("Enter")
    poll(page, lambda: page.evaluate("() => document.activeElement.tagName") == "H1", "the h1")


def test_a_dutch_rep_types_drinks_and_deal_values_with_a_decimal_comma(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    # A Dutch rep on a phone whose browser speaks English: a number input there reads "1,5"
    # as 15 (the comma is taken for a thousands separator).
    page = new_context(locale="en-US").new_page()
    page.add_init_script("localStorage.setItem('et.lang', 'nl')")
    sign_in(page, live_server.url)
    settle(page)
    page.get_by_role("button", name="Drankjes", exact=True).click()
    dialog = page.locator("dialog[open]")
    expect(dialog.get_by_label("Standaardglazen")).to_have_value("1")
    dialog.get_by_label("Standaardglazen").fill("")
    dialog.get_by_label("Standaardglazen").press_sequentially("1,5")  # typed, key by key
    dialog.get_by_role("button", name="Opslaan").click()
    expect(dialog).to_have_count(0)
    wait_for_empty_outbox(page)
    drinks = AlcoholEntry.objects.get(user=consenting_rep)
    assert drinks.standard_drinks == Decimal("1.5")
    expect(page.locator(".entry-list")).to_contain_text("1,5 drankjes")
    # Shown back in the form the Dutch way; a value the server cannot store is refused here.
    page.locator(".entry-list .entry", has_text="1,5 drankjes").click()
    expect(dialog.get_by_label("Standaardglazen")).to_have_value("1,5")
    dialog.get_by_label("Standaardglazen").fill("1,3")
    dialog.get_by_role("button", name="Opslaan").click()
    expect(dialog.locator(".field-error:not([hidden])")).to_contain_text("1,5")
    page.keyboard.press("Escape")

    page.get_by_role("link", name="Werk").click()
    settle(page)
    form = page.locator("form.meeting-form")
    # "1250.50" in Dutch is ambiguous (1250,50 or a typo for 125.050): asked again, not saved.
    form.get_by_label("Dealwaarde").fill("1250.50")
    form.get_by_role("button", name="Afspraak opslaan").click()
    assert form.get_by_label("Dealwaarde").evaluate("(el) => el.validationMessage")
    page.wait_for_timeout(500)
    assert not Meeting.objects.filter(user=consenting_rep).exists()
    form.get_by_label("Dealwaarde").fill("12.500,50")
    form.get_by_role("button", name="Afspraak opslaan").click()
    poll(page, lambda: Meeting.objects.filter(user=consenting_rep).exists(), "the meeting")
    wait_for_empty_outbox(page)
    assert Meeting.objects.get(user=consenting_rep).deal_value_cents == 1_250_050
    expect(page.locator(".entry-list")).to_contain_text("12.500,50")


def test_chart_ticks_follow_the_app_language(live_server: Any, new_context: Any) -> None:
    """uPlot writes its own tick labels with navigator.language; ours follow the app."""
    page = new_context(locale="en-US").new_page()
    page.goto(f"{live_server.url}/app/login")
    settle(page)
    ticks = page.evaluate(
        """async () => {
          const i18n = await import('/static/js/i18n.js');
          const charts = await import('/static/js/charts.js');
          i18n.applyLanguage('nl');
          let options = null;
          function FakePlot(opts) { options = opts; }
          const labels = { x: 'x', y: 'y' };
          charts.scatter(FakePlot, document.body, 300, { x: [], y: [] }, labels, [0, 9]);
          return options.axes.map((axis) => axis.values(null, [6.5, 1250]));
        }"""
    )
    assert ticks == [["6,5", "1.250"], ["6,5", "1.250"]]


def test_a_wrong_password_is_said_in_dutch(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    page = new_context(locale="nl-NL").new_page()
    sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/app/privacy")
    settle(page)
    page.get_by_label("Je wachtwoord").fill("not my password")
    page.get_by_label("Ik begrijp dat dit niet ongedaan kan worden gemaakt.").check()
    page.get_by_role("button", name="Mijn account verwijderen").click()
    error = page.locator(".delete-form .field-error:not([hidden])")
    expect(error).to_have_text("Dat is niet je wachtwoord; er is niets verwijderd.")
    assert User.objects.filter(pk=consenting_rep.pk).exists()
