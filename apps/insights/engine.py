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

2. Rank scores (:func:`rank_scores`).  Each series is replaced by its mid-ranks over the rep's
   own logged days, scaled to (0, 1): ``u = (rank - 1/2) / n`` (ties get the average rank).
   This is a fixed monotone transform, so the association is Spearman-type: robust to outliers
   and to any monotone re-scaling of a factor.  (Ranks are taken once per series rather than
   once per pair: same monotone transform, 60x less sorting.)

3. Detrending (:func:`detrend`).  On the paired days, the two rank series (and the raw outcome
   and the split indicator, see 6) are regressed on weekday dummies + 28-day block dummies
   (blocks counted back from the newest day; an oldest partial block shorter than 14 days is
   merged into its neighbour).  This is the exact least-squares two-way fixed-effects fit,
   solved per rep through the 7x7 Schur complement of the normal equations
   ``[[diag(n_w), N], [N', diag(n_b)]]`` (N = weekday x block day counts).  It removes each
   rep's weekday rhythm (e.g. Friday drinks, Monday dips) and slow trend (e.g. a stressful
   quarter) from *both* series.  It uses ``k = (#weekdays present) + (#blocks present) - 1``
   parameters; ``df = k - 1`` of them beyond the overall mean (which any correlation removes).
   Correlating the two residual series is, by Frisch-Waugh-Lovell, the partial Spearman
   correlation of x and y given weekday and block.

4. Association and effective sample size (:func:`rank_association`,
   :func:`lag1_autocorrelation`, :func:`effective_sample_size`, :func:`fisher_z`).
   ``rho = sum(ex*ey) / sqrt(sum(ex^2) * sum(ey^2))`` on the residuals.  Daily series are
   autocorrelated, so the ``n`` paired days carry less information than ``n`` independent
   draws.  With ``r1x, r1y`` the lag-1 autocorrelations of the two residual series (computed on
   adjacent calendar days that are both paired), Bartlett's formula for two AR(1) series gives
   ``n_B = min(n, n (1 - r1x r1y) / (1 + r1x r1y))`` (``r1x r1y`` clipped to [-0.95, 0.95]).
   Then ``n_eff = n_B - df``.  The test statistic is Fisher's
   ``z = atanh(rho) * sqrt((n_eff - 3) / 1.06)`` (1.06 = Fieller-Hartley-Pearson variance factor
   for rank correlations); z is approximately N(0, 1) for a rep without any real association.

5. False-discovery control over *all* tests of the night (:func:`local_fdr`).  Efron's
   empirical-Bayes local false discovery rate on the pooled z values of every eligible test:

   * histogram of the z's (30-120 bins); the mixture density ``f`` is fitted by Poisson
     regression of the bin counts on a natural cubic spline with 7 degrees of freedom;
   * empirical null ``N(mu0, sigma0)`` by *central matching*: a quadratic fitted to ``log f``
     over the central 50 % of the z's gives ``mu0``, ``sigma0`` and ``pi0`` (the share of
     nulls; capped at 1).  This absorbs any residual mis-calibration of the per-rep z's;
   * ``lfdr(z) = min(1, pi0 f0(z) / f(z))``;
   * tail-area q-value of a test = mean lfdr of all tests at least as extreme on the same side
     of ``mu0`` (an estimate of the false-discovery rate of reporting that whole tail).  To
     guard against a poorly fitted far tail it is max-ed with Efron's count-based tail-area
     estimate ``pi0 * N * P0(tail) / #(tail)``, then made monotone (never smaller than a more
     extreme test's q).  Left and right tails are handled separately; the union of two tails
     each at FDR <= q has FDR <= q.
   * A finding needs ``q <= q_threshold`` (default 0.10; 0.05 is the stricter choice).
   * With fewer than :data:`MIN_TESTS_FOR_LFDR` (200) eligible tests the mixture cannot be
     estimated; the engine then falls back to Benjamini-Hochberg q-values on two-sided
     p-values from the theoretical N(0, 1) null (``pi0 = 1``: conservative).  The same
     fallback is used if the central-matching fit is degenerate.

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

7. Findings (:func:`select_findings`).  A test is *eligible* when it has at least
   ``min_total`` (30) paired days, at least ``min_per_group`` (8) days on each side of the split,
   non-constant residuals and ``n_eff > 5``.  It becomes a finding when additionally
   ``q <= q_threshold`` and the direction of rho, the adjusted difference and the raw
   difference of means all agree (so the sentence we show never contradicts the statistic).
   Per rep, only the strongest (largest |z|) finding per (construct, outcome) is kept
   (:data:`CONSTRUCTS`: the three sleep measures are one construct "sleep", etc.).

8. Progress (:class:`Progress`).  For every rep, construct and outcome: the most paired days of
   any test in the construct, and how many more paired days (at least) are needed before a
   first finding *can* be produced: ``max(min_total - n, days for the smaller split group to
   reach min_per_group at the rep's current rate)``; when the smaller group has never occurred
   (a rep who never drinks) the strict lower bound ``min_per_group - n_small`` is used.
   0 means the minimums are met (it does not promise a finding).

Vectorisation and memory: all statistics are computed for a chunk of reps at once with array
operations (one Python iteration per *pair*, never per rep x pair).  Pass 1 walks the reps in
chunks and keeps only per-test summaries; pass 2 runs the local fdr over all z's; pass 3 builds
findings from the stored summaries.  Every float returned is finite.

Limits: associations are not causes (a habit and an outcome can share a cause that is not a
weekday or slow-trend pattern, e.g. a stressful week); a factor that changes energy will often
also change work outcomes (mediation), and both may be reported; confounders faster than the
28-day blocks are not removed; with few days the method is deliberately silent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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
Z_95: Final = 1.959963984540054
_RHO_CLIP: Final = 1.0 - 1e-9
_AUTOCORR_CLIP: Final = 0.95


@dataclass(frozen=True, slots=True)
class SplitRule:
    """How a factor's days are split into a "high" and a "low" group for the message.

    ``preferred`` is used when it leaves ``min_per_group`` days on both sides; otherwise the
    most balanced valid option among ``fallbacks`` (and, if ``balanced``, the rep's own median
    split) is used.  High always means ``factor >= threshold``.
    """

    preferred: float | None
    fallbacks: tuple[float, ...]
    balanced: bool
    description: str


SPLIT_RULES: dict[str, SplitRule] = {
    "sleep_minutes": SplitRule(
        420.0, (), True, "slept 7 h (420 min) or more vs less; else the rep's median"
    ),
    "bedtime_minutes": SplitRule(
        None, (), True, "bedtime at/after the rep's median (later) vs before"
    ),
    "sleep_quality": SplitRule(None, (), True, "quality at/above the rep's median vs below"),
    "drinks": SplitRule(3.0, (2.0, 1.0), False, "3+ drinks vs fewer; else 2+, else any"),
    "heavy_meals": SplitRule(1.0, (2.0,), False, "any heavy meal vs none; else 2+"),
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


def lag_shift(values: NDArray[np.generic], lag: int, fill: float | bool = np.nan) -> NDArray[Any]:
    """Return ``out[..., d] = values[..., d - lag]`` along the last (day) axis.

    The first ``lag`` days are ``fill`` (NaN for floats, ``False`` for masks).  ``lag == 0``
    returns the input itself (no copy).
    """
    if lag < 0:
        raise ValueError("lag must be >= 0")
    arr = np.asarray(values)
    if lag == 0:
        return arr
    out = np.empty(arr.shape, dtype=arr.dtype)
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
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Pair the factor on day ``d - lag`` with the outcome on day ``d``.

    ``factor``, ``outcome``: ``(n_reps, n_days)``, NaN = missing.  ``valid_days`` (optional,
    same shape) restricts the outcome day, e.g. to working days.  ``factor_valid`` /
    ``outcome_valid`` may pass precomputed validity masks (then the values may hold anything,
    e.g. 0, where invalid).  Returns ``(x, y, mask)``: the shifted factor, the outcome and the
    mask of paired days (both values usable and the outcome day valid).
    """
    f = np.asarray(factor, dtype=np.float64)
    y = np.asarray(outcome, dtype=np.float64)
    fv = valid_values(f) if factor_valid is None else np.asarray(factor_valid, dtype=bool)
    yv = valid_values(y) if outcome_valid is None else np.asarray(outcome_valid, dtype=bool)
    x = lag_shift(f, lag, np.nan)
    mask = lag_shift(fv, lag, False) & yv
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
    cell = (
        np.arange(n_reps, dtype=np.int64)[:, None] * (7 * n_blocks) + wd * n_blocks + blk[None, :]
    ).ravel()
    return DetrendDesign(wd, ok, blk, n_blocks, cell)


def detrend(
    values: FloatArray,
    mask: BoolArray,
    weekday: NDArray[np.generic] | DetrendDesign,
    *,
    block_days: int = BLOCK_DAYS,
    zero_outside: bool = False,
) -> tuple[FloatArray, IntArray]:
    """Regress weekday dummies + block dummies out of each rep's series, on the masked days.

    ``values``: ``(n_reps, n_days)`` or ``(n_series, n_reps, n_days)`` (several series sharing
    one mask are detrended together).  ``zero_outside=True`` promises that ``values`` are 0
    outside the mask (skips a masking pass).  Returns ``(residuals, df)``: residuals of the same
    shape, exactly 0 outside the mask, and per rep
    ``df = (#weekdays present) + (#blocks present) - 2``, the parameters used beyond the overall
    mean.  Exact OLS (two-way fixed effects) via the 7x7 Schur complement of the normal
    equations; a rank-one term and a tiny ridge only pin the unidentified directions, which do
    not change the fitted values.
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
    cnt = np.bincount(design.cell, weights=mf.ravel(), minlength=size).reshape(n_reps, 7, nb)
    sums = np.empty((n_series, n_reps, 7, nb), dtype=np.float64)
    for k in range(n_series):
        sums[k] = np.bincount(design.cell, weights=v[k].ravel(), minlength=size).reshape(
            n_reps, 7, nb
        )
    n_w = cnt.sum(axis=2)  # (R, 7)
    n_b = cnt.sum(axis=1)  # (R, nb)
    inv_b = np.divide(1.0, n_b, out=np.zeros_like(n_b), where=n_b > 0)
    cnt_scaled = cnt * inv_b[:, None, :]  # N diag(1/n_b)
    mat = -np.matmul(cnt_scaled, cnt.transpose(0, 2, 1))  # (R, 7, 7)
    diag = np.arange(7)
    mat[:, diag, diag] += n_w
    s_w = sums.sum(axis=3).transpose(1, 2, 0)  # (R, 7, K) weekday sums
    t_b = sums.sum(axis=2).transpose(1, 2, 0)  # (R, nb, K) block sums
    rhs = s_w - np.matmul(cnt_scaled, t_b)
    present = n_w > 0
    pf = present.astype(np.float64)
    mat += pf[:, :, None] * pf[:, None, :]  # pins sum(a) = 0 over the present weekdays
    ridge = (~present).astype(np.float64) + 1e-9 * (1.0 + n_w.max(axis=1))[:, None]
    mat[:, diag, diag] += ridge
    a = np.linalg.solve(mat, rhs)  # (R, 7, K) weekday effects
    c = (t_b - np.matmul(cnt.transpose(0, 2, 1), a)) * inv_b[:, :, None]  # (R, nb, K)
    resid = np.empty_like(v)
    for k in range(n_series):
        cell_fit = (a[:, :, None, k] + c[:, None, :, k]).ravel()  # (R * 7 * nb,)
        fitted = np.take(cell_fit, design.cell).reshape(n_reps, n_days)
        np.subtract(v[k], fitted, out=resid[k])
        resid[k] *= mf
    k_params = present.sum(axis=1) + (n_b > 0).sum(axis=1) - 1
    df = np.maximum(k_params - 1, 0).astype(np.int64)
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


def rank_association(
    x: FloatArray,
    y: FloatArray,
    mask: BoolArray,
    weekday: NDArray[np.generic] | DetrendDesign,
    *,
    block_days: int = BLOCK_DAYS,
) -> Association:
    """Partial Spearman-type association of x and y on the masked days, per rep.

    Rank scores (over the masked days) -> weekday + block detrending of both -> correlation of
    the residuals, Bartlett effective sample size minus the detrending df, Fisher z.
    (The engine ranks each series once over all its logged days instead; same maths.)
    """
    m = np.asarray(mask, dtype=bool)
    xs = rank_scores(x, m)
    ys = rank_scores(y, m)
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
    e = resid_y - b[:, None] * resid_h
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
    rho: FloatArray
    n_eff: FloatArray
    n: NDArray[np.int32]
    n_high: NDArray[np.int32]
    n_low: NDArray[np.int32]
    mean_high: FloatArray
    mean_low: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    threshold: FloatArray
    days_needed: NDArray[np.int32]
    eligible: BoolArray
    agree: BoolArray  # rho, adjusted and raw differences share a (non-zero) sign

    @classmethod
    def empty(cls, n_reps: int, n_pairs: int) -> StatsTable:
        shape = (n_reps, n_pairs)
        return cls(
            z=np.zeros(shape),
            rho=np.zeros(shape),
            n_eff=np.zeros(shape),
            n=np.zeros(shape, dtype=np.int32),
            n_high=np.zeros(shape, dtype=np.int32),
            n_low=np.zeros(shape, dtype=np.int32),
            mean_high=np.zeros(shape),
            mean_low=np.zeros(shape),
            ci_low=np.zeros(shape),
            ci_high=np.zeros(shape),
            threshold=np.zeros(shape),
            days_needed=np.zeros(shape, dtype=np.int32),
            eligible=np.zeros(shape, dtype=bool),
            agree=np.zeros(shape, dtype=bool),
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


def pair_statistics(
    pair: PairSpec,
    x_raw: FloatArray,
    x_score: FloatArray,
    y_raw: FloatArray,
    y_score: FloatArray,
    mask: BoolArray,
    design: DetrendDesign,
    *,
    min_per_group: int = 8,
    min_total: int = 30,
    medians: tuple[FloatArray, FloatArray] | None = None,
) -> dict[str, NDArray[Any]]:
    """All per-rep statistics of one pair for a chunk of reps.

    ``x_raw``/``y_raw``: paired raw values, ``x_score``/``y_score``: their rank scores (any
    finite or NaN value outside ``mask``).  One :func:`detrend` call handles the four series
    that share the mask (x score, y score, raw y and the high-indicator), then
    :func:`association_from_residuals`, :func:`choose_split` and :func:`adjusted_difference`.
    Returns a dict of (n_reps,) arrays named like the :class:`StatsTable` fields.
    """
    m = np.asarray(mask, dtype=bool)
    mf = m.astype(np.float64)
    n = np.count_nonzero(m, axis=1).astype(np.int64)
    n_adj = _adjacent_pairs(m)
    split = choose_split(pair.factor, x_raw, m, min_per_group, medians=medians)
    stacked = np.empty((4, *m.shape), dtype=np.float64)
    with np.errstate(invalid="ignore"):
        # 0 outside the mask (NaN * 0 would stay NaN, so NaNs are zeroed first)
        for k, src in enumerate((x_score, y_score, y_raw)):
            clean = src if np.isfinite(src).all() else np.nan_to_num(src, posinf=0.0, neginf=0.0)
            np.multiply(clean, mf, out=stacked[k])
    stacked[3] = split.high
    y0 = stacked[2].copy()  # raw outcome, 0 outside the mask
    resid, df = detrend(stacked, m, design, zero_outside=True)
    assoc = association_from_residuals(resid[0], resid[1], m, df, n=n, n_adj=n_adj)
    diff, lo, hi = adjusted_difference(resid[2], resid[3], m, df, n=n, n_adj=n_adj)
    sum_high = np.einsum("ij,ij->i", y0, split.high.astype(np.float64))
    sum_all = y0.sum(axis=1)
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
    agree = (
        (direction != 0)
        & (np.sign(diff) == direction)
        & (np.sign(mean_high - mean_low) == direction)
    )
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
    }


def _format_threshold(t: float) -> str:
    return f"{t:g}"


def select_findings(
    table: StatsTable,
    q_values: FloatArray,
    q_threshold: float,
    rep_offset: int = 0,
) -> list[Finding]:
    """One finding per (rep, construct, outcome): the largest |z| among eligible tests with
    ``q <= q_threshold`` whose statistic, adjusted and raw differences agree in sign."""
    passing = table.eligible & table.agree & (q_values <= q_threshold)
    findings: list[Finding] = []
    if not passing.any():
        return findings
    absz = np.where(passing, np.abs(table.z), -1.0)
    picks: list[tuple[int, int]] = []
    for _key, cols in GROUPS:
        sub = absz[:, cols]
        best = np.argmax(sub, axis=1)
        has = sub[np.arange(sub.shape[0]), best] >= 0.0
        for rep_np in np.nonzero(has)[0]:
            rep_i = int(rep_np)
            picks.append((rep_i, cols[int(best[rep_i])]))
    picks.sort()
    for rep, col in picks:
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
                q_value=float(q_values[rep, col]),
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
    """One :class:`Progress` per (rep, construct, outcome)."""
    n_reps = table.n.shape[0]
    logged_cols = []
    needed_cols = []
    for _key, cols in GROUPS:
        logged_cols.append(table.n[:, cols].max(axis=1))
        needed_cols.append(table.days_needed[:, cols].min(axis=1))
    logged = np.stack(logged_cols, axis=1).tolist() if n_reps else []
    needed = np.stack(needed_cols, axis=1).tolist() if n_reps else []
    keys = [key for key, _cols in GROUPS]
    out: list[Progress] = []
    append = out.append
    for rep in range(n_reps):
        lrow = logged[rep]
        nrow = needed[rep]
        for g, (construct, outcome) in enumerate(keys):
            append(Progress(rep, construct, outcome, lrow[g], nrow[g]))
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


def compute_table(
    features: FloatArray,
    weekday: NDArray[np.generic],
    working_day: NDArray[np.generic],
    *,
    min_per_group: int = 8,
    min_total: int = 30,
    chunk_size: int = 1000,
) -> StatsTable:
    """Pass 1: per (rep, pair) statistics for all reps, computed chunk by chunk.

    Same inputs as :func:`run_engine`.  Returns a :class:`StatsTable` whose columns follow
    :data:`PAIRS`.  Memory beyond the input is O(chunk_size * n_days * n_features) plus the
    table itself (~100 bytes per test).
    """
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
    col = {name: j for j, name in enumerate(FEATURES)}
    table = StatsTable.empty(n_reps, len(PAIRS))
    for r0 in range(0, n_reps, chunk_size):
        r1 = min(n_reps, r0 + chunk_size)
        rows = r1 - r0
        design = detrend_design(wd_all[r0:r1], rows, n_days)
        work_f = np.asarray(work_all[r0:r1]).astype(np.float64)
        with np.errstate(invalid="ignore"):
            work = np.isfinite(work_f) & (work_f != 0) & design.weekday_ok
        raw: dict[str, FloatArray] = {}
        ok: dict[str, BoolArray] = {}
        scores: dict[str, FloatArray] = {}
        medians: dict[str, tuple[FloatArray, FloatArray]] = {}
        for name in FEATURES:
            a = np.array(feats[r0:r1, :, col[name]], dtype=np.float64)
            valid = valid_values(a) & design.weekday_ok
            if name in WORK_OUTCOMES:
                valid &= work
            a[~valid] = np.nan
            if name in FACTORS and SPLIT_RULES[name].balanced:
                medians[name] = median_candidates(a, valid)
            sc = rank_scores(a, valid)
            # zero-filled copies + validity masks: the fast path never needs NaN handling
            a[~valid] = 0.0
            sc[~valid] = 0.0
            raw[name] = a
            ok[name] = valid
            scores[name] = sc
        for p, pair in enumerate(PAIRS):
            x_raw, y_raw, mask = pair_lagged(
                raw[pair.factor],
                raw[pair.outcome],
                pair.lag,
                factor_valid=ok[pair.factor],
                outcome_valid=ok[pair.outcome],
            )
            stats = pair_statistics(
                pair,
                x_raw,
                lag_shift(scores[pair.factor], pair.lag, 0.0),
                y_raw,
                scores[pair.outcome],
                mask,
                design,
                min_per_group=min_per_group,
                min_total=min_total,
                medians=medians.get(pair.factor),
            )
            for field, values in stats.items():
                getattr(table, field)[r0:r1, p] = values
        del raw, ok, scores
    return table


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
    )
    # Pass 2: empirical-Bayes local fdr over every eligible test of the night.
    eligible = table.eligible
    z_eligible = table.z[eligible]
    fdr = local_fdr(z_eligible)
    q_values = np.ones(table.z.shape, dtype=np.float64)
    q_values[eligible] = fdr.q_value
    # Pass 3: findings and progress from the stored summaries.
    findings = select_findings(table, q_values, q_threshold)
    progress = build_progress(table)
    return EngineResult(
        findings=findings,
        progress=progress,
        n_tests=int(z_eligible.size),
        pi0=float(np.nan_to_num(fdr.pi0, nan=1.0)),
        null_mu=float(np.nan_to_num(fdr.null_mu, nan=0.0)),
        null_sigma=float(np.nan_to_num(fdr.null_sigma, nan=1.0)),
    )
