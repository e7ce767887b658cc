"""The "How sure is this?" panel in the browser: the sentence's figures, and no direction
claimed from an interval that contains zero."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from apps.accounts.models import User
from tests.insights.sweep import make_insight
from tests.pwa.conftest import (  # noqa: F401 - fixtures
    browser,
    consenting_rep,
    new_context,
    playwright_instance,
    rep,
    sign_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# One stored insight per case: (overrides, the message must contain, the panel must contain,
# the panel must never contain), per language.
SHARE = {
    "outcome": "qualified_share",
    "mean_high": 0.41666,
    "mean_low": 0.3,
    "diff_ci_low": 0.031,
    "diff_ci_high": 0.214,
    "direction": 1,
}
# Pipeline value in yen (minor units are yen) and in euros (cents); "currency" goes into the
# stored params only. Intl writes "JPY 1,234,567" with a no-break space, as the sentence does.
NBSP = "\u00a0"
YEN = {
    "outcome": "deal_value",
    "mean_high": 1234567.0,
    "mean_low": 980000.0,
    "diff_ci_low": 20000.0,
    "diff_ci_high": 450000.0,
    "direction": 1,
    "currency": "JPY",
}
EURO = {
    "outcome": "deal_value",
    "mean_high": 123456.0,
    "mean_low": 98000.0,
    "diff_ci_low": -5049.0,
    "diff_ci_high": 45000.0,
    "direction": 1,
    "currency": "EUR",
}
CASES: dict[str, list[tuple[dict[str, Any], list[str], list[str], list[str]]]] = {
    "en": [
        (
            SHARE,
            ["42% instead of 30%"],
            [
                "Average 42% on the first kind of day, 30% on the others.",
                "most likely between 3 and 21 percentage points (higher).",
            ],
            ["0.42", "0.3"],
        ),
        (
            {"diff_ci_low": -0.08, "diff_ci_high": 1.06},
            ["4.9 instead of 6.3"],
            ["most likely between -0.1 and 1.1. That range includes 0"],
            ["(higher)", "(lower)", "between 0.1 and 1.1"],
        ),
        (
            {"diff_ci_low": -1.94, "diff_ci_high": -0.86},
            ["4.9 instead of 6.3"],
            ["most likely between 0.9 and 1.9 (lower)."],
            ["includes 0"],
        ),
        (
            YEN,
            [f"JPY{NBSP}1,234,567 instead of JPY{NBSP}980,000"],
            [
                f"Average JPY{NBSP}1,234,567 on the first kind of day, JPY{NBSP}980,000 on",
                f"most likely between JPY{NBSP}20,000 and JPY{NBSP}450,000 (higher).",
            ],
            ["12,346", "9,800", "200 "],
        ),
        (
            EURO,
            [f"EUR{NBSP}1,235 instead of EUR{NBSP}980"],
            [
                f"Average EUR{NBSP}1,235 on the first kind of day, EUR{NBSP}980 on the others.",
                f"most likely between -EUR{NBSP}50 and EUR{NBSP}450. That range includes 0",
            ],
            ["123,456", "€"],
        ),
    ],
    "nl": [
        (
            SHARE,
            ["gemiddeld 42% op dagen", "tegen 30% op andere dagen"],
            [
                "Gemiddeld 42% op het eerste soort dag, 30% op de andere.",
                "waarschijnlijk tussen 3 en 21 procentpunt (hoger).",
            ],
            ["0,42", "0,3 "],
        ),
        (
            {"diff_ci_low": -0.08, "diff_ci_high": 1.06},
            ["gemiddeld 4,9 op dagen"],
            ["waarschijnlijk tussen -0,1 en 1,1. Dat bereik bevat 0"],
            ["(hoger)", "(lager)", "tussen 0,1 en 1,1"],
        ),
        (
            {"diff_ci_low": -1.94, "diff_ci_high": -0.86},
            ["gemiddeld 4,9 op dagen"],
            ["waarschijnlijk tussen 0,9 en 1,9 (lager)."],
            ["bevat 0"],
        ),
        (
            YEN,
            [f"gemiddeld JPY{NBSP}1.234.567 op dagen", f"tegen JPY{NBSP}980.000 op andere"],
            [
                f"Gemiddeld JPY{NBSP}1.234.567 op het eerste soort dag, JPY{NBSP}980.000 op",
                f"waarschijnlijk tussen JPY{NBSP}20.000 en JPY{NBSP}450.000 (hoger).",
            ],
            ["12.346", "9.800"],
        ),
        (
            EURO,
            [f"gemiddeld EUR{NBSP}1.235 op dagen", f"tegen EUR{NBSP}980 op andere"],
            [
                f"Gemiddeld EUR{NBSP}1.235 op het eerste soort dag, EUR{NBSP}980 op de andere.",
                f"waarschijnlijk tussen EUR{NBSP}-50 en EUR{NBSP}450. Dat bereik bevat 0",
            ],
            ["123.456", "€"],
        ),
    ],
}


@pytest.mark.parametrize("language", ["en", "nl"])
def test_evidence_panel_matches_the_sentence_and_is_honest_about_zero(
    live_server: Any,
    new_context: Any,  # noqa: F811 - the fixture imported above
    consenting_rep: User,  # noqa: F811
    language: str,
) -> None:
    consenting_rep.locale = language
    consenting_rep.save(update_fields=["locale"])
    cases = CASES[language]
    for overrides, *_ in cases:
        fields = {k: v for k, v in overrides.items() if k != "currency"}
        insight = make_insight(consenting_rep, **fields)
        insight.params = {
            **insight.params,
            **{k: v for k, v in overrides.items() if k in insight.params or k == "currency"},
        }
        insight.save(update_fields=["params"])
    page = new_context(locale="nl-NL" if language == "nl" else "en-US").new_page()
    sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/app/insights")
    cards = page.locator("article.insight")
    expect(cards).to_have_count(len(cases))
    for index, (_, in_message, in_panel, never) in enumerate(reversed(cases)):  # newest first
        card = cards.nth(index)
        card.locator("summary").click()
        message = card.locator(".insight-message").inner_text()
        panel = card.locator(".evidence").inner_text()
        assert all(text in message for text in in_message), message
        assert all(text in panel for text in in_panel), panel
        assert not [text for text in never if text in panel], panel
