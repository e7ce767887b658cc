"""Synthetic sales-rep population with known ("planted") within-person effects.

Used by the engine tests (honesty proofs) and by ``benchmarks/insights.py``.  Pure numpy.

Every rep gets realistic nuisance structure that a naive analysis mistakes for effects:

* weekday rhythms shared by factors and outcomes (drinks peak Fri/Sat and are common on
  Sunday evenings, energy dips on Mondays -- so a naive test links drinks to next-day energy --;
  sleep is longer and bedtime later on weekend mornings, fewer calls on Mondays/Fridays, more
  exercise at weekends);
* a slow shared trend (a sinusoid with a 5-13 month period plus drift: a "stressful season"
  with more drinking, less sleep, less exercise, lower energy and fewer calls);
* AR(1) day-to-day autocorrelation in sleep, energy, activity balance and call volume;
* missing-not-at-random logging: energy is logged more on good days, drinks less on heavy
  days; each rep has their own logging discipline; work outcomes exist only on working days
  (weekends, holidays and a vacation fortnight are off);
* integer ratings (energy 1-10, sleep quality 1-5) and counts (drinks, calls), so ties abound.

Then a share of reps get exactly one planted *direct* effect (``EFFECT_KINDS``).  Factors of
different constructs are generated independently of each other (apart from the shared weekday
and trend patterns), and outcomes that are not planted are generated independently of every
factor (apart from those shared patterns).  So, for a rep, a finding is *true* exactly when its
factor is listed for its (construct, outcome) in ``Population.planted[rep]``, and its expected
direction is the listed sign.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from apps.insights.engine import FEATURES

FloatArray = NDArray[np.float64]

_ENERGY = ("energy_mean", "energy_morning", "energy_afternoon")
_SLEEP_SIGNS = {"sleep_minutes": 1, "sleep_quality": 1, "bedtime_minutes": -1}

#: kind -> {(construct, outcome): {factor: expected sign}}
EFFECT_KINDS: dict[str, dict[tuple[str, str], dict[str, int]]] = {
    "none": {},
    # 3+ drinks -> -1.5 energy the next day (2 drinks -> -0.5)
    "alcohol_energy": {("alcohol", o): {"drinks": -1} for o in _ENERGY},
    # +0.6 energy per extra hour of sleep (bedtime is later when sleep is shorter)
    "sleep_energy": {("sleep", o): dict(_SLEEP_SIGNS) for o in _ENERGY},
    # 20+ min exercise -> +0.7 energy the same day and +0.4 the next day
    "exercise_energy": {
        ("exercise", o): {"exercise_minutes": 1, "exercise_intensity": 1} for o in _ENERGY
    },
    # a late meal -> -1.0 morning energy the next day (afternoon unaffected)
    "late_meal_morning": {
        ("food", "energy_morning"): {"late_meal": -1},
        ("food", "energy_mean"): {"late_meal": -1},
    },
    # +1 energy point -> about +7 % calls (and so connected calls)
    "energy_work": {
        ("energy", "calls"): {"energy_mean": 1},
        ("energy", "connected_calls"): {"energy_mean": 1},
    },
    # +1 h sleep -> +10 points qualified-meeting probability
    "sleep_work": {
        ("sleep", "qualified_share"): dict(_SLEEP_SIGNS),
        ("sleep", "qualified_meetings"): dict(_SLEEP_SIGNS),
    },
}

DEFAULT_WEIGHTS: dict[str, float] = {
    "none": 0.50,
    "alcohol_energy": 0.12,
    "sleep_energy": 0.10,
    "exercise_energy": 0.10,
    "late_meal_morning": 0.06,
    "energy_work": 0.06,
    "sleep_work": 0.06,
}


@dataclass
class Population:
    features: FloatArray  # (n_reps, n_days, len(FEATURES))
    weekday: NDArray[np.int64]  # (n_reps, n_days)
    working_day: NDArray[np.bool_]  # (n_reps, n_days)
    kinds: list[str]
    planted: list[dict[tuple[str, str], dict[str, int]]]

    def is_true(self, rep: int, construct: str, outcome: str, factor: str) -> bool:
        return factor in self.planted[rep].get((construct, outcome), {})

    def expected_sign(self, rep: int, construct: str, outcome: str, factor: str) -> int:
        return self.planted[rep][(construct, outcome)][factor]


def _sigmoid(x: FloatArray) -> FloatArray:
    out: FloatArray = 1.0 / (1.0 + np.exp(-x))
    return out


def _ar1(rng: np.random.Generator, n_reps: int, n_days: int, phi: FloatArray) -> FloatArray:
    """Unit-variance AR(1) series per rep (phi per rep)."""
    eps = rng.standard_normal((n_reps, n_days))
    out = np.empty((n_reps, n_days))
    out[:, 0] = eps[:, 0]
    innov = np.sqrt(1.0 - phi**2)
    for d in range(1, n_days):
        out[:, d] = phi * out[:, d - 1] + innov * eps[:, d]
    return out


def generate_population(
    n_reps: int,
    n_days: int,
    seed: int,
    *,
    history_days: int | None = None,
    weights: dict[str, float] | None = None,
    effect_scale: float = 1.0,
) -> Population:
    """Generate ``n_reps`` reps x ``n_days`` days.

    ``history_days``: if given, every rep only has that many most recent days of data; older
    days are NaN padding (as for a rep who joined recently).  ``effect_scale`` multiplies all
    planted effect sizes (0 = a population with no effect at all, though kinds are still drawn).
    """
    rng = np.random.default_rng(seed)
    w = DEFAULT_WEIGHTS if weights is None else weights
    names = list(w)
    probs = np.array([w[k] for k in names], dtype=np.float64)
    probs /= probs.sum()
    kinds = [names[i] for i in rng.choice(len(names), size=n_reps, p=probs)]
    kind_arr = np.array(kinds)
    R, D = n_reps, n_days
    col = lambda k: kind_arr == k  # noqa: E731
    es = effect_scale

    t = np.arange(D, dtype=np.float64)
    start = rng.integers(0, 7, size=R)
    weekday = (start[:, None] + np.arange(D)[None, :]) % 7
    sat, sun = weekday == 5, weekday == 6
    fri, thu, mon = weekday == 4, weekday == 3, weekday == 0
    weekend = sat | sun

    # working days: Mon-Fri, minus 1.5 % random days off and a two-week vacation
    working = weekday < 5
    working &= rng.random((R, D)) > 0.015
    vac_start = rng.integers(0, max(D - 14, 1), size=R)
    in_vac = (t[None, :] >= vac_start[:, None]) & (t[None, :] < vac_start[:, None] + 14)
    working &= ~in_vac

    # slow shared trend: "stressful season", sinusoid (150-400 d period) plus drift, ~unit sd
    period = rng.uniform(150, 400, size=R)
    phase = rng.uniform(0, 2 * np.pi, size=R)
    drift = rng.normal(0, 0.5, size=R)
    season = np.sin(2 * np.pi * t[None, :] / period[:, None] + phase[:, None]) * 1.2
    season += drift[:, None] * (t[None, :] / max(D, 1) - 0.5)

    # ---- sleep construct -------------------------------------------------------------------
    sleep_mean = rng.normal(420, 25, size=R)
    sleep_dev = (
        45 * (weekend) - 15 * mon - 20 * season + 40 * _ar1(rng, R, D, np.full(R, 0.3))
    ).astype(np.float64)
    sleep = np.clip(np.round((sleep_mean[:, None] + sleep_dev) / 5) * 5, 180, 660)
    sleep_c = sleep - sleep_mean[:, None] - (45 * weekend - 15 * mon)  # own-rhythm-free part
    bedtime = (
        np.round(
            (
                300
                + 50 * (sat | sun)
                - 0.5 * (sleep - sleep_mean[:, None])
                + rng.normal(0, 20, (R, D))
            )
            / 5
        )
        * 5
    )
    quality = np.clip(
        np.round(3.2 + 0.015 * (sleep - sleep_mean[:, None]) + rng.normal(0, 0.8, (R, D))), 1, 5
    )

    # ---- alcohol ---------------------------------------------------------------------------
    drink_base = rng.uniform(0.15, 0.9, size=R)
    never = (rng.random(R) < 0.2) & ~col("alcohol_energy")
    drink_base[col("alcohol_energy")] = rng.uniform(0.5, 1.0, size=int(col("alcohol_energy").sum()))
    rate = (
        drink_base[:, None] * (1 + 2.0 * (fri | sat) + 1.2 * sun + 0.5 * thu) * np.exp(0.6 * season)
    )
    # gamma-Poisson (negative binomial) so that 3+ drink evenings happen
    drinks = rng.poisson(rate * rng.gamma(1.2, 1 / 1.2, size=(R, D))).astype(np.float64)
    drinks[never] = 0.0

    # ---- food --------------------------------------------------------------------------
    heavy = rng.poisson(0.35 + 0.3 * weekend, size=(R, D)).astype(np.float64)
    late_p = np.clip(rng.uniform(0.1, 0.35, size=R)[:, None] + 0.15 * (fri | sat), 0, 1)
    late = (rng.random((R, D)) < late_p).astype(np.float64)

    # ---- exercise ---------------------------------------------------------------------------
    ex_p = np.clip(
        rng.uniform(0.2, 0.55, size=R)[:, None] + 0.2 * weekend - 0.08 * season, 0.02, 0.95
    )
    exercised = rng.random((R, D)) < ex_p
    ex_min = np.where(exercised, np.round(rng.gamma(3.0, 15.0, size=(R, D)) / 5) * 5 + 5, 0.0)
    intensity = np.where(
        exercised, np.clip(np.round(1.5 + ex_min / 30 + rng.normal(0, 0.8, (R, D))), 1, 5), 0.0
    )

    # ---- activities -------------------------------------------------------------------------
    activity = np.round(0.5 * weekend + 0.8 * _ar1(rng, R, D, np.full(R, 0.5)), 1)

    # ---- energy (latent), with planted effects ---------------------------------------------
    e_phi = rng.uniform(0.2, 0.6, size=R)
    e_base = rng.normal(6.0, 0.6, size=R)
    energy = (
        e_base[:, None]
        - 0.7 * mon
        - 0.2 * fri
        + 0.2 * weekend
        - 0.6 * season
        + 0.9 * _ar1(rng, R, D, e_phi)
    )
    drinks_prev = np.zeros_like(drinks)
    drinks_prev[:, 1:] = drinks[:, :-1]
    late_prev = np.zeros_like(late)
    late_prev[:, 1:] = late[:, :-1]
    ex_prev = np.zeros_like(ex_min)
    ex_prev[:, 1:] = ex_min[:, :-1]
    k = col("alcohol_energy")[:, None]
    energy += es * k * (-1.5 * (drinks_prev >= 3) - 0.5 * (drinks_prev == 2))
    k = col("sleep_energy")[:, None]
    energy += es * k * 0.6 * sleep_c / 60.0
    k = col("exercise_energy")[:, None]
    energy += es * k * (0.7 * (ex_min >= 20) + 0.4 * (ex_prev >= 20))
    morning_extra = es * col("late_meal_morning")[:, None] * (-1.0 * late_prev)
    morning = np.clip(np.round(energy + morning_extra + rng.normal(0, 0.6, (R, D))), 1, 10)
    afternoon = np.clip(np.round(energy - 0.3 + rng.normal(0, 0.6, (R, D))), 1, 10)
    energy_mean = (morning + afternoon) / 2.0

    # ---- work outcomes (only working days) ------------------------------------------------
    calls_base = rng.uniform(20, 45, size=R)
    log_rate = (
        np.log(calls_base)[:, None]
        - 0.15 * mon
        - 0.2 * fri
        - 0.08 * season
        + 0.12 * _ar1(rng, R, D, np.full(R, 0.5))
    )
    k = col("energy_work")[:, None]
    log_rate = log_rate + es * k * 0.07 * (energy - e_base[:, None])
    calls = rng.poisson(np.exp(log_rate)).astype(np.float64)
    connected = rng.binomial(calls.astype(np.int64), rng.uniform(0.25, 0.5, size=R)[:, None])
    meet_rate = rng.uniform(1.5, 4.0, size=R)[:, None] * (
        1 + 0.25 * ((weekday >= 1) & (weekday <= 3))
    )
    meetings = rng.poisson(meet_rate * np.exp(-0.1 * season))
    q_p = (
        rng.uniform(0.3, 0.6, size=R)[:, None]
        + es * col("sleep_work")[:, None] * 0.10 * sleep_c / 60
    )
    qualified = rng.binomial(meetings, np.clip(q_p, 0.02, 0.98))
    dm = rng.binomial(meetings, rng.uniform(0.2, 0.5, size=R)[:, None])
    with np.errstate(invalid="ignore", divide="ignore"):
        q_share = np.where(meetings > 0, qualified / np.maximum(meetings, 1), np.nan)
        dm_rate = np.where(meetings > 0, dm / np.maximum(meetings, 1), np.nan)
    deal = np.where(
        rng.random((R, D)) < 0.12, np.round(rng.lognormal(8.5, 1.0, size=(R, D)), -1), 0.0
    )

    # ---- logging (missing not at random) ------------------------------------------------
    discipline = rng.uniform(0.6, 0.95, size=R)[:, None]
    logit = np.log(discipline / (1 - discipline))
    log_morning = rng.random((R, D)) < _sigmoid(logit)  # sleep record
    log_evening = rng.random((R, D)) < _sigmoid(logit - 0.25 * drinks)  # drinks/food/exercise
    good = (energy - e_base[:, None]) / 1.0
    log_energy = rng.random((R, D)) < _sigmoid(logit + 0.7 * good)  # good days logged more
    crm = working & (rng.random((R, D)) < 0.97)

    def masked(a: FloatArray, logged: NDArray[np.bool_]) -> FloatArray:
        return np.where(logged, a, np.nan)

    series = {
        "sleep_minutes": masked(sleep, log_morning),
        "bedtime_minutes": masked(bedtime, log_morning),
        "sleep_quality": masked(quality, log_morning),
        "drinks": masked(drinks, log_evening),
        "heavy_meals": masked(heavy, log_evening),
        "late_meal": masked(late, log_evening),
        "exercise_minutes": masked(ex_min, log_evening),
        "exercise_intensity": masked(intensity, log_evening),
        "activity_balance": masked(activity, log_evening),
        "energy_mean": masked(energy_mean, log_energy),
        "energy_morning": masked(morning, log_energy),
        "energy_afternoon": masked(afternoon, log_energy),
        "calls": masked(calls, crm),
        "connected_calls": masked(connected.astype(np.float64), crm),
        "meetings_held": masked(meetings.astype(np.float64), crm),
        "qualified_meetings": masked(qualified.astype(np.float64), crm),
        "qualified_share": masked(q_share, crm),
        "decision_maker_rate": masked(dm_rate, crm),
        "deal_value": masked(deal, crm),
    }
    features = np.empty((R, D, len(FEATURES)), dtype=np.float64)
    for j, name in enumerate(FEATURES):
        features[:, :, j] = series[name]
    if history_days is not None and history_days < D:
        features[:, : D - history_days, :] = np.nan
    planted = [EFFECT_KINDS[kd] for kd in kinds]
    return Population(features, weekday.astype(np.int64), working, kinds, planted)
