"""Within-person insight engine: honest lagged associations for many reps at once.

This module is pure numerical code.  It imports **only numpy, scipy and the standard
library** -- no Django, nothing from ``apps/`` -- so it can be tested, benchmarked and reasoned
about on its own.  The Django side maps its rows to the arrays described in :func:`run_engine`.

What the engine answers
=======================
"For this person, on days when a habit (factor) was high, was a work or energy outcome
different, beyond what their weekday rhythm and slow seasonal drift already explain?"
Every statistic is computed inside one rep's own history (within-person).  Only the resulting
z statistics of all reps are pooled, to estimate how many of them are noise (false-discovery
control); raw data are never pooled.

The maths, step by step (each step is a public, separately tested function)
===========================================================================
Notation: rep r, day d (index 0 = oldest), factor series x, outcome series y.

1. Pairing (:func:`pair_lagged`).  A factor on day ``d - lag`` is paired with an outcome on day
   ``d``, only for plausible lags (:data:`FACTOR_LAGS`): sleep is stored on the day the night
   *ends*, so last night's sleep -> today is lag 0; this evening's drinks / late meal ->
   tomorrow is lag 1; heavy meals and exercise -> today and tomorrow (lags 0 and 1); activity
   balance -> today (lag 0); energy -> today's work (lag 0, work outcomes only).  Work outcomes
   (:data:`WORK_OUTCOMES`) are used only on working days.  A day counts as *paired* when both
   values are present (finite, ``|v| <= MAX_ABS_VALUE``) and the weekday is valid.

2. Trend removal and rank scores (:func:`detrend`, :func:`residual_rank_scores`,
   :func:`rank_scores`).  Each series is first detrended on its own logged days (weekday +
   trend, see 3) and its residuals are replaced by mid-ranks scaled to (0, 1):
   ``u = (rank - 1/2) / n`` (ties share the average rank).  Ranking makes the association
   Spearman-type: robust to outliers, skewed counts and any monotone re-scaling.  Ranking
   *after* removing the weekday rhythm and trend matters: the ranks of a series dominated by a
   rhythm are a non-linear function of it that a later linear adjustment cannot fully remove
   (ranking first left a mean z of +0.13 for independent series sharing a rhythm and a trend).
   Done once per series and chunk, not once per pair.

3. Detrending on the paired days (:func:`detrend`).  For every pair, the two rank series (plus
   the raw outcome and the split indicator, see 6) are regressed on weekday dummies + one
   level and one linear slope per 28-day block (blocks counted back from the newest day; an
   oldest partial block shorter than 14 days is merged into its neighbour; a block with fewer
   than 3 paired days gets no slope).  This is the exact least-squares fit, solved per rep by
   eliminating each block's 2x2 (level, slope) system analytically and solving the remaining
   7x7 Schur complement for the weekday effects.  It removes each rep's weekday rhythm (Friday
   drinks, Monday dips) and slow trend (a stressful quarter, a season) from both series,
   exactly on the paired days, so by Frisch-Waugh-Lovell the correlation of the residuals is a
   partial correlation given weekday and trend.  It uses ``k = #weekdays + #blocks + #slopes - 1``
   parameters (present in the data); ``df = k - 1`` beyond the overall mean.  (The slopes are an
   addition to plain 4-week block dummies: with step-only blocks a smooth seasonal drift
   shared by a habit and an outcome left a measurable bias; ``block_slopes=False`` gives plain
   blocks.)

4. Association and effective sample size (:func:`association_from_residuals`,
   :func:`rank_association`, :func:`lag1_autocorrelation`, :func:`effective_sample_size`,
   :func:`fisher_z`).  ``rho = sum(ex*ey) / sqrt(sum(ex^2) * sum(ey^2))`` on the residuals.
   Daily series are autocorrelated, so ``n`` paired days carry less information than ``n``
   independent draws.  With ``r1x, r1y`` the lag-1 autocorrelations of the two residual series
   (from adjacent calendar days that are both paired), Bartlett's formula for two AR(1) series
   gives ``n_B = min(n, n (1 - r1x r1y) / (1 + r1x r1y))`` (product clipped to +-0.95); then
   ``n_eff = n_B - df``.  The test statistic is Fisher's ``z = atanh(rho) * sqrt(n_eff - 3)``
   (under independence var(r_s) = 1/(n - 1), so no Fieller 1.06 factor); tests show z is
   N(0, 1) for independent autocorrelated series sharing weekday rhythms and trends.  For the
   dose factors drinks and heavy meals (:attr:`SplitRule.test_on_split`, fixed in advance) x is
   the detrended split indicator (e.g. 3+ drinks) instead of the factor's ranks: the ranks of
   0/1/2 drinks would mostly add noise to a threshold effect (a rank-biserial association).

5. False-discovery control over *all* tests of the night (:func:`local_fdr`).  Efron's
   empirical-Bayes local false discovery rate on the pooled z values of every eligible test:

   * histogram of the z's (30-120 bins); the mixture density ``f`` is fitted by Poisson
     regression of the bin counts on a natural cubic spline with 7 degrees of freedom;
   * empirical null ``N(mu0, sigma0)`` by *central matching* (:func:`central_matching`): a
     quadratic fitted by Poisson regression to the log counts of the central 50 % of the z's
     gives ``mu0``, ``sigma0`` and ``pi0`` (the share of nulls; capped at 1).  ``sigma0`` is
     floored at 1: the per-rep z's are built to be N(0, 1) under the null, so a narrower fitted
     null can only be estimation noise and would be anti-conservative; a wider one (extra
     dispersion we did not model) is accepted and makes the engine more cautious;
   * ``lfdr(z) = min(1, pi0 f0(z) / f(z))``;
   * tail-area q-value of a test (:func:`tail_qvalues`) = mean lfdr of all tests at least as
     extreme on the same side of ``mu0`` (an estimate of the false-discovery rate of reporting
     that whole tail).  To guard against a poorly fitted far tail it is max-ed with the
     count-based estimate ``pi0 * N * P0(tail) / #(tail)``, then made monotone.  Left and right
     tails are handled separately (the union of two tails each at FDR <= q has FDR <= q);
   * the same tail-area q is then recomputed over the *candidate findings* (one per rep,
     construct and outcome; :func:`finding_qvalues`): several true tests collapse into one
     finding (3 sleep measures x energy) while a false finding is usually a lone test, so a
     test-level FDR understates the share of false findings.  The expected number of false
     findings beyond a point is at most the expected number of null tests there,
     ``pi0 * N * P0(tail)``, divided by the number of findings there.  A finding's q is the
     larger of the two; it is delivered when ``q <= q_threshold`` (default 0.10).
   * With fewer than :data:`MIN_TESTS_FOR_LFDR` (200) eligible tests the mixture cannot be
     estimated; the engine then falls back to Benjamini-Hochberg q-values on two-sided
     p-values from the theoretical N(0, 1) null (``pi0 = 1``: conservative), and the
     finding-level q is the same BH computation over the candidates.  The same fallback is
     used if the central-matching fit is degenerate.
   * Per-person guard (:func:`holm_within_rep`): a finding must also survive Holm's
     step-down test at :data:`REP_FAMILYWISE_ALPHA` (5 %) across that rep's ~125 tests.  A
     population FDR alone lets a night with many true findings spread false ones over people
     who have no pattern at all; Holm bounds, for such a person, the chance of receiving any
     finding by 5 %, whatever the rest of the population looks like.

6. Effect size in words (:func:`choose_split`, :func:`adjusted_difference`).  Each factor has a
   split rule (:data:`SPLIT_RULES`), e.g. ``drinks>=3`` vs fewer, ``sleep_minutes>=420`` vs
   less.  If the preferred threshold leaves fewer than ``min_per_group`` (8) paired days on a
   side, the most balanced of the rule's fallbacks is used.  The split is chosen from the factor
   values only (never from the outcome), so it cannot bias the test; it only describes it.  We
   report *raw* mean outcome in the high and low groups and their day counts.  The 95 %
   confidence interval is for the weekday/trend-*adjusted* difference high - low: the
   Frisch-Waugh-Lovell slope of the detrended outcome on the detrended high-indicator,
   ``b = sum(h~ y~) / sum(h~^2)``, with normal-approximation standard error
   ``sqrt(s^2 / sum(h~^2))`` inflated by the Bartlett factor ``sqrt((1 + a)/(1 - a))``,
   ``a = r1(h~) r1(e)`` (no bootstrap).

7. Findings (:func:`candidate_findings`, :func:`select_findings`).  A test is *eligible*
   when it has at least ``min_total`` (30) paired days, at least ``min_per_group`` (8) days on
   each side of the split, non-constant residuals and ``n_eff > 5``.  It becomes a finding
   when additionally ``q <= q_threshold``, it survives the per-rep Holm guard, and the
   directions of rho, the adjusted difference and the raw difference of means all agree (so
   the sentence we show never contradicts the statistic).  Per rep, only the strongest
   (largest |z|) finding per (construct, outcome) is kept (:data:`CONSTRUCTS`: the three
   sleep measures are one construct "sleep", etc.).

8. Progress (:class:`Progress`).  For every rep, construct and outcome: the most paired days of
   any test in the construct, and how many more paired days (at least) are needed before a
   first finding *can* be produced: ``max(min_total - n, days for the smaller split group to
   reach min_per_group at the rep's current rate)``; when the smaller group has not occurred
   on the paired days the strict lower bound ``min_per_group - n_small`` is used.
   0 means the minimums are met (it does not promise a finding).  No record is made for a
   group that more logging cannot unlock: its outcome has no data at all, or every factor of
   the construct has been logged on ``min_total`` days or more and its split has never had
   both groups (a rep who logs drinks but never drinks) (:func:`unlockable_pairs`).

Vectorisation and memory: all statistics are computed for a chunk of reps at once with array
operations (one Python iteration per *pair*, never per rep x pair).  Pass 1
(:func:`compute_table`) walks the reps in chunks and keeps only per-test summaries; pass 2 runs
the local fdr over all z's; pass 3 computes the adjusted difference and CI for the candidate
findings only (:func:`candidate_findings`, :func:`fill_differences`: every statistic is per
rep, so this equals a full pass) and builds findings and progress.  Every float returned is
finite.

Limits: associations are not causes (a habit and an outcome can share a cause that is not a
weekday or slow-trend pattern, e.g. a stressful week); a factor that changes energy will often
also change work outcomes (mediation), and both may be reported; confounders that change
within a 4-week block in a non-linear way are not removed; with few days the method is
deliberately silent.  See docs/insights.md for measured error rates and recall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from scipy import special

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------

FACTORS: tuple[str, ...] = (
    "sleep_minutes",
    "bedtime_minutes",
    "sleep_quality",
    "drinks",
    "heavy_meals",
    "late_meal",
    "exercise_minutes",
    "exercise_intensity",
    "activity_balance",
    "energy_mean",
)
OUTCOMES: tuple[str, ...] = (
    "energy_mean",
    "energy_morning",
    "energy_afternoon",
    "calls",
    "connected_calls",
    "meetings_held",
    "qualified_meetings",
    "qualified_share",
    "decision_maker_rate",
    "deal_value",
)
#: Union of factors and outcomes in a fixed order (``energy_mean`` appears once).
FEATURES: tuple[str, ...] = FACTORS + tuple(o for o in OUTCOMES if o not in FACTORS)
ENERGY_OUTCOMES: tuple[str, ...] = ("energy_mean", "energy_morning", "energy_afternoon")
#: Sales outcomes: evaluated only on working days.
WORK_OUTCOMES: tuple[str, ...] = tuple(o for o in OUTCOMES if o not in ENERGY_OUTCOMES)
CONSTRUCTS: dict[str, str] = {
    "sleep_minutes": "sleep",
    "bedtime_minutes": "sleep",
    "sleep_quality": "sleep",
    "drinks": "alcohol",
    "heavy_meals": "food",
    "late_meal": "food",
    "exercise_minutes": "exercise",
    "exercise_intensity": "exercise",
    "activity_balance": "activities",
    "energy_mean": "energy",
}
#: Plausible lags (days between factor and outcome) per factor.
FACTOR_LAGS: dict[str, tuple[int, ...]] = {
    "sleep_minutes": (0,),
    "bedtime_minutes": (0,),
    "sleep_quality": (0,),
    "drinks": (1,),
    "heavy_meals": (0, 1),
    "late_meal": (1,),
    "exercise_minutes": (0, 1),
    "exercise_intensity": (0, 1),
    "activity_balance": (0,),
    "energy_mean": (0,),
}

BLOCK_DAYS: Final = 28
MIN_TESTS_FOR_LFDR: Final = 200
#: Values with a larger magnitude are treated as missing (no real measurement is that large,
#: and it keeps every sum finite).
MAX_ABS_VALUE: Final = 1e12
MIN_N_EFF: Final = 5.0
#: Per-rep familywise error rate (Holm) every finding must also survive.
REP_FAMILYWISE_ALPHA: Final = 0.05
Z_95: Final = 1.959963984540054
_RHO_CLIP: Final = 1.0 - 1e-9
_AUTOCORR_CLIP: Final = 0.95


@dataclass(frozen=True, slots=True)
class SplitRule:
    """How a factor's days are split into a "high" and a "low" group for the message.

    ``preferred`` is used when it leaves ``min_per_group`` days on both sides; otherwise the
    most balanced valid option among ``fallbacks`` (and, if ``balanced``, the rep's own median
    split) is used.  High always means ``factor >= threshold``.

    ``test_on_split``: the association is tested on the split indicator instead of the
    factor's ranks (for dose factors whose effect is expected above a threshold, e.g. 3+
    drinks: the ranks of 0, 1 and 2 drinks would mostly add noise).  Chosen per factor in
    advance, never from the data.
    """

    preferred: float | None
    fallbacks: tuple[float, ...]
    balanced: bool
    description: str
    test_on_split: bool = False


SPLIT_RULES: dict[str, SplitRule] = {
    "sleep_minutes": SplitRule(
        420.0, (), True, "slept 7 h (420 min) or more vs less; else the rep's median"
    ),
    "bedtime_minutes": SplitRule(
        None, (), True, "bedtime at/after the rep's median (later) vs before"
    ),
    "sleep_quality": SplitRule(None, (), True, "quality at/above the rep's median vs below"),
    "drinks": SplitRule(
        3.0, (2.0, 1.0), False, "3+ drinks vs fewer; else 2+, else any", test_on_split=True
    ),
    "heavy_meals": SplitRule(
        1.0, (2.0,), False, "any heavy meal vs none; else 2+", test_on_split=True
    ),
    "late_meal": SplitRule(1.0, (), False, "late meal (1) vs none (0)"),
    "exercise_minutes": SplitRule(
        30.0, (1.0, 15.0, 45.0, 60.0), True, "30+ min vs less; else the most balanced cut"
    ),
    "exercise_intensity": SplitRule(None, (), True, "intensity at/above the rep's median vs below"),
    "activity_balance": SplitRule(None, (), True, "balance at/above the rep's median vs below"),
    "energy_mean": SplitRule(None, (), True, "energy at/above the rep's median vs below"),
}


@dataclass(frozen=True, slots=True)
class PairSpec:
    """One (factor, lag, outcome) test run for every rep."""

    factor: str
    outcome: str
    lag: int
    construct: str
    work: bool


def _build_pairs() -> tuple[PairSpec, ...]:
    pairs: list[PairSpec] = []
    for factor in FACTORS:
        outcomes = WORK_OUTCOMES if factor == "energy_mean" else OUTCOMES
        for lag in FACTOR_LAGS[factor]:
            for outcome in outcomes:
                pairs.append(
                    PairSpec(factor, outcome, lag, CONSTRUCTS[factor], outcome in WORK_OUTCOMES)
                )
    return tuple(pairs)


#: Every test run per rep (127 with the vocabulary above).
PAIRS: tuple[PairSpec, ...] = _build_pairs()


def _build_groups() -> tuple[tuple[tuple[str, str], tuple[int, ...]], ...]:
    groups: dict[tuple[str, str], list[int]] = {}
    for i, pair in enumerate(PAIRS):
        groups.setdefault((pair.construct, pair.outcome), []).append(i)
    return tuple((key, tuple(cols)) for key, cols in groups.items())


def _build_factor_lag_columns() -> tuple[list[int], ...]:
    cols: dict[tuple[str, int], list[int]] = {}
    for i, pair in enumerate(PAIRS):
        cols.setdefault((pair.factor, pair.lag), []).append(i)
    return tuple(cols.values())


_FACTOR_LAG_COLUMNS = _build_factor_lag_columns()

#: (construct, outcome) -> indices into :data:`PAIRS`; one finding at most per group.
GROUPS: tuple[tuple[tuple[str, str], tuple[int, ...]], ...] = _build_groups()


# --------------------------------------------------------------------------------------------
# Public result types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finding:
    rep_index: int
    factor: str
    construct: str
    outcome: str
    lag: int
    direction: int
    rho: float
    z: float
    q_value: float
    n_eff: float
    n_high: int
    n_low: int
    mean_high: float
    mean_low: float
    diff_low_ci: float
    diff_high_ci: float
    split_label: str
    threshold: float


@dataclass(frozen=True, slots=True)
class Progress:
    rep_index: int
    construct: str
    outcome: str
    days_logged: int
    days_needed: int


@dataclass(frozen=True, slots=True)
class EngineResult:
    findings: list[Finding]
    progress: list[Progress]
    n_tests: int
    pi0: float
    null_mu: float
    null_sigma: float


# --------------------------------------------------------------------------------------------
# Step 1: pairing
# --------------------------------------------------------------------------------------------


def lag_shift(
    values: NDArray[np.generic],
    lag: int,
    fill: float | bool = np.nan,
    out: NDArray[Any] | None = None,
) -> NDArray[Any]:
    """Return ``out[..., d] = values[..., d - lag]`` along the last (day) axis.

    The first ``lag`` days are ``fill`` (NaN for floats, ``False`` for masks).  Without ``out``,
    ``lag == 0`` returns the input itself (no copy).
    """
    if lag < 0:
        raise ValueError("lag must be >= 0")
    arr = np.asarray(values)
    if out is None:
        if lag == 0:
            return arr
        out = np.empty(arr.shape, dtype=arr.dtype)
    if lag == 0:
        out[...] = arr
        return out
    n_days = arr.shape[-1]
    k = min(lag, n_days)
    out[..., :k] = fill
    if lag < n_days:
        out[..., lag:] = arr[..., : n_days - lag]
    return out


def valid_values(values: FloatArray) -> BoolArray:
    """True where a value is usable: finite and ``|v| <= MAX_ABS_VALUE``."""
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        out: BoolArray = np.isfinite(v) & (np.abs(v) <= MAX_ABS_VALUE)
    return out


def pair_lagged(
    factor: FloatArray,
    outcome: FloatArray,
    lag: int,
    valid_days: BoolArray | None = None,
    *,
    factor_valid: BoolArray | None = None,
    outcome_valid: BoolArray | None = None,
    out: tuple[FloatArray, BoolArray] | None = None,
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Pair the factor on day ``d - lag`` with the outcome on day ``d``.

    ``factor``, ``outcome``: ``(n_reps, n_days)``, NaN = missing.  ``valid_days`` (optional,
    same shape) restricts the outcome day, e.g. to working days.  ``factor_valid`` /
    ``outcome_valid`` may pass precomputed validity masks (then the values may hold anything,
    e.g. 0, where invalid).  Returns ``(x, y, mask)``: the shifted factor, the outcome and the
    mask of paired days (both values usable and the outcome day valid).  ``out`` may give
    preallocated buffers for the shifted factor and the mask.
    """
    f = np.asarray(factor, dtype=np.float64)
    y = np.asarray(outcome, dtype=np.float64)
    fv = valid_values(f) if factor_valid is None else np.asarray(factor_valid, dtype=bool)
    yv = valid_values(y) if outcome_valid is None else np.asarray(outcome_valid, dtype=bool)
    x = lag_shift(f, lag, np.nan, out=None if out is None else out[0])
    shifted_valid = lag_shift(fv, lag, False)
    mask = np.logical_and(shifted_valid, yv, out=None if out is None else out[1])
    if valid_days is not None:
        mask &= np.asarray(valid_days, dtype=bool)
    return x, y, mask


