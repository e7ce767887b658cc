"""What the rep reads: every insight sentence, progress row and evidence figure, in both
languages."""

from __future__ import annotations

import re
from typing import Any

import pytest

from apps.insights.engine import CONSTRUCTS, FACTOR_LAGS, FACTORS, OUTCOMES, WORK_OUTCOMES
from apps.insights.messages import render, render_progress
from tests.insights.sweep import make_insight

# Awkward stored thresholds, as a median split produces them, and what the rep should read.
THRESHOLDS: dict[str, tuple[float, dict[str, str]]] = {
    "sleep_minutes": (395.0, {"en": "6.5 h or more", "nl": "6,5 uur slaap of meer"}),
    "bedtime_minutes": (-35.0, {"en": "23:25 or later", "nl": "23:25 of later"}),
    "sleep_quality": (3.66667, {"en": "3.7 or better", "nl": "een 3,7 of hoger"}),
    "drinks": (3.0, {"en": "3 or more drinks", "nl": "3 of meer drankjes"}),
    "heavy_meals": (1.0, {"en": "1 or more heavy meals", "nl": "1 of meer zware"}),
    "late_meal": (1.0, {"en": "late evening meal", "nl": "late avondmaaltijd"}),
    "exercise_minutes": (30.0, {"en": "30 or more minutes", "nl": "30 minuten beweging"}),
    "exercise_intensity": (2.0, {"en": "harder exercise", "nl": "zwaardere inspanning"}),
    "activity_balance": (0.5, {"en": "activities gave you", "nl": "activiteiten je energie"}),
    "energy_mean": (5.66667, {"en": "5.7 or higher", "nl": "5,7 of hoger"}),
}
# Stored averages (high, low) per kind of outcome and the figures the rep reads.
MEANS: dict[str, tuple[float, float, dict[str, tuple[str, str]]]] = {
    "energy": (5.66667, 4.83333, {"en": ("5.7", "4.8"), "nl": ("5,7", "4,8")}),
    "count": (42.3333, 48.06, {"en": ("42.3", "48.1"), "nl": ("42,3", "48,1")}),
    "share": (0.41666, 0.3, {"en": ("42%", "30%"), "nl": ("42%", "30%")}),
    "money": (123456.0, 234567.0, {"en": ("1,235", "2,346"), "nl": ("1.235", "2.346")}),
}
# Panel figures (mean_high, mean_low) that must equal the sentence's.
PANEL = {
    "energy": (5.7, 4.8),
    "count": (42.3, 48.1),
    "share": (42.0, 30.0),
    "money": (1235.0, 2346.0),
}
NL_PLURAL = {"calls", "connected_calls", "meetings_held", "qualified_meetings"}


def kind_of(outcome: str) -> str:
    if outcome.startswith("energy"):
        return "energy"
    if outcome == "deal_value":
        return "money"
    if outcome in ("qualified_share", "decision_maker_rate"):
        return "share"
    return "count"


COMBINATIONS = [
    (factor, lag, outcome, direction)
    for factor in FACTORS
    for lag in FACTOR_LAGS[factor]
    for outcome in (WORK_OUTCOMES if factor == "energy_mean" else OUTCOMES)
    for direction in (1, -1)
]


def params_for(factor: str, lag: int, outcome: str, direction: int) -> dict[str, Any]:
    high, low, _ = MEANS[kind_of(outcome)]
    if direction < 0:
        high, low = low, high
    return {
        "factor": factor,
        "lag": lag,
        "outcome": outcome,
        "threshold": THRESHOLDS[factor][0],
        "mean_high": high,
        "mean_low": low,
        "n_high": 21,
        "n_low": 143,
    }


def decimals_in(text: str, locale: str) -> list[int]:
    """Decimals of every number in the text (the clock's "23:25" counts as two integers)."""
    point = "," if locale == "nl" else "."
    return [
        len(number.split(point)[1]) if point in number else 0
        for number in re.findall(r"\d[\d.,]*\d|\d", text)
    ]


def test_every_construct_outcome_and_direction_is_covered() -> None:
    assert {CONSTRUCTS[factor] for factor, *_ in COMBINATIONS} == set(CONSTRUCTS.values())
    assert len(COMBINATIONS) == 2 * 127


