"""axe-core on every screen and dialog, and the whole flow with the keyboard alone."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from apps.accounts.models import User
from apps.journal.models import EnergyCheckin, MealEntry
from tests.pwa.conftest import AXE_SOURCE, DEMO_EMAIL, DEMO_PASSWORD, poll, settle, sign_in
from tests.pwa.test_i18n import load

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENS = ["", "work", "trends", "insights", "privacy", "settings"]
# WCAG 2.0/2.1/2.2 A and AA plus axe's best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def axe_violations(page: Page) -> list[dict[str, Any]]:
    if not page.evaluate("() => Boolean(window.axe)"):
        # The app's CSP forbids injected scripts; this context bypasses CSP for axe only.
        page.add_script_tag(content=AXE_SOURCE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "(tags) => axe.run(document, { runOnly: { type: 'tag', values: tags } })"
        ".then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact,"
        " nodes: v.nodes.map((n) => n.target.join(' ') + ': ' + n.failureSummary) })))",
        AXE_TAGS,
    )
    return list(result)


@pytest.mark.parametrize("language", ["en", "nl"])
def test_axe_finds_nothing_on_any_screen(
    live_server: Any, new_context: Any, demo_rep: User, language: str
) -> None:
    """In both languages: Dutch labels are longer (wrapping, contrast of what moved) and the
    document's language must follow the app's."""
    words = {key: json.loads(load(language)[key]) for key in ("kind.meal", "category.alcohol")}
    page = new_context(bypass_csp=True, locale="nl-NL" if language == "nl" else "en-US").new_page()
    page.goto(f"{live_server.url}/app/login")
    settle(page)
    found = {"login": axe_violations(page)}
    sign_in(page, live_server.url, DEMO_EMAIL, DEMO_PASSWORD)
    for screen in SCREENS:
        page.goto(f"{live_server.url}/app/{screen}")
        settle(page)
        found[screen or "today"] = axe_violations(page)
    # The dialogs: an entry form, a consent withdrawal, and editing an entry.
    page.goto(f"{live_server.url}/app/")
    settle(page)
    page.get_by_role("button", name=words["kind.meal"], exact=True).click()
    expect(page.locator("dialog[open]")).to_be_visible()
    found["meal form"] = axe_violations(page)
    page.keyboard.press("Escape")
    page.locator(".entry-list .entry").first.click()
    expect(page.locator("dialog[open]")).to_be_visible()
    found["edit form"] = axe_violations(page)
    page.keyboard.press("Escape")
    page.goto(f"{live_server.url}/app/privacy")
    settle(page)
    page.get_by_role("switch", name=words["category.alcohol"]).click()
    expect(page.locator("dialog[open]")).to_be_visible()
    found["withdraw dialog"] = axe_violations(page)
    assert page.evaluate("() => document.documentElement.lang") == language
    assert {screen: v for screen, v in found.items() if v} == {}


def focused(page: Page) -> str:
    return str(
        page.evaluate(
            "() => { const el = document.activeElement;"
            " return (el.getAttribute('aria-label') || el.innerText || el.value || el.name"
            " || el.tagName).trim().split('\\n')[0]; }"
        )
    )


def tab_to(page: Page, name: str, limit: int = 80) -> list[str]:
    """Press Tab until the focused element is called ``name``; returns the path taken."""
    path: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        path.append(focused(page))
        if path[-1] == name:
            return path
    raise AssertionError(f"{name!r} is not reachable with Tab; went through {path}")


def test_keyboard_only(live_server: Any, new_context: Any, consenting_rep: User) -> None:
    page = new_context().new_page()
    page.goto(f"{live_server.url}/app/login")
    settle(page)
    assert tab_to(page, "Skip to content") == ["Skip to content"]
    tab_to(page, "email")
    page.keyboard.type("rep@example.com")
    page.keyboard.press("Tab")
    page.keyboard.type("correct horse battery")
    page.keyboard.press("Enter")
    expect(page.locator(".energy-grid")).to_be_visible()
    settle(page)

    # Signing in moved focus to the screen's heading; from there the order follows the
    # screen: the nine levels in order, one Tab each.
    assert page.evaluate("() => document.activeElement.tagName") == "H1"
    path = tab_to(page, "Energy 9 of 9")
    assert path == [f"Energy {n} of 9" for n in range(1, 10)]
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert focused(page) == "Energy 6 of 9"
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "keyboard focus must be visible"
    page.keyboard.press("Enter")
    expect(page.locator(".confirmation")).to_contain_text("Energy 6 saved")
    poll(page, lambda: EnergyCheckin.objects.filter(user=consenting_rep).count() == 1, "save")

    # A quick form: opens as a modal, keeps focus inside, saves with Enter, gives focus back.
    tab_to(page, "Meal")
    page.keyboard.press("Enter")
    dialog = page.locator("dialog[open]")
    expect(dialog).to_be_visible()
    inside = "() => document.querySelector('dialog[open]').contains(document.activeElement)"
    assert page.evaluate(inside)
    page.keyboard.press("ArrowRight")  # next meal type, the radio group's own keys
    for _ in range(40):
        page.keyboard.press("Tab")
        assert page.evaluate(inside), "focus left the dialog"
        if focused(page) == "Save":
            break
    page.keyboard.press("Enter")
    expect(dialog).to_have_count(0)
    assert focused(page) == "Meal"
    poll(page, lambda: MealEntry.objects.filter(user=consenting_rep).count() == 1, "the meal")

    # Escape closes a dialog without saving.
    tab_to(page, "Note")
    page.keyboard.press("Enter")
    expect(page.locator("dialog[open]")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("dialog[open]")).to_have_count(0)
    assert focused(page) == "Note"

    # The tab bar: every screen, and its heading gets focus on arrival.
    for name, heading in [("Trends", "Trends"), ("Insights", "Insights"), ("Work", "Work")]:
        tab_to(page, name)
        page.keyboard.press("Enter")
        expect(page.locator("h1")).to_contain_text(heading)
        poll(page, lambda: page.evaluate("() => document.activeElement.tagName") == "H1", "h1")
    tab_to(page, "Settings")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text("Settings")
