"""Dutch and English render every screen with no missing string, and nothing breaks the CSP."""

from __future__ import annotations

import gzip
import re
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from apps.accounts.models import User
from apps.pwa.views import FIRST_SCREEN_MODULES
from tests.pwa.conftest import DEMO_EMAIL, DEMO_PASSWORD, settle, sign_in
from tests.pwa.test_i18n import all_keys, load

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENS = ["", "work", "trends", "insights", "privacy", "settings"]
EXPECTED = {
    "en": {
        "": "Today",
        "work": "Work",
        "trends": "Trends",
        "insights": "Insights",
        "privacy": "Sharing & privacy",
        "settings": "Settings",
        "nav": "Today",
        "insight": "On days",
    },
    "nl": {
        "": "Vandaag",
        "work": "Werk",
        "trends": "Trends",
        "insights": "Inzichten",
        "privacy": "Delen en privacy",
        "settings": "Instellingen",
        "nav": "Vandaag",
        "insight": "op dagen",
    },
}
JS_BUDGET_GZIP = 60 * 1024


def visible_words(page: Page) -> str:
    """Text on screen plus the words only assistive technology gets."""
    return str(
        page.evaluate(
            "() => document.body.innerText + ' ' + [...document.querySelectorAll("
            "'[aria-label],[placeholder],[title],[alt]')].map((el) => ["
            "el.getAttribute('aria-label'), el.getAttribute('placeholder'),"
            " el.getAttribute('title'), el.getAttribute('alt')].join(' ')).join(' ')"
            " + ' ' + document.title"
        )
    )


def missing(page: Page) -> list[str]:
    return list(page.evaluate("() => import('/static/js/i18n.js').then((m) => [...m.MISSING])"))


@pytest.mark.parametrize("language", ["en", "nl"])
def test_every_screen_in_both_languages(
    live_server: Any, new_context: Any, demo_rep: User, language: str
) -> None:
    # The narrowest phone the app supports, where the longer Dutch words must still fit.
    context = new_context(
        locale="nl-NL" if language == "nl" else "en-US", viewport={"width": 360, "height": 740}
    )
    page = context.new_page()
    problems: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        text = message.text
        policy = any(word in text for word in ("Content Security Policy", "Trusted Type"))
        # The one expected error: the signed-out start asks /auth/me and gets 401.
        if policy or (message.type == "error" and "401" not in text):
            problems.append(text)

    page.on("console", watch)
    page.on("pageerror", lambda error: problems.append(str(error)))
    keys = re.compile("|".join(re.escape(key) for key in sorted(all_keys(), key=len, reverse=True)))

    page.goto(f"{live_server.url}/app/login")
    settle(page)
    assert page.evaluate("() => document.documentElement.lang") == language
    words = {"login": visible_words(page)}
    sign_in(page, live_server.url, DEMO_EMAIL, DEMO_PASSWORD)
    for screen in SCREENS:
        page.goto(f"{live_server.url}/app/{screen}")
        settle(page)
        expect(page.locator("h1")).to_contain_text(EXPECTED[language][screen])
        expect(page.locator("#tabs")).to_contain_text(EXPECTED[language]["nav"])
        words[screen or "today"] = visible_words(page)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
        assert overflow <= 0, f"{screen or 'today'} scrolls sideways by {overflow}px"
    # Server-rendered insights follow the app's language (the app told the server).
    page.goto(f"{live_server.url}/app/insights")
    settle(page)
    expect(page.locator(".insight-message").first).to_contain_text(EXPECTED[language]["insight"])
    # Every entry form.
    page.goto(f"{live_server.url}/app/")
    settle(page)
    for index in range(page.locator(".quick").count()):
        page.locator(".quick").nth(index).click()
        expect(page.locator("dialog[open]")).to_be_visible()
        words[f"form {index}"] = visible_words(page)
        page.keyboard.press("Escape")
    raw = {where: sorted(set(keys.findall(text))) for where, text in words.items()}
    assert {where: found for where, found in raw.items() if found} == {}
    assert missing(page) == []
    assert problems == []


def test_first_screen_javascript_budget(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    """What a phone downloads to show Today, gzipped, must stay under 60 KB."""
    context = new_context(service_workers="block")
    page = context.new_page()
    sign_in(page, live_server.url)
    scripts: dict[str, int] = {}

    def record(response: Any) -> None:
        if response.request.resource_type == "script" or response.url.endswith(".js"):
            scripts[response.url] = len(gzip.compress(response.body(), compresslevel=9))

    page.on("response", record)
    page.goto(f"{live_server.url}/app/")
    settle(page)
    page.remove_listener("response", record)
    paths = {url.split("/static/", 1)[-1] for url in scripts}
    assert {f"js/{m.removeprefix('js/')}" for m in FIRST_SCREEN_MODULES} <= paths
    assert not any("uPlot" in path or "screens/trends" in path for path in paths)
    total = sum(scripts.values())
    print(f"\nfirst screen JavaScript: {len(scripts)} files, {total / 1024:.1f} KiB gzipped")
    assert total < JS_BUDGET_GZIP, f"{total} bytes gzipped: {sorted(scripts.items())}"


def test_the_locale_modules_hold_exactly_what_test_i18n_reads(
    live_server: Any, new_context: Any
) -> None:
    """test_i18n.py reads the locale files with a pattern; the browser reads the modules. Both
    must see the same keys and plural forms, or keys could escape the checks there."""
    page = new_context().new_page()
    page.goto(f"{live_server.url}/app/login")
    settle(page)
    modules = page.evaluate(
        "() => import('/static/js/i18n.js').then((m) => Object.fromEntries(["
        "'en', 'nl'].map((lang) => [lang, Object.fromEntries(Object.entries(m.DICTIONARIES[lang])"
        ".map(([key, value]) => [key, typeof value === 'object' ? Object.keys(value).sort()"
        " : null]))])))"
    )
    assert set(modules["en"]) == set(modules["nl"])
    assert set(modules["en"]) == set(load("en")) and set(modules["nl"]) == set(load("nl"))
    assert {k: v for k, v in modules["en"].items() if v != modules["nl"][k]} == {}