# --------------------------------------------------------------------------------------------
# Step 2: rank scores
# --------------------------------------------------------------------------------------------


def rank_scores(values: FloatArray, valid: BoolArray | None = None) -> FloatArray:
    """Row-wise mid-ranks over the valid entries, scaled to (0, 1): ``(rank - 0.5) / n``.

    ``values`` is ``(n_reps, n_days)``.  Entries that are not usable (see :func:`valid_values`)
    or not ``valid`` get NaN.  Ties share their average rank.  Implementation: each float is
    mapped to an order-preserving int64 whose lowest ``ceil(log2 n_days)`` bits are replaced by
    the day index, and each row is sorted once (values agreeing to ~1e-12 relative count as
    ties) -- several times faster than ``argsort``.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError("values must be 2-D (n_reps, n_days)")
    ok = valid_values(v)
    if valid is not None:
        ok &= np.asarray(valid, dtype=bool)
    n_reps, n_days = v.shape
    out = np.full((n_reps, n_days), np.nan, dtype=np.float64)
    if n_reps == 0 or n_days == 0:
        return out
    bits = max(1, (n_days - 1).bit_length())
    low_mask = np.int64((1 << bits) - 1)
    w = np.where(ok, v + 0.0, np.inf)  # + 0.0 turns -0.0 into 0.0
    key = w.view(np.int64)
    key ^= (key >> np.int64(63)) & np.int64(0x7FFFFFFFFFFFFFFF)
    key &= ~low_mask
    key |= np.arange(n_days, dtype=np.int64)
    key.sort(axis=1)
    order = key & low_mask
    sorted_vals = key >> np.int64(bits)
    new = np.ones((n_reps, n_days), dtype=bool)
    new[:, 1:] = sorted_vals[:, 1:] != sorted_vals[:, :-1]
    last = np.ones((n_reps, n_days), dtype=bool)
    last[:, :-1] = new[:, 1:]
    idx = np.arange(n_days, dtype=np.int64)
    start = np.maximum.accumulate(np.where(new, idx, 0), axis=1)
    end = np.minimum.accumulate(np.where(last, idx, n_days)[:, ::-1], axis=1)[:, ::-1]
    mid = (start + end) * 0.5 + 0.5  # average 1-based rank minus 0.5
    ranks = np.empty((n_reps, n_days), dtype=np.float64)
    np.put_along_axis(ranks, order, mid, axis=1)
    n = ok.sum(axis=1)
    scale = 1.0 / np.maximum(n, 1)
    np.multiply(ranks, scale[:, None], out=ranks)
    out[ok] = ranks[ok]
    return out


# --------------------------------------------------------------------------------------------
# Step 3: detrending (weekday + 28-day blocks)
# --------------------------------------------------------------------------------------------


def block_index(n_days: int, block_days: int = BLOCK_DAYS) -> IntArray:
    """Block id per day: blocks of ``block_days`` counted back from the newest day (id 0).

    An oldest partial block shorter than ``block_days / 2`` is merged into the next block.
    """
    if block_days < 1:
        raise ValueError("block_days must be >= 1")
    d = np.arange(n_days, dtype=np.int64)
    blk = (n_days - 1 - d) // block_days
    n_full = n_days // block_days
    rem = n_days % block_days
    if n_full >= 1 and 0 < rem < block_days / 2:
        blk = np.minimum(blk, n_full - 1)
    return blk


@dataclass(frozen=True, slots=True)
class DetrendDesign:
    """Weekday/block layout of a batch of reps, reusable across many :func:`detrend` calls."""

    weekday: IntArray  # (n_reps, n_days), invalid entries replaced by 0
    weekday_ok: BoolArray  # (n_reps, n_days): weekday was a valid 0..6 value
    block: IntArray  # (n_days,)
    n_blocks: int
    cell: IntArray  # (n_reps * n_days,) rep * 7 * n_blocks + weekday * n_blocks + block
    position: FloatArray  # (n_days,) day position within its block, centred, in block lengths
    segment_starts: IntArray  # first day of each block, in day order (blocks are contiguous)
    segment_block: IntArray  # block id of each segment
    segment_length: IntArray  # days in each segment


def detrend_design(
    weekday: NDArray[np.generic], n_reps: int, n_days: int, block_days: int = BLOCK_DAYS
) -> DetrendDesign:
    """Build the design for :func:`detrend`.  ``weekday`` is ``(n_days,)`` or
    ``(n_reps, n_days)``, 0 = Monday .. 6 = Sunday; any other value makes the day unusable."""
    wd_raw = np.asarray(weekday)
    if wd_raw.ndim == 1:
        wd_raw = np.broadcast_to(wd_raw, (n_reps, wd_raw.shape[0]))
    if wd_raw.shape != (n_reps, n_days):
        raise ValueError(f"weekday has shape {wd_raw.shape}, expected {(n_reps, n_days)}")
    wd_f = wd_raw.astype(np.float64)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(wd_f) & (wd_f >= 0) & (wd_f <= 6) & (wd_f == np.round(wd_f))
    wd = np.where(ok, wd_f, 0.0).astype(np.int64)
    blk = block_index(n_days, block_days)
    n_blocks = int(blk.max()) + 1 if n_days > 0 else 1
    rows = np.arange(n_reps, dtype=np.int64)[:, None]
    cell = (rows * (7 * n_blocks) + wd * n_blocks + blk[None, :]).ravel()
    position = np.zeros(n_days, dtype=np.float64)
    if n_days > 0:
        d = np.arange(n_days, dtype=np.float64)
        centre = np.bincount(blk, weights=d) / np.maximum(np.bincount(blk), 1)
        position = (d - centre[blk]) / float(block_days)
    starts = np.zeros(0, dtype=np.int64)
    if n_days > 0:
        starts = np.concatenate([[0], np.nonzero(np.diff(blk))[0] + 1]).astype(np.int64)
    lengths = np.diff(np.append(starts, n_days)).astype(np.int64)
    return DetrendDesign(
        wd, ok, blk, n_blocks, cell, position, starts, blk[starts] if n_days else starts, lengths
    )


def detrend(
    values: FloatArray,
    mask: BoolArray,
    weekday: NDArray[np.generic] | DetrendDesign,
    *,
    block_days: int = BLOCK_DAYS,
    zero_outside: bool = False,
    block_slopes: bool = True,
    out: FloatArray | None = None,
    work: FloatArray | None = None,
) -> tuple[FloatArray, IntArray]:
    """Regress weekday dummies + 28-day block levels (+ block slopes) out of each rep's series.

    The fit uses only the masked days.  ``values``: ``(n_reps, n_days)`` or
    ``(n_series, n_reps, n_days)`` (several series sharing one mask are detrended together).
    ``zero_outside=True`` promises that ``values`` are 0 outside the mask (skips a masking
    pass).  ``block_slopes`` adds one linear slope per block with at least 3 masked days
    (default; ``False`` = plain block dummies).  ``out`` (residuals, same shape as ``values``)
    and ``work`` (``n_reps * n_days`` floats) are optional preallocated buffers.
    Returns ``(residuals, df)``: residuals of the same shape, exactly 0 outside the mask, and
    per rep ``df = #weekdays + #blocks + #slopes - 2`` present, i.e. the parameters used beyond
    the overall mean (never more than the days available).  Exact OLS: each block's 2x2
    (level, slope) system is eliminated analytically and the 7x7 Schur complement solved for
    the weekday effects; a rank-one term and a tiny ridge only pin the unidentified
    directions, which do not change the fitted values.
    """
    v = np.asarray(values, dtype=np.float64)
    single = v.ndim == 2
    if single:
        v = v[None]
    if v.ndim != 3:
        raise ValueError("values must be (n_reps, n_days) or (n_series, n_reps, n_days)")
    n_series, n_reps, n_days = v.shape
    if n_reps == 0 or n_days == 0:
        empty = np.zeros(v.shape, dtype=np.float64)
        return (empty[0] if single else empty), np.zeros(n_reps, dtype=np.int64)
    design = (
        weekday
        if isinstance(weekday, DetrendDesign)
        else detrend_design(weekday, n_reps, n_days, block_days)
    )
    m = np.asarray(mask, dtype=bool)
    if not zero_outside or not design.weekday_ok.all():
        m = m & design.weekday_ok
        v = np.where(m[None], v, 0.0)
    mf = m.astype(np.float64)
    nb = design.n_blocks
    n_cells = 7 * nb
    size = n_reps * n_cells
    u = design.position
    mfu = mf * u
    cnt = np.bincount(design.cell, weights=mf.ravel(), minlength=size).reshape(n_reps, 7, nb)
    sums = np.empty((n_series, n_reps, 7, nb), dtype=np.float64)
    for k in range(n_series):
        sums[k] = np.bincount(design.cell, weights=v[k].ravel(), minlength=size).reshape(
            n_reps, 7, nb
        )
    n_w = cnt.sum(axis=2)  # (R, 7)
    n_b = cnt.sum(axis=1)  # (R, nb)
    s_w = sums.sum(axis=3).transpose(1, 2, 0)  # (R, 7, K) weekday sums
    t_b = sums.sum(axis=2).transpose(1, 2, 0)  # (R, nb, K) block sums
    # per block: [[n_b, U_b], [U_b, Q_b]] for (level, slope); inverted analytically
    if block_slopes:
        u_cell = np.bincount(design.cell, weights=mfu.ravel(), minlength=size).reshape(
            n_reps, 7, nb
        )
        # blocks are contiguous runs of days: per-block sums by one reduceat pass
        seg, seg_blk = design.segment_starts, design.segment_block
        q_b = np.zeros((n_reps, nb), dtype=np.float64)
        q_b[:, seg_blk] = np.add.reduceat(mfu * u, seg, axis=1)  # sum of m u^2
        p_b = np.zeros((n_reps, nb, n_series), dtype=np.float64)
        for k in range(n_series):
            p_b[:, seg_blk, k] = np.add.reduceat(v[k] * u, seg, axis=1)  # sum of v u
        u_b = u_cell.sum(axis=1)
        det = n_b * q_b - u_b * u_b
        slope = (n_b >= 3) & (det > 1e-9 * (1.0 + n_b * q_b))
        safe = np.where(slope, det, 1.0)
        inv_n = np.divide(1.0, n_b, out=np.zeros_like(n_b), where=n_b > 0)
        a11 = np.where(slope, q_b / safe, inv_n)
        a12 = np.where(slope, -u_b / safe, 0.0)
        a22 = np.where(slope, n_b / safe, 0.0)
    else:
        u_cell = np.zeros_like(cnt)
        p_b = np.zeros((n_reps, nb, n_series), dtype=np.float64)
        slope = np.zeros((n_reps, nb), dtype=bool)
        a11 = np.divide(1.0, n_b, out=np.zeros_like(n_b), where=n_b > 0)
        a12 = np.zeros_like(n_b)
        a22 = np.zeros_like(n_b)
    # Schur complement for the weekday effects a:
    #   M = diag(n_w) - sum_b G_b B_b^-1 G_b',  G_b = [N[:, b], U[:, b]]
    na = cnt * a11[:, None, :] + u_cell * a12[:, None, :]  # (R, 7, nb)
    ua = cnt * a12[:, None, :] + u_cell * a22[:, None, :]
    mat = -(np.matmul(na, cnt.transpose(0, 2, 1)) + np.matmul(ua, u_cell.transpose(0, 2, 1)))
    diag = np.arange(7)
    mat[:, diag, diag] += n_w
    rhs = s_w - np.matmul(na, t_b) - np.matmul(ua, p_b)
    present = n_w > 0
    pf = present.astype(np.float64)
    mat += pf[:, :, None] * pf[:, None, :]  # pins sum(a) = 0 over the present weekdays
    ridge = (~present).astype(np.float64) + 1e-9 * (1.0 + n_w.max(axis=1))[:, None]
    mat[:, diag, diag] += ridge
    a = np.linalg.solve(mat, rhs)  # (R, 7, K) weekday effects
    r_t = t_b - np.matmul(cnt.transpose(0, 2, 1), a)  # (R, nb, K)
    r_p = p_b - np.matmul(u_cell.transpose(0, 2, 1), a)
    c = a11[:, :, None] * r_t + a12[:, :, None] * r_p  # block levels
    sl = a12[:, :, None] * r_t + a22[:, :, None] * r_p  # block slopes
    resid = np.empty_like(v) if out is None else out.reshape(v.shape)
    fitted = np.empty(n_reps * n_days, dtype=np.float64) if work is None else work
    for k in range(n_series):
        cell_fit = (a[:, :, None, k] + c[:, None, :, k]).ravel()  # (R * 7 * nb,)
        np.take(cell_fit, design.cell, out=fitted)
        np.subtract(v[k], fitted.reshape(n_reps, n_days), out=resid[k])
        if block_slopes:
            slope_fit = fitted.reshape(n_reps, n_days)
            slope_fit[...] = np.repeat(sl[:, seg_blk, k], design.segment_length, axis=1)
            slope_fit *= u
            resid[k] -= slope_fit
        resid[k] *= mf
    k_params = present.sum(axis=1) + (n_b > 0).sum(axis=1) + slope.sum(axis=1) - 1
    n_obs = cnt.sum(axis=(1, 2))
    # (a design can never use more parameters than it has days)
    df = np.maximum(np.minimum(k_params, n_obs) - 1, 0).astype(np.int64)
    return (resid[0] if single else resid), df


# --------------------------------------------------------------------------------------------
# Step 4: association, autocorrelation, effective sample size
# --------------------------------------------------------------------------------------------


def _lag1(e: FloatArray, n: IntArray, n_adj: IntArray) -> FloatArray:
    """Lag-1 autocorrelation of series that are exactly 0 outside their mask."""
    r1 = np.zeros(e.shape[0], dtype=np.float64)
    if e.shape[1] < 2:
        return r1
    num = np.einsum("ij,ij->i", e[:, 1:], e[:, :-1])
    den = np.einsum("ij,ij->i", e, e)
    ok = (n_adj > 0) & (den > 0)
    r1[ok] = (num[ok] / n_adj[ok]) / (den[ok] / n[ok])
    return np.clip(r1, -0.99, 0.99)


def _adjacent_pairs(mask: BoolArray) -> IntArray:
    out: IntArray = np.zeros(mask.shape[0], dtype=np.int64)
    if mask.shape[1] >= 2:
        out[:] = np.count_nonzero(mask[:, 1:] & mask[:, :-1], axis=1)
    return out


def lag1_autocorrelation(resid: FloatArray, mask: BoolArray) -> FloatArray:
    """Lag-1 autocorrelation per rep from adjacent calendar days that are both in ``mask``.

    ``r1 = mean(e_d e_{d+1} over adjacent pairs) / mean(e_d^2)``; 0 when undefined; clipped to
    [-0.99, 0.99].  ``resid`` is assumed centred (detrended residuals are).
    """
    m = np.asarray(mask, dtype=bool)
    e = np.where(m, resid, 0.0)
    return _lag1(e, np.count_nonzero(m, axis=1).astype(np.int64), _adjacent_pairs(m))


def bartlett_n(n: NDArray[np.generic], r1x: FloatArray, r1y: FloatArray) -> FloatArray:
    """Bartlett's effective n for the correlation of two AR(1)-like series, capped to n."""
    nn = np.asarray(n, dtype=np.float64)
    p = np.clip(r1x * r1y, -_AUTOCORR_CLIP, _AUTOCORR_CLIP)
    out: FloatArray = np.minimum(nn, nn * (1.0 - p) / (1.0 + p))
    return out


