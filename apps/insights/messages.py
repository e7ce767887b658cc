"""The words of an insight, in English and Dutch. Never causal: "goes with", not "causes".

A finding is stored as a message key and parameters; it is rendered in the rep's language
when read, so a rep who switches language sees every insight in the new one.
"""

from __future__ import annotations

from typing import Any

OUTCOME_NAMES = {
    "en": {
        "energy_mean": "energy",
        "energy_morning": "morning energy",
        "energy_afternoon": "afternoon energy",
        "calls": "calls made",
        "connected_calls": "connected calls",
        "meetings_held": "meetings held",
        "qualified_meetings": "qualified meetings",
        "qualified_share": "share of qualified meetings",
        "decision_maker_rate": "share of meetings with a decision-maker",
        "deal_value": "pipeline value",
    },
    "nl": {
        "energy_mean": "energie",
        "energy_morning": "energie in de ochtend",
        "energy_afternoon": "energie in de middag",
        "calls": "gevoerde belpogingen",
        "connected_calls": "gesprekken met contact",
        "meetings_held": "gehouden afspraken",
        "qualified_meetings": "gekwalificeerde afspraken",
        "qualified_share": "aandeel gekwalificeerde afspraken",
        "decision_maker_rate": "aandeel afspraken met een beslisser",
        "deal_value": "pijplijnwaarde",
    },
}

# What "high" means for each factor and lag, as a clause after "On days ...".
FACTOR_CLAUSES = {
    "en": {
        ("sleep_minutes", 0): "after you slept {threshold_hours} h or more",
        ("bedtime_minutes", 0): "after you went to bed at {threshold_clock} or later",
        ("sleep_quality", 0): "after you rated your sleep {threshold} or better",
        ("drinks", 1): "after {threshold} or more drinks the evening before",
        ("heavy_meals", 0): "with {threshold} or more heavy meals",
        ("heavy_meals", 1): "after a day with {threshold} or more heavy meals",
        ("late_meal", 1): "after a late evening meal",
        ("exercise_minutes", 0): "with {threshold} or more minutes of exercise",
        ("exercise_minutes", 1): "after a day with {threshold} or more minutes of exercise",
        ("exercise_intensity", 0): "with harder exercise",
        ("exercise_intensity", 1): "after a day with harder exercise",
        ("activity_balance", 0): "when your activities gave you energy",
        ("energy_mean", 0): "when your energy was {threshold} or higher",
    },
    "nl": {
        ("sleep_minutes", 0): "na een nacht van {threshold_hours} uur slaap of meer",
        ("bedtime_minutes", 0): "nadat je om {threshold_clock} of later naar bed ging",
        ("sleep_quality", 0): "nadat je je slaap een {threshold} of hoger gaf",
        ("drinks", 1): "na {threshold} of meer drankjes de avond ervoor",
        ("heavy_meals", 0): "met {threshold} of meer zware maaltijden",
        ("heavy_meals", 1): "na een dag met {threshold} of meer zware maaltijden",
        ("late_meal", 1): "na een late avondmaaltijd",
        ("exercise_minutes", 0): "met {threshold} minuten beweging of meer",
        ("exercise_minutes", 1): "na een dag met {threshold} minuten beweging of meer",
        ("exercise_intensity", 0): "met zwaardere inspanning",
        ("exercise_intensity", 1): "na een dag met zwaardere inspanning",
        ("activity_balance", 0): "als je activiteiten je energie gaven",
        ("energy_mean", 0): "als je energie {threshold} of hoger was",
    },
}

TEMPLATES = {
    "en": (
        "On days {clause}, your {outcome} averaged {mean_high} instead of {mean_low} "
        "({n_high} vs {n_low} days). This goes together with it; it does not prove a cause."
    ),
    "nl": (
        "Op dagen {clause} was je {outcome} gemiddeld {mean_high} in plaats van {mean_low} "
        "({n_high} tegen {n_low} dagen). Dit gaat samen; het bewijst geen oorzaak."
    ),
}

PROGRESS_TEMPLATES = {
    "en": "Log {days_needed} more days to unlock a first pattern for {construct} and {outcome}.",
    "nl": "Log nog {days_needed} dagen voor een eerste patroon in {construct} en {outcome}.",
}
CONSTRUCT_NAMES = {
    "en": {
        "sleep": "sleep",
        "alcohol": "alcohol",
        "food": "food",
        "exercise": "exercise",
        "activities": "activities",
        "energy": "energy",
    },
    "nl": {
        "sleep": "slaap",
        "alcohol": "alcohol",
        "food": "eten",
        "exercise": "beweging",
        "activities": "activiteiten",
        "energy": "energie",
    },
}


def _number(value: float, locale: str, outcome: str) -> str:
    if outcome == "deal_value":
        text = f"{value / 100:,.0f}"
    elif outcome in ("qualified_share", "decision_maker_rate"):
        text = f"{value * 100:.0f}%"
    else:
        text = f"{value:.1f}"
    if locale == "nl":
        text = text.replace(",", "\u2009").replace(".", ",")
    return text


def message_params(
    *, factor: str, lag: int, outcome: str, threshold: float, finding: Any
) -> dict[str, Any]:
    return {
        "factor": factor,
        "lag": lag,
        "outcome": outcome,
        "threshold": threshold,
        "mean_high": finding.mean_high,
        "mean_low": finding.mean_low,
        "n_high": finding.n_high,
        "n_low": finding.n_low,
    }


def render(params: dict[str, Any], locale: str) -> str:
    locale = locale if locale in TEMPLATES else "en"
    threshold = float(params["threshold"])
    clock_minutes = int(threshold) % (24 * 60)
    clause_template = FACTOR_CLAUSES[locale].get(
        (params["factor"], int(params["lag"])), FACTOR_CLAUSES[locale][("energy_mean", 0)]
    )
    clause = clause_template.format(
        threshold=f"{threshold:g}",
        threshold_hours=f"{threshold / 60:g}",
        threshold_clock=f"{clock_minutes // 60:02d}:{clock_minutes % 60:02d}",
    )
    outcome = params["outcome"]
    return TEMPLATES[locale].format(
        clause=clause,
        outcome=OUTCOME_NAMES[locale][outcome],
        mean_high=_number(float(params["mean_high"]), locale, outcome),
        mean_low=_number(float(params["mean_low"]), locale, outcome),
        n_high=params["n_high"],
        n_low=params["n_low"],
    )


def render_progress(construct: str, outcome: str, days_needed: int, locale: str) -> str:
    locale = locale if locale in PROGRESS_TEMPLATES else "en"
    return PROGRESS_TEMPLATES[locale].format(
        days_needed=days_needed,
        construct=CONSTRUCT_NAMES[locale].get(construct, construct),
        outcome=OUTCOME_NAMES[locale].get(outcome, outcome),
    )