@pytest.mark.parametrize("locale", ["en", "nl"])
@pytest.mark.parametrize(("factor", "lag", "outcome", "direction"), COMBINATIONS)
def test_every_sentence_reads_correctly(
    factor: str, lag: int, outcome: str, direction: int, locale: str
) -> None:
    message = render(params_for(factor, lag, outcome, direction), locale)
    high, low = MEANS[kind_of(outcome)][2][locale]
    if direction < 0:
        high, low = low, high

    assert THRESHOLDS[factor][1][locale] in message
    assert "6.58" not in message and "6,58" not in message and "667" not in message
    assert max(decimals_in(message, locale)) <= 1
    assert "was was" not in message and "was, was" not in message
    if locale == "en":
        assert message.startswith("On days ")
        assert f"averaged {high} instead of {low} (21 vs 143 days)" in message
        assert "it does not prove a cause" in message
    else:
        verb = "waren" if outcome in NL_PLURAL else "was"
        assert message.startswith("Je ")
        assert f" {verb} gemiddeld {high} op dagen " in message
        assert f", tegen {low} op andere dagen (21 tegen 143 dagen)." in message
        assert not re.search(r"\d\.\d(?!\d\d)", message), "a decimal point in Dutch"


@pytest.mark.parametrize(
    ("days", "locale", "expected"),
    [
        (1, "en", "Log 1 more day to unlock a first pattern for sleep and energy."),
        (2, "en", "Log 2 more days to unlock a first pattern for sleep and energy."),
        (21, "en", "Log 21 more days to unlock a first pattern for sleep and energy."),
        (1, "nl", "Log nog 1 dag voor een eerste patroon in slaap en energie."),
        (2, "nl", "Log nog 2 dagen voor een eerste patroon in slaap en energie."),
        (21, "nl", "Log nog 21 dagen voor een eerste patroon in slaap en energie."),
    ],
)
def test_progress_rows_use_singular_and_plural(days: int, locale: str, expected: str) -> None:
    assert render_progress("sleep", "energy_mean", days, locale) == expected


@pytest.mark.django_db
@pytest.mark.parametrize("locale", ["en", "nl"])
@pytest.mark.parametrize("direction", [1, -1])
@pytest.mark.parametrize("outcome", OUTCOMES)
def test_evidence_panel_figures_are_the_sentences_figures(
    api, consenting_user, outcome: str, direction: int, locale: str
) -> None:
    consenting_user.locale = locale
    consenting_user.save(update_fields=["locale"])
    params = params_for("sleep_minutes", 0, outcome, direction)
    kind = kind_of(outcome)
    insight = make_insight(
        consenting_user,
        construct="sleep",
        factor="sleep_minutes",
        lag=0,
        outcome=outcome,
        direction=direction,
        mean_high=params["mean_high"],
        mean_low=params["mean_low"],
        params=params,
    )
    body = api.get(f"/api/v1/insights/{insight.pk}").json()
    evidence = body["evidence"]
    panel_high, panel_low = PANEL[kind]
    if direction < 0:
        panel_high, panel_low = panel_low, panel_high
    text_high, text_low = MEANS[kind][2][locale]
    if direction < 0:
        text_high, text_low = text_low, text_high

    assert (evidence["mean_high"], evidence["mean_low"]) == (panel_high, panel_low)
    assert text_high in body["message"] and text_low in body["message"]
    assert evidence["unit"] == {"share": "percent", "money": "money"}.get(kind, "number")
    assert evidence["currency"] is None  # these params name none: money as stored before
    assert evidence["decimals"] == (1 if kind in ("energy", "count") else 0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("outcome", "stored", "shown", "includes_zero"),
    [
        ("energy_mean", (-0.08, 1.06), [-0.1, 1.1], True),
        ("energy_mean", (-1.94, -0.86), [-1.9, -0.9], False),
        ("energy_mean", (0.03, 1.2), [0.0, 1.2], True),  # "0.0 to 1.2" is no evidence of more
        ("qualified_share", (-0.08, 0.21), [-8.0, 21.0], True),
        ("qualified_share", (0.031, 0.214), [3.0, 21.0], False),
        ("deal_value", (-5049.0, 20000.0), [-50.0, 200.0], True),
        ("deal_value", (-250000.0, -12345.0), [-2500.0, -123.0], False),
    ],
)
def test_evidence_interval_is_in_sentence_units_and_honest_about_zero(
    api,
    consenting_user,
    outcome: str,
    stored: tuple[float, float],
    shown: list[float],
    includes_zero: bool,
) -> None:
    insight = make_insight(
        consenting_user, outcome=outcome, diff_ci_low=stored[0], diff_ci_high=stored[1]
    )
    evidence = api.get(f"/api/v1/insights/{insight.pk}").json()["evidence"]
    assert evidence["difference_interval"] == shown
    assert evidence["interval_includes_zero"] is includes_zero