def effective_sample_size(
    n: NDArray[np.generic], r1x: FloatArray, r1y: FloatArray, df: NDArray[np.generic]
) -> FloatArray:
    """``n_eff = min(n, n (1 - r1x r1y) / (1 + r1x r1y)) - df`` (never below 0)."""
    out: FloatArray = np.maximum(bartlett_n(n, r1x, r1y) - np.asarray(df, dtype=np.float64), 0.0)
    return out


def fisher_z(rho: FloatArray, n_eff: FloatArray) -> FloatArray:
    """``z = atanh(rho) * sqrt(n_eff - 3)``; 0 when ``n_eff <= 3``.

    Under independence ``var(r_s) = 1/(n - 1)`` exactly, so no Fieller 1.06 factor is applied
    (that factor describes the spread under a non-zero correlation).
    """
    r = np.clip(np.asarray(rho, dtype=np.float64), -_RHO_CLIP, _RHO_CLIP)
    scale = np.sqrt(np.maximum(np.asarray(n_eff, dtype=np.float64) - 3.0, 0.0))
    out: FloatArray = np.arctanh(r) * scale
    return out


@dataclass(frozen=True, slots=True)
class Association:
    """Per-rep association statistics of one (factor, outcome) pair; arrays of shape (n_reps,)."""

    rho: FloatArray
    n: IntArray
    r1x: FloatArray
    r1y: FloatArray
    df: IntArray
    n_bartlett: FloatArray
    n_eff: FloatArray
    z: FloatArray
    valid: BoolArray  # both residual series non-constant


