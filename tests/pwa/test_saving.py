"""Saving is safe: a double tap stores one entry, a phone that cannot store keeps what was typed,
and sign-out warns about every entry it would delete."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Dialog, Route, expect

from apps.accounts.models import User
from apps.journal.models import ActivityEntry, AlcoholEntry, EnergyCheckin, MealEntry, SleepEntry
from tests.pwa.conftest import outbox_size, poll, sign_in, wait_for_empty_outbox

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_double_tap_on_save_stores_one_entry(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    page = new_context().new_page()
    sign_in(page, live_server.url)
    page.get_by_role("button", name="Meal", exact=True).click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_text("Dinner", exact=True).click()
    dialog.get_by_role("button", name="Save").dblclick()
    expect(dialog).to_have_count(0)
    wait_for_empty_outbox(page)
    page.wait_for_timeout(500)  # room for a late second entry, which must not come
    assert list(
        MealEntry.objects.filter(user=consenting_rep).values_list("meal_type", flat=True)
    ) == ["dinner"]


def test_a_form_submitted_twice_at_once_stores_one_entry(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    """Enter in a field and a tap on Save in the same moment: the disabled button does not stop
    the second submit; the form's one id does."""
    page = new_context().new_page()
    sign_in(page, live_server.url)
    page.get_by_role("button", name="Note", exact=True).click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Note").fill("Two submits, one note")
    dialog.locator("form").evaluate("(form) => { form.requestSubmit(); form.requestSubmit(); }")
    expect(dialog).to_have_count(0)
    wait_for_empty_outbox(page)
    page.wait_for_timeout(500)
    notes = EnergyCheckin.objects.filter(user=consenting_rep).values_list("note", flat=True)
    assert list(notes) == ["Two submits, one note"]


def test_a_double_tap_on_the_morning_card_stores_one_night(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    page = new_context().new_page()  # the context's clock reads about 08:00
    sign_in(page, live_server.url)
    morning = page.locator("section.morning")
    morning.get_by_text("3", exact=True).click()
    morning.get_by_role("button", name="Save last night").dblclick()
    expect(morning).to_have_count(0)
    wait_for_empty_outbox(page)
    page.wait_for_timeout(500)
    assert SleepEntry.objects.filter(user=consenting_rep).count() == 1
    assert list(
        AlcoholEntry.objects.filter(user=consenting_rep).values_list("standard_drinks", flat=True)
    ) == [3]


def test_a_phone_that_cannot_store_keeps_the_form_and_says_so(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    page = new_context().new_page()
    sign_in(page, live_server.url)
    page.get_by_role("button", name="Activity", exact=True).click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("What did you do").fill("Board meeting")
    # The browser refuses the write: a newer copy of the app (another tab, after a deploy) has
    # upgraded the database, so this one cannot open it any more.
    page.evaluate(
        "() => new Promise((resolve, reject) => { const req = indexedDB.open('energytrack', 99);"
        " req.onsuccess = () => { req.result.close(); resolve(); }; req.onerror = reject; })"
    )
    dialog.get_by_role("button", name="Save").click()

    expect(dialog.get_by_role("alert")).to_contain_text("could not be stored on your phone")
    expect(dialog.get_by_label("What did you do")).to_have_value("Board meeting")
    expect(dialog.get_by_role("button", name="Save")).to_be_enabled()

    # Once the phone can store again, the same form saves what was typed.
    page.evaluate(
        "() => new Promise((resolve, reject) => {"
        " const req = indexedDB.deleteDatabase('energytrack');"
        " req.onsuccess = resolve; req.onerror = reject; })"
    )
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_have_count(0)
    assert outbox_size(page) + ActivityEntry.objects.filter(user=consenting_rep).count() == 1


def test_sign_out_warns_about_entries_the_server_refused(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    context = new_context()

    def refuse(route: Route) -> None:
        route.fulfill(
            status=200,
            headers={"Content-Type": "application/json"},
            body='{"results": [{"index": 0, "result": "rejected", "status": 400,'
            ' "detail": "Not allowed.", "errors": {}}]}',
        )

    context.route("**/api/v1/journal/batch", refuse)
    page = context.new_page()
    sign_in(page, live_server.url)
    page.get_by_role("button", name="Energy 2 of 9").click()
    expect(page.locator("#status")).to_contain_text("1 not saved")
    assert outbox_size(page) == 0  # nothing waiting: only the refused entry is at stake

    page.locator("#settings-link").click()
    warnings: list[str] = []

    def decline(dialog: Dialog) -> None:
        warnings.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", decline)
    page.get_by_role("button", name="Sign out").click()
    poll(page, lambda: bool(warnings), "the warning")
    expect(page.locator("main h1")).to_have_text("Settings")  # declined: still signed in
    assert warnings == [
        "1 entry is not saved on the server and will be lost if you sign out. Sign out anyway?"
    ]


def test_a_refused_entry_says_why_in_the_reps_language(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    """The server's reasons are English; a Dutch rep reads the refusal in Dutch, from its code
    (here: the alcohol consent was withdrawn on another phone after this one loaded it)."""
    from apps.privacy.services import consent_withdraw

    page = new_context(locale="nl-NL").new_page()
    sign_in(page, live_server.url)
    morning = page.locator("section.morning")
    # The phone has loaded the consents (drinks are offered) before the other phone withdraws;
    # withdrawn first, the card would not offer drinks at all.
    drinks = morning.get_by_text("3", exact=True)
    expect(drinks).to_be_visible()
    consent_withdraw(user=consenting_rep, category="alcohol", delete_entries=False)
    drinks.click()
    morning.get_by_role("button", name="Nacht opslaan").click()
    failed = page.locator(".failed-list")
    expect(failed).to_contain_text(
        "niet opgeslagen: het bewaren van gegevens over alcohol staat uit onder Delen en privacy."
    )
    expect(failed).not_to_contain_text("consent")
    assert not AlcoholEntry.objects.filter(user=consenting_rep).exists()


def test_a_refused_value_is_named_as_the_rep_knows_it(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    """An entry queued with a value the server refuses (here by an older copy of the app):
    the reason names "drankjes", the rep's word, not the API's field "standard_drinks"."""
    page = new_context(locale="nl-NL").new_page()
    sign_in(page, live_server.url)
    page.evaluate(
        """async () => {
          const sync = await import('/static/js/sync.js');
          await sync.upsertEntry('alcohol', crypto.randomUUID(),
            { occurred_at: new Date().toISOString(), standard_drinks: '99.0' });
        }"""
    )
    failed = page.locator(".failed-list")
    expect(failed).to_contain_text("een waarde valt buiten wat kan worden bewaard (drankjes).")
    expect(failed).not_to_contain_text("standard_drinks")
    assert not AlcoholEntry.objects.filter(user=consenting_rep).exists()
