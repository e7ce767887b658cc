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
        ("activity_balance", 0): "waarop je activiteiten je energie gaven",
        ("energy_mean", 0): "waarop je energie {threshold} of hoger was",
    },
}

# The outcome leads in Dutch, so a clause ending in a verb ("... hoger was") never meets the
# main verb ("was was"), and the verb agrees with the outcome ("belpogingen waren").
TEMPLATES = {
    "en": (
        "On days {clause}, your {outcome} averaged {mean_high} instead of {mean_low} "
        "({n_high} vs {n_low} days). This goes together with it; it does not prove a cause."
    ),
    "nl": (
        "Je {outcome} {verb} gemiddeld {mean_high} op dagen {clause}, tegen {mean_low} op "
        "andere dagen ({n_high} tegen {n_low} dagen). Dit gaat samen; het bewijst geen oorzaak."
    ),
}
# Dutch outcome names that are plural take "waren"; the others take "was".
NL_PLURAL_OUTCOMES = frozenset({"calls", "connected_calls", "meetings_held", "qualified_meetings"})

PROGRESS_TEMPLATES = {
    "en": {
        "one": (
            "Log {days_needed} more day to unlock a first pattern for {construct} and {outcome}."
        ),
        "other": (
            "Log {days_needed} more days to unlock a first pattern for {construct} and {outcome}."
        ),
    },
    "nl": {
        "one": "Log nog {days_needed} dag voor een eerste patroon in {construct} en {outcome}.",
        "other": "Log nog {days_needed} dagen voor een eerste patroon in {construct} en {outcome}.",
    },
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


# How an outcome is shown to the rep: stored value x scale, rounded to decimals. The sentence
# and the evidence panel both use this, so their figures are the same.
MONEY_OUTCOMES = frozenset({"deal_value"})  # stored in minor units of the rep's main currency
SHARE_OUTCOMES = frozenset({"qualified_share", "decision_maker_rate"})  # stored as 0..1
# Minor units of an insight stored before its currency was (2026-12-07), or of a code the
# table does not know: cents, as those insights were always shown.
DEFAULT_MINOR_UNIT_EXPONENT = 2


def outcome_unit(outcome: str) -> str:
    if outcome in MONEY_OUTCOMES:
        return "money"
    if outcome in SHARE_OUTCOMES:
        return "percent"
    return "number"


def outcome_decimals(outcome: str) -> int:
    return 1 if outcome_unit(outcome) == "number" else 0


def money_currency(params: dict[str, Any]) -> str | None:
    """The ISO 4217 code a money insight's figures are in; None for other outcomes, and for an
    insight stored before the currency was (or a hand-edited one without a code)."""
    currency = params.get("currency")
    if params.get("outcome") not in MONEY_OUTCOMES or not isinstance(currency, str):
        return None
    well_formed = len(currency) == 3 and currency.isascii() and currency.isalpha()
    return currency if well_formed and currency.isupper() else None


def minor_unit_exponent(currency: str | None) -> int:
    """10 ** exponent minor units make one unit of the currency (cents: 2, yen: 0, fils: 3)."""
    if currency is None:
        return DEFAULT_MINOR_UNIT_EXPONENT
    try:  # read when needed: the sales app is optional for the journal-only insights
        from apps.performance.currencies import MINOR_UNIT_EXPONENT
    except ImportError:
        return DEFAULT_MINOR_UNIT_EXPONENT
    return MINOR_UNIT_EXPONENT.get(currency, DEFAULT_MINOR_UNIT_EXPONENT)


def outcome_figure(value: float, outcome: str, currency: str | None = None) -> float:
    """A stored outcome value (or difference) in the units and precision the rep reads: money
    in units of ``currency`` (hundredths when it is not known), not minor units."""
    unit = outcome_unit(outcome)
    if unit == "money":
        scale = 10.0 ** -minor_unit_exponent(currency)
    else:
        scale = 100.0 if unit == "percent" else 1.0
    return round(value * scale, outcome_decimals(outcome)) + 0.0  # + 0.0 turns -0.0 into 0.0


_NL_SEPARATORS = str.maketrans(",.", ".,")


def format_number(value: float, decimals: int, locale: str) -> str:
    """Grouped, fixed decimals; Dutch uses a decimal comma and a dot for thousands, as Intl does."""
    text = f"{value:,.{decimals}f}"
    if text.startswith("-") and not any(digit in text for digit in "123456789"):
        text = text[1:]  # never "-0.0"
    return text.translate(_NL_SEPARATORS) if locale == "nl" else text


def format_money(value: float, decimals: int, locale: str, currency: str) -> str:
    """The ISO code and the amount, as the PWA's ``Intl.NumberFormat`` with ``currencyDisplay:
    "code"`` writes them: "EUR 1,235" and "-EUR 50" in English, "EUR 1.235" and "EUR -50" in
    Dutch, with a no-break space. A code, not a symbol: it reads the same in both languages
    and is never ambiguous ("$", "US$", "¥" and "JP¥" differ by language and by country)."""
    text = format_number(value, decimals, locale)
    if locale != "nl" and text.startswith("-"):
        return f"-{currency}\u00a0{text[1:]}"
    return f"{currency}\u00a0{text}"


def _number(value: float, locale: str, outcome: str, currency: str | None = None) -> str:
    figure = outcome_figure(value, outcome, currency)
    decimals = outcome_decimals(outcome)
    if currency is not None and outcome_unit(outcome) == "money":
        return format_money(figure, decimals, locale, currency)
    text = format_number(figure, decimals, locale)
    return f"{text}%" if outcome_unit(outcome) == "percent" else text


def _threshold(value: float, decimals: int, locale: str) -> str:
    """A threshold without needless zeros: 7 h, 6.5 h, a 3.5 rating, 30 minutes."""
    rounded = round(value, decimals)
    return format_number(rounded, 0 if rounded == int(rounded) else decimals, locale)


def message_params(
    *,
    factor: str,
    lag: int,
    outcome: str,
    threshold: float,
    finding: Any,
    currency: str | None = None,
) -> dict[str, Any]:
    """What the sentence needs, stored with the insight; a money finding also keeps the
    currency its minor units are in (the rep's main currency when it was found)."""
    params: dict[str, Any] = {
        "factor": factor,
        "lag": lag,
        "outcome": outcome,
        "threshold": threshold,
        "mean_high": finding.mean_high,
        "mean_low": finding.mean_low,
        "n_high": finding.n_high,
        "n_low": finding.n_low,
    }
    if outcome in MONEY_OUTCOMES and currency:
        params["currency"] = currency
    return params


def render(params: dict[str, Any], locale: str) -> str:
    locale = locale if locale in TEMPLATES else "en"
    threshold = float(params["threshold"])
    clock_minutes = round(threshold) % (24 * 60)
    clause_template = FACTOR_CLAUSES[locale].get(
        (params["factor"], int(params["lag"])), FACTOR_CLAUSES[locale][("energy_mean", 0)]
    )
    # Counts (drinks, meals, minutes) are whole; ratings and levels get one decimal.
    count_factors = ("drinks", "heavy_meals", "late_meal", "exercise_minutes")
    clause = clause_template.format(
        threshold=_threshold(threshold, 0 if params["factor"] in count_factors else 1, locale),
        threshold_hours=_threshold(round(threshold / 30) / 2, 1, locale),  # nearest half hour
        threshold_clock=f"{clock_minutes // 60:02d}:{clock_minutes % 60:02d}",
    )
    outcome = params["outcome"]
    currency = money_currency(params)
    return TEMPLATES[locale].format(
        clause=clause,
        outcome=OUTCOME_NAMES[locale][outcome],
        verb="waren" if outcome in NL_PLURAL_OUTCOMES else "was",
        mean_high=_number(float(params["mean_high"]), locale, outcome, currency),
        mean_low=_number(float(params["mean_low"]), locale, outcome, currency),
        n_high=params["n_high"],
        n_low=params["n_low"],
    )


def render_progress(construct: str, outcome: str, days_needed: int, locale: str) -> str:
    locale = locale if locale in PROGRESS_TEMPLATES else "en"
    form = "one" if days_needed == 1 else "other"
    return PROGRESS_TEMPLATES[locale][form].format(
        days_needed=days_needed,
        construct=CONSTRUCT_NAMES[locale].get(construct, construct),
        outcome=OUTCOME_NAMES[locale].get(outcome, outcome),
    )