def association_from_residuals(
    ex: FloatArray,
    ey: FloatArray,
    mask: BoolArray,
    df: IntArray,
    *,
    n: IntArray | None = None,
    n_adj: IntArray | None = None,
) -> Association:
    """Correlation of two detrended series (0 outside ``mask``) and its autocorrelation-aware z.

    ``n`` / ``n_adj`` (paired days / adjacent paired-day pairs) may be passed precomputed.
    """
    m = np.asarray(mask, dtype=bool)
    nn = np.count_nonzero(m, axis=1).astype(np.int64) if n is None else n
    na = _adjacent_pairs(m) if n_adj is None else n_adj
    sxy = np.einsum("ij,ij->i", ex, ey)
    sxx = np.einsum("ij,ij->i", ex, ex)
    syy = np.einsum("ij,ij->i", ey, ey)
    # residual sums of squares this small are rounding noise: treat the series as constant
    valid = (sxx > 1e-20) & (syy > 1e-20) & (nn > 3)
    rho = np.zeros(ex.shape[0], dtype=np.float64)
    rho[valid] = sxy[valid] / np.sqrt(sxx[valid] * syy[valid])
    rho = np.clip(rho, -1.0, 1.0)
    r1x = _lag1(ex, nn, na)
    r1y = _lag1(ey, nn, na)
    nb = bartlett_n(nn, r1x, r1y)
    n_eff = np.maximum(nb - df, 0.0)
    z = np.where(valid, fisher_z(rho, n_eff), 0.0)
    return Association(rho, nn, r1x, r1y, df, nb, n_eff, z, valid)


def residual_rank_scores(
    values: FloatArray,
    valid: BoolArray,
    weekday: NDArray[np.generic] | DetrendDesign,
    *,
    block_days: int = BLOCK_DAYS,
) -> FloatArray:
    """Remove one series' weekday pattern and trend, then rank the residuals.

    ``values`` (n_reps, n_days) are detrended (:func:`detrend`) on their own ``valid`` days;
    the residuals are turned into :func:`rank_scores` (NaN outside ``valid``).  Ranking *after*
    detrending matters: ranks of a series dominated by a weekday rhythm or a trend are a
    non-linear function of it, which a later linear detrend can no longer remove.
    """
    m = np.asarray(valid, dtype=bool) & valid_values(values)
    resid, _ = detrend(np.where(m, values, 0.0), m, weekday, block_days=block_days)
    return rank_scores(resid, m)


def rank_association(
    x: FloatArray,
    y: FloatArray,
    mask: BoolArray,
    weekday: NDArray[np.generic] | DetrendDesign,
    *,
    block_days: int = BLOCK_DAYS,
) -> Association:
    """Spearman-type association of x and y on the masked days, per rep.

    Each series: detrend, rank the residuals (:func:`residual_rank_scores`); then the two rank
    series are detrended again on the paired days (exact orthogonality to weekday and trend,
    df accounting), correlated, and tested with the Bartlett effective sample size minus the
    detrending df (Fisher z).  (The engine detrends and ranks each series once over all its
    logged days rather than over the paired days only; same maths.)
    """
    m = np.asarray(mask, dtype=bool)
    xs = residual_rank_scores(x, m, weekday, block_days=block_days)
    ys = residual_rank_scores(y, m, weekday, block_days=block_days)
    m = m & np.isfinite(xs) & np.isfinite(ys)
    resid, df = detrend(np.stack([xs, ys]), m, weekday, block_days=block_days)
    return association_from_residuals(resid[0], resid[1], m, df)


# --------------------------------------------------------------------------------------------
# Step 6: split and effect size
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SplitChoice:
    threshold: FloatArray  # (R,) finite; high = factor >= threshold
    high: BoolArray  # (R, D) high days (within the mask)
    n_high: IntArray
    n_low: IntArray
    valid: BoolArray  # both groups >= min_per_group


def median_candidates(x: FloatArray, valid: BoolArray) -> tuple[FloatArray, FloatArray]:
    """Per rep: the upper median ``t1`` of the valid values and the next larger value ``t2``.

    The more balanced of ``x >= t1`` / ``x >= t2`` is the rep's own median split (for discrete
    values such as ratings, ties at the median make one of the two clearly better).  Both are
    ``inf`` where undefined.
    """
    m = np.asarray(valid, dtype=bool)
    n_reps, n_days = x.shape
    if n_days == 0:
        inf = np.full(n_reps, np.inf)
        return inf, inf.copy()
    n = np.count_nonzero(m, axis=1)
    xs = np.sort(np.where(m, x, np.inf), axis=1)
    pos = np.minimum(n // 2, n_days - 1)
    t1 = np.take_along_axis(xs, pos[:, None], axis=1)[:, 0]
    above = xs > t1[:, None]
    first = np.argmax(above, axis=1)
    t2 = np.where(above.any(axis=1), xs[np.arange(n_reps), first], np.inf)
    return t1, t2


def choose_split(
    factor: str,
    x: FloatArray,
    mask: BoolArray,
    min_per_group: int = 8,
    *,
    medians: tuple[FloatArray, FloatArray] | None = None,
) -> SplitChoice:
    """Apply ``SPLIT_RULES[factor]`` per rep on the paired days (factor values only).

    The preferred threshold is used when both groups have ``min_per_group`` days; otherwise the
    most balanced of the fallback thresholds and (if the rule allows) the rep's median split.
    ``medians`` may pass :func:`median_candidates` computed once over all the factor's days;
    by default they are computed on the paired days.
    """
    rule = SPLIT_RULES[factor]
    m = np.asarray(mask, dtype=bool)
    n_reps = x.shape[0]
    n = np.count_nonzero(m, axis=1).astype(np.int64)
    fixed = ((rule.preferred,) if rule.preferred is not None else ()) + rule.fallbacks
    thresholds: list[FloatArray] = [np.full(n_reps, t, dtype=np.float64) for t in fixed]
    if rule.balanced:
        t1, t2 = median_candidates(x, m) if medians is None else medians
        thresholds += [t1, t2]
    with np.errstate(invalid="ignore"):
        counts = [
            np.count_nonzero((x >= t[:, None]) & m, axis=1).astype(np.int64) for t in thresholds
        ]
    thr = np.stack(thresholds)  # (O, R)
    nh = np.stack(counts)  # (O, R)
    smaller = np.where(np.isfinite(thr), np.minimum(nh, n[None, :] - nh), -1)
    ok = smaller >= min_per_group
    best = np.argmax(smaller, axis=0)  # most balanced (first on ties)
    if rule.preferred is not None:
        best = np.where(ok[0], 0, best)
    rows = np.arange(n_reps)
    threshold = thr[best, rows]
    n_high = nh[best, rows]
    valid = ok[best, rows]
    threshold = np.where(np.isfinite(threshold), threshold, 0.0)
    with np.errstate(invalid="ignore"):
        high = (x >= threshold[:, None]) & m
    n_high = np.count_nonzero(high, axis=1).astype(np.int64)
    return SplitChoice(threshold, high, n_high, n - n_high, valid)


def adjusted_difference(
    resid_y: FloatArray,
    resid_h: FloatArray,
    mask: BoolArray,
    df: IntArray,
    *,
    n: IntArray | None = None,
    n_adj: IntArray | None = None,
    work: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Weekday/trend-adjusted difference high - low with a 95 % normal-approximation CI.

    ``resid_y``, ``resid_h``: detrended outcome and detrended 0/1 high-indicator (same mask and
    design, 0 outside the mask).  Frisch-Waugh-Lovell slope ``b = sum(h~ y~)/sum(h~^2)``,
    residual variance with ``n - df - 2`` degrees of freedom, standard error inflated by
    ``sqrt((1 + a)/(1 - a))`` where ``a = r1(h~) * r1(y~ - b h~)`` (>= 1).
    Returns ``(b, low, high)``; zeros where undefined.
    """
    m = np.asarray(mask, dtype=bool)
    nn = np.count_nonzero(m, axis=1).astype(np.int64) if n is None else n
    na = _adjacent_pairs(m) if n_adj is None else n_adj
    shh = np.einsum("ij,ij->i", resid_h, resid_h)
    shy = np.einsum("ij,ij->i", resid_h, resid_y)
    ok = shh > 1e-12
    b = np.zeros(resid_y.shape[0], dtype=np.float64)
    b[ok] = shy[ok] / shh[ok]
    e = np.multiply(resid_h, b[:, None], out=work)
    np.subtract(resid_y, e, out=e)
    dof = np.maximum(nn - df - 2, 1).astype(np.float64)
    s2 = np.einsum("ij,ij->i", e, e) / dof
    se = np.zeros_like(b)
    se[ok] = np.sqrt(s2[ok] / shh[ok])
    a = np.clip(_lag1(resid_h, nn, na) * _lag1(e, nn, na), -_AUTOCORR_CLIP, _AUTOCORR_CLIP)
    se *= np.sqrt(np.maximum(1.0, (1.0 + a) / (1.0 - a)))
    return b, b - Z_95 * se, b + Z_95 * se


# --------------------------------------------------------------------------------------------
# Step 5: local false discovery rate
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LocalFdrResult:
    lfdr: FloatArray
    q_value: FloatArray
    pi0: float
    null_mu: float
    null_sigma: float
    method: str  # "empirical-bayes", "bh-fallback" or "empty"


def bh_qvalues(p: FloatArray) -> FloatArray:
    """Benjamini-Hochberg adjusted p-values (q-values), monotone, in [0, 1]."""
    p = np.asarray(p, dtype=np.float64)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(m, dtype=np.float64)
    q[order] = np.minimum(q_sorted, 1.0)
    return q.astype(np.float64)


def _natural_spline_basis(x: FloatArray, knots: FloatArray) -> FloatArray:
    """Natural cubic spline basis (ESL eq. 5.4-5.5), intercept included: len(knots) columns."""
    k = knots.size

    def d(j: int) -> FloatArray:
        num = np.maximum(x - knots[j], 0.0) ** 3 - np.maximum(x - knots[-1], 0.0) ** 3
        out: FloatArray = num / float(knots[-1] - knots[j])
        return out

    cols = [np.ones_like(x), x]
    d_last = d(k - 2)
    for j in range(k - 2):
        cols.append(d(j) - d_last)
    return np.stack(cols, axis=1)


def _poisson_fit(basis: FloatArray, counts: FloatArray) -> FloatArray | None:
    """Poisson regression by IRLS with step halving; returns coefficients or None."""
    y = counts
    beta: FloatArray = np.linalg.lstsq(basis, np.log(y + 0.5), rcond=None)[0].astype(np.float64)

    def deviance(b: FloatArray) -> float:
        mu = np.exp(np.clip(basis @ b, -50.0, 50.0))
        term = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0)
        return float(2.0 * np.sum(term - (y - mu)))

    dev = deviance(beta)
    for _ in range(100):
        eta = np.clip(basis @ beta, -50.0, 50.0)
        mu = np.exp(eta)
        wts = np.sqrt(np.maximum(mu, 1e-10))
        work = eta + (y - mu) / np.maximum(mu, 1e-10)
        new = np.linalg.lstsq(basis * wts[:, None], work * wts, rcond=None)[0]
        step = (new - beta).astype(np.float64)
        new_dev = deviance(beta + step)
        halvings = 0
        while new_dev > dev + 1e-10 and halvings < 30:
            step *= 0.5
            new_dev = deviance(beta + step)
            halvings += 1
        beta = beta + step
        converged = abs(dev - new_dev) < 1e-9 * (abs(dev) + 1.0)
        dev = new_dev
        if converged:
            break
    if not np.all(np.isfinite(beta)):
        return None
    return np.asarray(beta, dtype=np.float64)


def _fallback(z: FloatArray) -> LocalFdrResult:
    p = 2.0 * special.ndtr(-np.abs(z))
    q = bh_qvalues(p)
    return LocalFdrResult(np.ones_like(z), q, 1.0, 0.0, 1.0, "bh-fallback")


def tail_qvalues(
    z: FloatArray, lfdr: FloatArray, pi0: float, mu0: float, sigma0: float
) -> FloatArray:
    """Tail-area q-values, computed separately right and left of ``mu0``.

    For a test at standardised distance ``t = (z - mu0)/sigma0``, its tail is every test on the
    same side at least as far out.  ``q = max(mean lfdr over the tail,
    pi0 * N * P0(tail) / #tail)``: the first is Efron's mean-lfdr estimate of the tail's false
    discovery rate, the second the count-based one (insensitive to the fitted density ``f``).
    Then ``q`` is made monotone (a test never gets a smaller q than a more extreme one).
    """
    n_all = z.size
    q = np.ones(n_all, dtype=np.float64)
    t = (z - mu0) / sigma0
    for side in (1.0, -1.0):
        idx = np.nonzero(side * t >= 0)[0] if side > 0 else np.nonzero(t < 0)[0]
        if idx.size == 0:
            continue
        order = idx[np.argsort(-side * t[idx], kind="stable")]  # most extreme first
        ts = side * t[order]
        count = np.arange(1, order.size + 1, dtype=np.float64)
        mean_lfdr = np.cumsum(lfdr[order]) / count
        tail_fdr = pi0 * n_all * special.ndtr(-ts) / count
        raw = np.maximum(mean_lfdr, tail_fdr)
        mono = np.minimum.accumulate(raw[::-1])[::-1]  # q never below a less extreme tail's
        q[order] = np.minimum(mono, 1.0)
    return q


def central_matching(
    z: FloatArray, central_fraction: float = 0.5
) -> tuple[float, float, float] | None:
    """Efron's central matching: ``(mu0, sigma0_hat, pi0)`` or None when it cannot be fitted.

    The z's in the central ``central_fraction`` (default: between the 25th and 75th
    percentiles) are binned and a quadratic ``log f(z) = b0 + b1 z + b2 z^2`` is fitted to the
    counts by Poisson regression.  A normal null ``pi0 N(mu0, sigma0^2)`` has exactly this
    shape: ``sigma0 = sqrt(-1/(2 b2))``, ``mu0 = b1 sigma0^2`` and ``pi0`` = the integral of
    ``exp(b0 + b1 z + b2 z^2)``.
    """
    n_all = z.size
    lo, hi = np.quantile(z, [0.5 - central_fraction / 2, 0.5 + central_fraction / 2])
    if not hi - lo > 1e-9:
        return None
    n_bins = int(min(60, max(8, n_all // 200)))
    edges = np.linspace(lo, hi, n_bins + 1)
    width = float(edges[1] - edges[0])
    counts = np.histogram(z, bins=edges)[0].astype(np.float64)
    centers = 0.5 * (edges[:-1] + edges[1:])
    mid = float(np.median(z))
    xc = centers - mid
    design = np.stack([np.ones_like(xc), xc, xc * xc], axis=1)
    beta = _poisson_fit(design, counts)
    if beta is None:
        return None
    b0 = float(beta[0]) - math.log(n_all * width)
    b1, b2 = float(beta[1]), float(beta[2])
    if not b2 < 0:
        return None
    sigma0 = math.sqrt(-1.0 / (2.0 * b2))
    mu0 = mid + b1 * sigma0 * sigma0
    log_pi0 = b0 - b1 * b1 / (4.0 * b2) + 0.5 * math.log(math.pi / -b2)
    pi0 = math.exp(min(log_pi0, 0.0))
    if not (math.isfinite(mu0) and math.isfinite(sigma0) and math.isfinite(pi0)):
        return None
    return mu0, sigma0, pi0


def local_fdr(
    z: FloatArray,
    *,
    min_tests: int = MIN_TESTS_FOR_LFDR,
    spline_df: int = 7,
    central_fraction: float = 0.5,
    sigma_floor: float = 1.0,
) -> LocalFdrResult:
    """Efron's empirical-Bayes local false discovery rate with tail-area q-values.

    ``z``: 1-D array with the z value of every eligible test of the night.  Steps (module
    docstring, step 5): empirical null by :func:`central_matching` (``sigma0`` floored at
    ``sigma_floor`` = the theoretical null's 1: the per-rep z's are calibrated to N(0, 1), so a
    narrower fitted null can only be estimation noise and would be anti-conservative);
    mixture density ``f`` by Poisson regression of histogram counts on a natural cubic spline
    (``spline_df`` knots at quantiles of z); ``lfdr = min(1, pi0 f0 / f)``; per-side tail-area
    q-values (see :func:`tail_qvalues`).  With fewer than ``min_tests`` values, or when the
    null cannot be fitted, falls back to Benjamini-Hochberg q-values on two-sided p-values
    from N(0, 1) (lfdr reported as 1).
    """
    z = np.asarray(z, dtype=np.float64).ravel()
    z = np.where(np.isfinite(z), z, 0.0)
    n_all = z.size
    if n_all == 0:
        return LocalFdrResult(z.copy(), z.copy(), 1.0, 0.0, 1.0, "empty")
    if n_all < min_tests:
        return _fallback(z)
    cm = central_matching(z, central_fraction)
    if cm is None:
        return _fallback(z)
    mu0, sigma_hat, pi0 = cm
    sigma0 = max(sigma_hat, sigma_floor)
    if sigma0 > sigma_hat:
        # pi0 re-estimated for the floored null from the central counts (capped at 1)
        lo_c, hi_c = np.quantile(z, [0.5 - central_fraction / 2, 0.5 + central_fraction / 2])
        share = float(np.mean((z >= lo_c) & (z <= hi_c)))
        p_null = float(special.ndtr((hi_c - mu0) / sigma0) - special.ndtr((lo_c - mu0) / sigma0))
        pi0 = min(1.0, share / p_null) if p_null > 0 else 1.0
    if not (sigma0 < 5.0 and abs(mu0) < 3.0 and pi0 > 0.0):
        return _fallback(z)
    # mixture density f: Poisson regression of histogram counts on a natural spline
    q50 = float(np.median(z))
    rsd = max(sigma_hat, 1e-3)
    lo = max(float(z.min()), q50 - 12.0 * rsd)
    hi = min(float(z.max()), q50 + 12.0 * rsd)
    if not hi - lo > 1e-6:
        return _fallback(z)
    n_bins = int(min(120, max(30, n_all // 10)))
    edges = np.linspace(lo, hi, n_bins + 1)
    width = float(edges[1] - edges[0])
    counts = np.histogram(z[(z >= lo) & (z <= hi)], bins=edges)[0].astype(np.float64)
    centers = 0.5 * (edges[:-1] + edges[1:])
    inner = z[(z >= lo) & (z <= hi)]
    knots = np.unique(np.quantile(inner, np.linspace(0.0, 1.0, spline_df)))
    if knots.size < 4:
        return _fallback(z)
    span = float(hi - lo)
    basis = _natural_spline_basis((centers - q50) / span, (knots - q50) / span)
    beta = _poisson_fit(basis, counts)
    if beta is None:
        return _fallback(z)
    grid = np.linspace(lo, hi, 2001)
    log_f_grid = _natural_spline_basis((grid - q50) / span, (knots - q50) / span) @ beta
    log_f_grid = log_f_grid - math.log(n_all * width)
    log_norm = math.log(sigma0 * math.sqrt(2.0 * math.pi))
    log_f0_grid = math.log(pi0) - 0.5 * ((grid - mu0) / sigma0) ** 2 - log_norm
    lfdr_grid = np.minimum(1.0, np.exp(np.clip(log_f0_grid - log_f_grid, -700.0, 700.0)))
    lfdr = np.interp(z, grid, lfdr_grid)
    q = tail_qvalues(z, lfdr, pi0, mu0, sigma0)
    return LocalFdrResult(lfdr, q, pi0, mu0, sigma0, "empirical-bayes")


# --------------------------------------------------------------------------------------------
# Per-test statistics table (pass 1) and findings (pass 3)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatsTable:
    """Per (rep, pair) summaries kept between the passes; every array is (n_reps, n_pairs)."""

    z: FloatArray
    rho: NDArray[np.float32]  # float32: ~7 significant digits are plenty, saves ~20 MB at 10k
    n_eff: NDArray[np.float32]
    n: NDArray[np.int32]
    n_high: NDArray[np.int32]
    n_low: NDArray[np.int32]
    mean_high: FloatArray
    mean_low: FloatArray
    ci_low: NDArray[np.float32]
    ci_high: NDArray[np.float32]
    threshold: FloatArray
    days_needed: NDArray[np.int32]
    eligible: BoolArray
    agree: BoolArray  # rho and the raw difference (and the adjusted one, once known) agree
    has_difference: BoolArray  # adjusted difference + CI computed (ci_low/ci_high valid)
    # more logging can make the test eligible: the outcome has data and the factor's split
    # has had both groups (anywhere in the rep's history, not only on paired days)
    unlockable: BoolArray

    @classmethod
    def empty(cls, n_reps: int, n_pairs: int) -> StatsTable:
        shape = (n_reps, n_pairs)
        return cls(
            z=np.zeros(shape),
            rho=np.zeros(shape, dtype=np.float32),
            n_eff=np.zeros(shape, dtype=np.float32),
            n=np.zeros(shape, dtype=np.int32),
            n_high=np.zeros(shape, dtype=np.int32),
            n_low=np.zeros(shape, dtype=np.int32),
            mean_high=np.zeros(shape),
            mean_low=np.zeros(shape),
            ci_low=np.zeros(shape, dtype=np.float32),
            ci_high=np.zeros(shape, dtype=np.float32),
            threshold=np.zeros(shape),
            days_needed=np.zeros(shape, dtype=np.int32),
            eligible=np.zeros(shape, dtype=bool),
            agree=np.zeros(shape, dtype=bool),
            has_difference=np.zeros(shape, dtype=bool),
            unlockable=np.zeros(shape, dtype=bool),
        )


def days_needed(
    n: IntArray, n_high: IntArray, n_low: IntArray, min_total: int, min_per_group: int
) -> IntArray:
    """More paired days needed (a lower bound / estimate) before a test becomes eligible."""
    nf = np.asarray(n, dtype=np.float64)
    small = np.minimum(n_high, n_low).astype(np.float64)
    missing = np.maximum(min_per_group - small, 0.0)
    rate = np.divide(small, nf, out=np.zeros_like(nf), where=nf > 0)
    by_rate = np.divide(missing, rate, out=missing.copy(), where=rate > 0)
    need = np.maximum(np.maximum(min_total - nf, 0.0), np.ceil(by_rate - 1e-9))
    need = np.where(missing > 0, np.maximum(need, missing), need)
    return np.minimum(need, 1e6).astype(np.int64)


def _sanitize(a: FloatArray) -> FloatArray:
    return np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)


@dataclass(slots=True)
class Workspace:
    """Reusable (n_reps, n_days) buffers for :func:`pair_statistics` (avoids allocating and
    page-faulting ~40 MB of temporaries per pair and chunk)."""

    n_reps: int
    n_days: int
    channels: int = 4
    x: FloatArray = field(init=False)
    mask: BoolArray = field(init=False)
    mf: FloatArray = field(init=False)
    stacked: FloatArray = field(init=False)
    resid: FloatArray = field(init=False)
    flat: FloatArray = field(init=False)
    e: FloatArray = field(init=False)
    score: FloatArray = field(init=False)

    def __post_init__(self) -> None:
        shape = (self.n_reps, self.n_days)
        self.x = np.empty(shape)
        self.mask = np.empty(shape, dtype=bool)
        self.mf = np.empty(shape)
        self.stacked = np.empty((self.channels, *shape))
        self.resid = np.empty((self.channels, *shape))
        self.flat = np.empty(self.n_reps * self.n_days)
        self.e = np.empty(shape)
        self.score = np.empty(shape)


def pair_statistics(
    pair: PairSpec,
    x_raw: FloatArray,
    x_score: NDArray[np.floating[Any]],
    y_raw: FloatArray,
    y_score: NDArray[np.floating[Any]],
    mask: BoolArray,
    design: DetrendDesign,
    *,
    min_per_group: int = 8,
    min_total: int = 30,
    medians: tuple[FloatArray, FloatArray] | None = None,
    workspace: Workspace | None = None,
    with_difference: bool = True,
) -> dict[str, NDArray[Any]]:
    """All per-rep statistics of one pair for a chunk of reps.

    ``x_raw``/``y_raw``: paired raw values, ``x_score``/``y_score``: their residual rank scores
    (anything finite or NaN outside ``mask``).  :func:`choose_split` picks the split, one
    :func:`detrend` call removes weekday and trend from the series sharing the mask (outcome
    scores, factor scores or split indicator, and -- ``with_difference`` -- the raw outcome and
    the split indicator for :func:`adjusted_difference`), then
    :func:`association_from_residuals` gives rho, n_eff and z.  Returns a dict of (n_reps,)
    arrays named like the :class:`StatsTable` fields.  Without ``with_difference`` the CI
    fields are 0 and ``agree`` only compares rho with the raw difference of means (the engine
    computes the CI later, for candidate findings only).  ``workspace``: reusable buffers.
    """
    m = np.asarray(mask, dtype=bool)
    ws = Workspace(*m.shape) if workspace is None else workspace
    mf = ws.mf
    np.copyto(mf, m)
    n = np.count_nonzero(m, axis=1).astype(np.int64)
    n_adj = _adjacent_pairs(m)
    split = choose_split(pair.factor, x_raw, m, min_per_group, medians=medians)
    on_split = SPLIT_RULES[pair.factor].test_on_split
    # detrended together (same mask): the outcome rank scores; the split indicator (when the
    # test uses it, or for the adjusted difference); the factor rank scores (unless the test
    # uses the split indicator); the raw outcome (only for the adjusted difference)
    need_high = on_split or with_difference
    channels: list[NDArray[np.floating[Any]] | None] = [y_score]
    if need_high:
        channels.append(None)
    if not on_split:
        channels.append(x_score)
    if with_difference:
        channels.append(y_raw)
    stacked = ws.stacked[: len(channels)]
    with np.errstate(invalid="ignore"):
        for k, src in enumerate(channels):
            if src is None:
                np.copyto(stacked[k], split.high)
                continue
            # 0 outside the mask (NaN * 0 would stay NaN, so NaNs are zeroed first)
            clean = src if np.isfinite(src).all() else np.nan_to_num(src, posinf=0.0, neginf=0.0)
            np.multiply(clean, mf, out=stacked[k])
    y_clean = y_raw if np.isfinite(y_raw).all() else np.nan_to_num(y_raw, posinf=0.0, neginf=0.0)
    sum_high = np.einsum("ij,ij->i", y_clean, split.high.astype(np.float64))
    sum_all = np.einsum("ij,ij->i", y_clean, mf)
    resid, df = detrend(
        stacked, m, design, zero_outside=True, out=ws.resid[: len(channels)], work=ws.flat
    )
    x_resid = resid[1] if on_split else resid[2 if need_high else 1]
    assoc = association_from_residuals(x_resid, resid[0], m, df, n=n, n_adj=n_adj)
    diff: FloatArray | None = None
    lo = hi = np.zeros(m.shape[0])
    if with_difference:
        diff, lo, hi = adjusted_difference(
            resid[len(channels) - 1], resid[1], m, df, n=n, n_adj=n_adj, work=ws.e
        )
    return _summaries(assoc, split, n, sum_high, sum_all, diff, lo, hi, min_total, min_per_group)


def _summaries(
    assoc: Association,
    split: SplitChoice,
    n: IntArray,
    sum_high: FloatArray,
    sum_all: FloatArray,
    diff: FloatArray | None,
    lo: FloatArray,
    hi: FloatArray,
    min_total: int,
    min_per_group: int,
) -> dict[str, NDArray[Any]]:
    """The :class:`StatsTable` fields of one pair for a chunk of reps."""
    mean_high = np.divide(
        sum_high, split.n_high, out=np.zeros_like(sum_high), where=split.n_high > 0
    )
    mean_low = np.divide(
        sum_all - sum_high, split.n_low, out=np.zeros_like(sum_all), where=split.n_low > 0
    )
    eligible = (
        (n >= min_total)
        & split.valid
        & assoc.valid
        & (assoc.n_eff > MIN_N_EFF)
        & np.isfinite(assoc.z)
    )
    direction = np.sign(assoc.rho)
    agree = (direction != 0) & (np.sign(mean_high - mean_low) == direction)
    if diff is not None:
        agree &= np.sign(diff) == direction
    return {
        "z": _sanitize(assoc.z),
        "rho": _sanitize(assoc.rho),
        "n_eff": _sanitize(assoc.n_eff),
        "n": n,
        "n_high": split.n_high,
        "n_low": split.n_low,
        "mean_high": _sanitize(mean_high),
        "mean_low": _sanitize(mean_low),
        "ci_low": _sanitize(lo),
        "ci_high": _sanitize(hi),
        "threshold": _sanitize(split.threshold),
        "days_needed": days_needed(n, split.n_high, split.n_low, min_total, min_per_group),
        "eligible": eligible,
        "agree": agree,
        "has_difference": np.full(n.shape[0], diff is not None),
    }


#: At most this many outcomes share one detrend call in pass 1.
_MAX_SHARED_OUTCOMES: Final = 5


def _pass1_factor_lag(
    prep: _Prepared,
    columns: list[int],
    ws: Workspace,
    *,
    min_per_group: int,
    min_total: int,
) -> dict[int, dict[str, NDArray[Any]]]:
    """Pass-1 statistics (no adjusted difference) for all pairs of one (factor, lag).

    Same maths as :func:`pair_statistics` with ``with_difference=False``, but outcomes whose
    paired-day masks are identical for every rep of the chunk (e.g. the three energy ratings,
    or calls/meetings from the CRM) share one :func:`detrend` call: the factor series is
    detrended once and the design is solved once.
    """
    first = PAIRS[columns[0]]
    factor, lag = first.factor, first.lag
    on_split = SPLIT_RULES[factor].test_on_split
    x_raw = lag_shift(prep.raw[factor], lag, np.nan, out=ws.x)
    x_ok = lag_shift(prep.ok[factor], lag, False)
    x_score = lag_shift(prep.scores[factor], lag, 0.0, out=ws.score)
    masks = {c: x_ok & prep.ok[PAIRS[c].outcome] for c in columns}
    groups: list[list[int]] = []
    for c in columns:
        for g in groups:
            if len(g) < _MAX_SHARED_OUTCOMES and np.array_equal(masks[g[0]], masks[c]):
                g.append(c)
                break
        else:
            groups.append([c])
    out: dict[int, dict[str, NDArray[Any]]] = {}
    for g in groups:
        m = masks[g[0]]
        mf = ws.mf
        np.copyto(mf, m)
        n = np.count_nonzero(m, axis=1).astype(np.int64)
        n_adj = _adjacent_pairs(m)
        split = choose_split(factor, x_raw, m, min_per_group, medians=prep.medians.get(factor))
        stacked = ws.stacked[: 1 + len(g)]
        if on_split:
            np.copyto(stacked[0], split.high)
        else:
            np.multiply(x_score, mf, out=stacked[0])
        for j, c in enumerate(g):
            np.multiply(prep.scores[PAIRS[c].outcome], mf, out=stacked[1 + j])
        resid, df = detrend(
            stacked, m, prep.design, zero_outside=True, out=ws.resid[: 1 + len(g)], work=ws.flat
        )
        high_f = split.high.astype(np.float64)
        for j, c in enumerate(g):
            y0 = prep.raw[PAIRS[c].outcome]  # zero-filled where invalid
            assoc = association_from_residuals(resid[0], resid[1 + j], m, df, n=n, n_adj=n_adj)
            sum_high = np.einsum("ij,ij->i", y0, high_f)
            sum_all = np.einsum("ij,ij->i", y0, mf)
            zeros = np.zeros(m.shape[0])
            out[c] = _summaries(
                assoc, split, n, sum_high, sum_all, None, zeros, zeros, min_total, min_per_group
            )
    return out


def _format_threshold(t: float) -> str:
    return f"{t:g}"


def finding_qvalues(
    z: FloatArray, lfdr: FloatArray, fdr: LocalFdrResult, n_tests: int
) -> FloatArray:
    """Tail-area q-values computed over the *candidate findings* (one per rep x construct x
    outcome), so that the false-discovery claim is about what is delivered.

    Many true tests collapse into one finding (three sleep measures x three energy outcomes
    ...), while a false finding is usually a lone test; a test-level FDR therefore understates
    the share of false *findings*.  For a candidate at standardised distance t, the expected
    number of null findings at least as extreme on its side is at most the expected number of
    null *tests* there, ``pi0 * n_tests * P0(tail)`` (a false finding is a null test), so
    ``q = max(that / #candidates in the tail, mean lfdr of the candidates in the tail)``,
    made monotone.  In the Benjamini-Hochberg fallback (lfdr unknown) the tails are two-sided
    with ``pi0 = 1``, mu0 = 0, sigma0 = 1.
    """
    z = np.asarray(z, dtype=np.float64)
    q = np.ones(z.size, dtype=np.float64)
    if z.size == 0:
        return q
    if fdr.method != "empirical-bayes":
        t = np.abs(z)
        order = np.argsort(-t, kind="stable")
        count = np.arange(1, z.size + 1, dtype=np.float64)
        raw = n_tests * 2.0 * special.ndtr(-t[order]) / count
        q[order] = np.minimum(np.minimum.accumulate(raw[::-1])[::-1], 1.0)
        return q
    t = (z - fdr.null_mu) / fdr.null_sigma
    for side in (1.0, -1.0):
        idx = np.nonzero(t >= 0)[0] if side > 0 else np.nonzero(t < 0)[0]
        if idx.size == 0:
            continue
        order = idx[np.argsort(-side * t[idx], kind="stable")]
        count = np.arange(1, order.size + 1, dtype=np.float64)
        expected_null = fdr.pi0 * n_tests * special.ndtr(-side * t[order])
        raw = np.maximum(expected_null / count, np.cumsum(lfdr[order]) / count)
        q[order] = np.minimum(np.minimum.accumulate(raw[::-1])[::-1], 1.0)
    return q


def holm_within_rep(
    z: FloatArray, eligible: BoolArray, mu0: float, sigma0: float, alpha: float
) -> BoolArray:
    """Holm's step-down familywise test across each rep's own eligible tests.

    ``z``, ``eligible``: (n_reps, n_pairs).  Two-sided p-values from the null N(mu0, sigma0);
    rep r with m_r eligible tests rejects its k-th smallest p while
    ``p_(j) <= alpha / (m_r - j + 1)`` for all j <= k.  Returns the rejected (n_reps, n_pairs)
    mask.  This bounds, for a rep without any real pattern, the chance of receiving any
    finding by ``alpha`` (whatever the rest of the population looks like).
    """
    n_reps, n_pairs = z.shape
    p = np.where(eligible, 2.0 * special.ndtr(-np.abs((z - mu0) / sigma0)), np.inf)
    order = np.argsort(p, axis=1, kind="stable")
    p_sorted = np.take_along_axis(p, order, axis=1)
    m = np.count_nonzero(eligible, axis=1)[:, None]
    rank = np.arange(n_pairs)[None, :]
    denom = np.maximum(m - rank, 1)
    ok_sorted = np.logical_and.accumulate(p_sorted <= alpha / denom, axis=1) & (rank < m)
    out = np.zeros((n_reps, n_pairs), dtype=bool)
    np.put_along_axis(out, order, ok_sorted, axis=1)
    return out


def candidate_findings(
    table: StatsTable,
    fdr_tests: LocalFdrResult,
    *,
    rep_alpha: float = REP_FAMILYWISE_ALPHA,
    require_difference: bool = False,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Per (rep, construct, outcome) the strongest admissible test, with its q-value.

    Admissible: eligible, ``agree`` (signs of rho and the group differences), survives Holm's
    familywise test at ``rep_alpha`` across the rep's tests (:func:`holm_within_rep`) and, with
    ``require_difference``, has its adjusted difference computed.  Returns ``(reps, columns,
    q)`` where ``q`` is the larger of the test-level q (``fdr_tests``, which must be
    ``local_fdr(table.z[table.eligible])``) and the finding-level q (:func:`finding_qvalues`).
    """
    eligible = table.eligible
    n_tests = int(np.count_nonzero(eligible))
    none = np.zeros(0, dtype=np.int64)
    if n_tests == 0:
        return none, none, np.zeros(0)
    test_q = np.ones(table.z.shape, dtype=np.float64)
    test_q[eligible] = fdr_tests.q_value
    lfdr = np.ones(table.z.shape, dtype=np.float64)
    lfdr[eligible] = fdr_tests.lfdr
    holm = holm_within_rep(table.z, eligible, fdr_tests.null_mu, fdr_tests.null_sigma, rep_alpha)
    candidate = eligible & table.agree & holm
    if require_difference:
        candidate &= table.has_difference
    absz = np.where(candidate, np.abs(table.z), -1.0)
    reps_l: list[IntArray] = []
    cols_l: list[IntArray] = []
    for _key, cols in GROUPS:
        sub = absz[:, cols]
        best = np.argmax(sub, axis=1)
        has = np.nonzero(sub[np.arange(sub.shape[0]), best] >= 0.0)[0]
        reps_l.append(has.astype(np.int64))
        cols_l.append(np.asarray(cols, dtype=np.int64)[best[has]])
    reps = np.concatenate(reps_l)
    colsel = np.concatenate(cols_l)
    if reps.size == 0:
        return none, none, np.zeros(0)
    z_c = table.z[reps, colsel]
    q_c = np.maximum(
        test_q[reps, colsel], finding_qvalues(z_c, lfdr[reps, colsel], fdr_tests, n_tests)
    )
    return reps, colsel, q_c


def select_findings(
    table: StatsTable,
    fdr_tests: LocalFdrResult,
    q_threshold: float,
    rep_offset: int = 0,
    *,
    rep_alpha: float = REP_FAMILYWISE_ALPHA,
) -> list[Finding]:
    """Findings: the :func:`candidate_findings` with ``q <= q_threshold``.

    Only tests whose adjusted difference is known (``table.has_difference``) and agrees in
    sign with rho and the raw difference can become findings, so the sentence shown never
    contradicts the statistic.
    """
    reps, colsel, q_c = candidate_findings(
        table, fdr_tests, rep_alpha=rep_alpha, require_difference=True
    )
    findings: list[Finding] = []
    keep = q_c <= q_threshold
    order = np.lexsort((colsel[keep], reps[keep]))
    for rep_np, col_np, q_np in zip(
        reps[keep][order], colsel[keep][order], q_c[keep][order], strict=True
    ):
        rep, col = int(rep_np), int(col_np)
        pair = PAIRS[col]
        thr = float(table.threshold[rep, col])
        findings.append(
            Finding(
                rep_index=rep + rep_offset,
                factor=pair.factor,
                construct=pair.construct,
                outcome=pair.outcome,
                lag=pair.lag,
                direction=1 if table.rho[rep, col] > 0 else -1,
                rho=float(table.rho[rep, col]),
                z=float(table.z[rep, col]),
                q_value=float(q_np),
                n_eff=float(table.n_eff[rep, col]),
                n_high=int(table.n_high[rep, col]),
                n_low=int(table.n_low[rep, col]),
                mean_high=float(table.mean_high[rep, col]),
                mean_low=float(table.mean_low[rep, col]),
                diff_low_ci=float(table.ci_low[rep, col]),
                diff_high_ci=float(table.ci_high[rep, col]),
                split_label=f"{pair.factor}>={_format_threshold(thr)}",
                threshold=thr,
            )
        )
    return findings


def build_progress(table: StatsTable) -> list[Progress]:
    """One :class:`Progress` per (rep, construct, outcome) that more logging can unlock.

    A group is left out when none of its tests is ``unlockable`` (the outcome has no data at
    all, or no factor split of the construct has ever had both groups): "log N more days"
    would then be repeated every night and never come true.  Only unlockable tests count for
    ``days_logged`` and ``days_needed``.
    """
    n_reps = table.n.shape[0]
    logged_cols = []
    needed_cols = []
    shown_cols = []
    big = np.iinfo(np.int32).max
    for _key, cols in GROUPS:
        ok = table.unlockable[:, cols]
        logged_cols.append(np.where(ok, table.n[:, cols], 0).max(axis=1))
        needed_cols.append(np.where(ok, table.days_needed[:, cols], big).min(axis=1))
        shown_cols.append(ok.any(axis=1))
    out: list[Progress] = []
    if n_reps == 0:
        return out
    logged = np.stack(logged_cols, axis=1)
    needed = np.stack(needed_cols, axis=1)
    shown = np.stack(shown_cols, axis=1)
    # one shared int object per distinct value (saves ~30 bytes per record at 10k reps)
    ints = list(range(4096))
    keys = [key for key, _cols in GROUPS]
    append = out.append
    for rep in range(n_reps):
        lrow = logged[rep].tolist()
        nrow = needed[rep].tolist()
        srow = shown[rep].tolist()
        for g, (construct, outcome) in enumerate(keys):
            if not srow[g]:
                continue
            lv, nv = lrow[g], nrow[g]
            append(
                Progress(
                    rep,
                    construct,
                    outcome,
                    ints[lv] if 0 <= lv < 4096 else lv,
                    ints[nv] if 0 <= nv < 4096 else nv,
                )
            )
    return out


# --------------------------------------------------------------------------------------------
# The nightly run
# --------------------------------------------------------------------------------------------


def _broadcast_days(
    a: NDArray[np.generic], n_reps: int, n_days: int, name: str
) -> NDArray[np.generic]:
    arr = np.asarray(a)
    if arr.ndim == 1:
        if arr.shape[0] != n_days:
            raise ValueError(f"{name} has {arr.shape[0]} days, expected {n_days}")
        return np.broadcast_to(arr, (n_reps, n_days))
    if arr.shape != (n_reps, n_days):
        raise ValueError(f"{name} has shape {arr.shape}, expected {(n_reps, n_days)}")
    return arr


def _warm_up_allocator() -> None:
    """Allocate and free one ~31 MB block.

    glibc's malloc serves blocks above its *dynamic* mmap threshold (initially 128 KiB) with
    fresh mmap'd pages, and raises the threshold when such a block is freed (up to 32 MiB).
    Without this, each of the many few-MB temporaries of the per-pair loop is a fresh mapping
    whose pages are faulted in and zeroed by the kernel: measured 2x slower wall time at 1,000
    reps.  Elsewhere (other allocators) this is a harmless no-op.
    """
    block = np.empty(3_900_000, dtype=np.float64)
    del block


@dataclass(slots=True)
class _Prepared:
    design: DetrendDesign
    raw: dict[str, FloatArray]
    ok: dict[str, BoolArray]
    scores: dict[str, NDArray[np.floating[Any]]]
    medians: dict[str, tuple[FloatArray, FloatArray]]


def _prepare(
    feats: NDArray[Any],
    weekday: NDArray[np.generic],
    working: NDArray[np.generic],
    names: tuple[str, ...],
    buffers: tuple[FloatArray, NDArray[np.float32], BoolArray] | None = None,
    ws: Workspace | None = None,
) -> _Prepared:
    """Validity masks, zero-filled values, residual rank scores and median candidates for the
    reps in ``feats`` (n, n_days, len(FEATURES)); only the features in ``names``."""
    rows, n_days = feats.shape[0], feats.shape[1]
    design = detrend_design(weekday, rows, n_days)
    work_f = np.asarray(working).astype(np.float64)
    with np.errstate(invalid="ignore"):
        work = np.isfinite(work_f) & (work_f != 0) & design.weekday_ok
    prep = _Prepared(design, {}, {}, {}, {})
    score_out: dict[str, NDArray[np.floating[Any]]] = {}
    for name in names:
        j = FEATURES.index(name)
        if buffers is None:
            a = np.array(feats[:, :, j], dtype=np.float64)
            valid = valid_values(a) & design.weekday_ok
            sc: NDArray[np.floating[Any]] = np.empty((rows, n_days))
        else:
            a = buffers[0][j]
            a[...] = feats[:, :, j]
            valid = buffers[2][j]
            np.logical_and(valid_values(a), design.weekday_ok, out=valid)
            sc = buffers[1][j]
        if name in WORK_OUTCOMES:
            valid &= work
        a[~valid] = np.nan
        if name in FACTORS and SPLIT_RULES[name].balanced:
            prep.medians[name] = median_candidates(a, valid)
        # zero-filled values + validity masks: the fast path never needs NaN handling
        a[~valid] = 0.0
        prep.raw[name] = a
        prep.ok[name] = valid
        score_out[name] = sc
    # residual rank scores (== residual_rank_scores per series); series logged on exactly the
    # same days (the energy ratings, the CRM outcomes, ...) share one detrend call
    groups: list[list[str]] = []
    for name in names:
        for g in groups:
            if len(g) < 1 + _MAX_SHARED_OUTCOMES and np.array_equal(prep.ok[g[0]], prep.ok[name]):
                g.append(name)
                break
        else:
            groups.append([name])
    for g in groups:
        valid = prep.ok[g[0]]
        if ws is None:
            resid, _ = detrend(
                np.stack([prep.raw[nm] for nm in g]), valid, design, zero_outside=True
            )
        else:  # reuse the workspace buffers (no extra ~35 MB per chunk)
            stacked = ws.stacked[: len(g)]
            for k, nm in enumerate(g):
                stacked[k] = prep.raw[nm]
            resid, _ = detrend(
                stacked, valid, design, zero_outside=True, out=ws.resid[: len(g)], work=ws.flat
            )
        for k, nm in enumerate(g):
            sc = score_out[nm]
            sc[...] = rank_scores(resid[k], valid)
            sc[~valid] = 0.0
            prep.scores[nm] = sc
    return prep


def _pair_stats_for(
    prep: _Prepared,
    pair: PairSpec,
    ws: Workspace,
    *,
    min_per_group: int,
    min_total: int,
    with_difference: bool,
) -> dict[str, NDArray[Any]]:
    x_raw, y_raw, mask = pair_lagged(
        prep.raw[pair.factor],
        prep.raw[pair.outcome],
        pair.lag,
        factor_valid=prep.ok[pair.factor],
        outcome_valid=prep.ok[pair.outcome],
        out=(ws.x, ws.mask),
    )
    return pair_statistics(
        pair,
        x_raw,
        lag_shift(prep.scores[pair.factor], pair.lag, 0.0, out=ws.score),  # float64 copy
        y_raw,
        prep.scores[pair.outcome],
        mask,
        prep.design,
        min_per_group=min_per_group,
        min_total=min_total,
        medians=prep.medians.get(pair.factor),
        workspace=ws,
        with_difference=with_difference,
    )


def _check_inputs(
    features: FloatArray,
    weekday: NDArray[np.generic],
    working_day: NDArray[np.generic],
    min_per_group: int,
    min_total: int,
    chunk_size: int,
) -> tuple[NDArray[Any], NDArray[np.generic], NDArray[np.generic]]:
    feats = np.asarray(features)
    if feats.ndim != 3 or feats.shape[2] != len(FEATURES):
        raise ValueError(
            f"features must be (n_reps, n_days, {len(FEATURES)}), got shape {feats.shape}"
        )
    if chunk_size < 1:
        raise ValueError("chunk_size must be >= 1")
    if min_per_group < 1 or min_total < 1:
        raise ValueError("min_per_group and min_total must be >= 1")
    n_reps, n_days, _ = feats.shape
    wd_all = _broadcast_days(weekday, n_reps, n_days, "weekday")
    work_all = _broadcast_days(working_day, n_reps, n_days, "working_day")
    return feats, wd_all, work_all


def compute_table(
    features: FloatArray,
    weekday: NDArray[np.generic],
    working_day: NDArray[np.generic],
    *,
    min_per_group: int = 8,
    min_total: int = 30,
    chunk_size: int = 1000,
    with_difference: bool = True,
) -> StatsTable:
    """Pass 1: per (rep, pair) statistics for all reps, computed chunk by chunk.

    Same inputs as :func:`run_engine`.  Returns a :class:`StatsTable` whose columns follow
    :data:`PAIRS`.  ``with_difference=False`` skips the adjusted difference and its CI (the
    engine computes them afterwards for candidate findings only, :func:`fill_differences`;
    about 40 % less work).  Memory beyond the input: O(chunk_size * n_days * n_features)
    plus the table itself (~100 bytes per test).
    """
    feats, wd_all, work_all = _check_inputs(
        features, weekday, working_day, min_per_group, min_total, chunk_size
    )
    n_reps, n_days, n_feat = feats.shape
    _warm_up_allocator()
    table = StatsTable.empty(n_reps, len(PAIRS))
    ws: Workspace | None = None
    buffers: tuple[FloatArray, NDArray[np.float32], BoolArray] | None = None
    for r0 in range(0, n_reps, chunk_size):
        r1 = min(n_reps, r0 + chunk_size)
        rows = r1 - r0
        if ws is None or ws.n_reps != rows:
            # buffers reused across chunks (no allocation churn / page faults per chunk);
            # rank scores in (0, 1) need no more than float32 precision
            ws = Workspace(rows, n_days, 1 + _MAX_SHARED_OUTCOMES)
            buffers = (
                np.empty((n_feat, rows, n_days)),
                np.empty((n_feat, rows, n_days), dtype=np.float32),
                np.empty((n_feat, rows, n_days), dtype=bool),
            )
        prep = _prepare(feats[r0:r1], wd_all[r0:r1], work_all[r0:r1], FEATURES, buffers, ws)
        if with_difference:
            results = {
                p: _pair_stats_for(
                    prep,
                    pair,
                    ws,
                    min_per_group=min_per_group,
                    min_total=min_total,
                    with_difference=True,
                )
                for p, pair in enumerate(PAIRS)
            }
        else:
            results = {}
            for cols in _FACTOR_LAG_COLUMNS:
                results.update(
                    _pass1_factor_lag(
                        prep, cols, ws, min_per_group=min_per_group, min_total=min_total
                    )
                )
        for p, stats in results.items():
            for name, values in stats.items():
                getattr(table, name)[r0:r1, p] = values
        table.unlockable[r0:r1] = unlockable_pairs(prep, min_total)
    return table


def split_can_occur(factor: str, values: FloatArray, valid: BoolArray) -> BoolArray:
    """Per rep: whether both groups of some split the factor's rule allows have occurred.

    A fixed threshold t splits the days when min < t <= max over the valid days; a median
    split needs two distinct values.  If no split can occur (a rep who logs drinks but never
    drinks, a late meal that never happened), more days like these never unlock a test.
    """
    rule = SPLIT_RULES[factor]
    has = valid.any(axis=1)
    lo = np.where(valid, values, np.inf).min(axis=1, initial=np.inf)
    hi = np.where(valid, values, -np.inf).max(axis=1, initial=-np.inf)
    fixed = ((rule.preferred,) if rule.preferred is not None else ()) + rule.fallbacks
    out = np.zeros(values.shape[0], dtype=bool)
    for t in fixed:
        out |= (lo < t) & (hi >= t)
    if rule.balanced:
        out |= lo < hi
    result: BoolArray = out & has
    return result


def unlockable_pairs(prep: _Prepared, min_total: int = 30) -> BoolArray:
    """(reps, pairs): whether logging more days can make the test eligible.

    Not when the outcome has no data at all (no sales data: logging cannot create it), nor
    when the factor has been logged on ``min_total`` days or more and its split has never had
    both groups (a rep who logs drinks but never drinks).  A factor logged on fewer days is
    given the benefit of the doubt, so a new rep still sees how far they are.
    """
    factor_ok = {
        f: split_can_occur(f, prep.raw[f], prep.ok[f])
        | (np.count_nonzero(prep.ok[f], axis=1) < min_total)
        for f in FACTORS
    }
    outcome_ok = {o: prep.ok[o].any(axis=1) for o in OUTCOMES}
    return np.stack([factor_ok[pair.factor] & outcome_ok[pair.outcome] for pair in PAIRS], axis=1)


def fill_differences(
    table: StatsTable,
    features: FloatArray,
    weekday: NDArray[np.generic],
    working_day: NDArray[np.generic],
    reps: IntArray,
    columns: IntArray,
    *,
    min_per_group: int = 8,
    min_total: int = 30,
) -> None:
    """Compute the adjusted difference + CI for the given (rep, pair) cells, in place.

    Every statistic is per rep, so recomputing a pair for a subset of reps gives exactly the
    values a full pass would give; ``agree`` then also requires the adjusted difference to
    share rho's sign.
    """
    feats, wd_all, work_all = _check_inputs(
        features, weekday, working_day, min_per_group, min_total, 1
    )
    n_days = feats.shape[1]
    for col in np.unique(columns):
        pair = PAIRS[int(col)]
        sub = np.unique(reps[columns == col])
        prep = _prepare(feats[sub], wd_all[sub], work_all[sub], tuple({pair.factor, pair.outcome}))
        ws = Workspace(sub.size, n_days)
        stats = _pair_stats_for(
            prep,
            pair,
            ws,
            min_per_group=min_per_group,
            min_total=min_total,
            with_difference=True,
        )
        c = int(col)
        table.ci_low[sub, c] = stats["ci_low"]
        table.ci_high[sub, c] = stats["ci_high"]
        table.agree[sub, c] = stats["agree"]
        table.has_difference[sub, c] = True


def run_engine(
    features: FloatArray,
    weekday: NDArray[np.generic],
    working_day: NDArray[np.generic],
    *,
    q_threshold: float = 0.10,
    min_per_group: int = 8,
    min_total: int = 30,
    chunk_size: int = 1000,
) -> EngineResult:
    """Run the nightly engine on all reps at once.

    ``features``: float ``(n_reps, n_days, len(FEATURES))``, NaN = missing, day 0 = oldest,
    all reps aligned on the same last day.  ``weekday``: int ``(n_reps, n_days)`` or
    ``(n_days,)``, 0 = Monday .. 6 = Sunday (other values: day unusable).  ``working_day``:
    bool, same shapes.  Raises ``ValueError`` only for wrongly shaped inputs or parameters; data
    problems (no data, constant or extreme values, NaN padding, ...) yield progress records and
    no finding.
    """
    # Pass 1: per-test statistics, chunk by chunk.
    table = compute_table(
        features,
        weekday,
        working_day,
        min_per_group=min_per_group,
        min_total=min_total,
        chunk_size=chunk_size,
        with_difference=False,
    )
    # Pass 2: empirical-Bayes local fdr over every eligible test of the night.
    z_eligible = table.z[table.eligible]
    fdr = local_fdr(z_eligible)
    # Pass 3: adjusted differences + CIs for the candidate findings only, then findings
    # (candidates whose adjusted difference disagrees in sign are dropped) and progress.
    reps, columns, _q = candidate_findings(table, fdr)
    fill_differences(
        table,
        features,
        weekday,
        working_day,
        reps,
        columns,
        min_per_group=min_per_group,
        min_total=min_total,
    )
    findings = select_findings(table, fdr, q_threshold)
    progress = build_progress(table)
    return EngineResult(
        findings=findings,
        progress=progress,
        n_tests=int(z_eligible.size),
        pi0=float(np.nan_to_num(fdr.pi0, nan=1.0)),
        null_mu=float(np.nan_to_num(fdr.null_mu, nan=0.0)),
        null_sigma=float(np.nan_to_num(fdr.null_sigma, nan=1.0)),
    )
