"""Benchmark of the nightly insight engine (apps/insights/engine.py).

Usage::

    .venv/bin/python benchmarks/insights.py                 # default matrix, markdown table
    .venv/bin/python benchmarks/insights.py --reps 10000 --days 365   # one configuration

Every configuration runs in its own subprocess so that its peak RSS (``ru_maxrss``) is its own.
The child generates a synthetic population (tests/insights/synthetic.py, chunk by chunk, straight
into one float64 array of shape (reps, days, 19)), then times ``run_engine`` on it.  Reported:

* ``engine s``: wall time of ``run_engine`` (stats for all reps, local fdr, findings, progress);
* ``peak RSS``: the child's peak resident memory, *including* the input array
  (``input MB``) and the interpreter with numpy/scipy loaded;
* ``engine extra``: peak RSS minus the RSS just before the engine started;
* the naive baseline: a per-rep x per-pair ``scipy.stats.spearmanr`` loop (raw paired values, no
  detrending, p < 0.05) on the first ``--naive-reps`` reps of the same data, extrapolated per rep.

Linearity is checked by comparing seconds per rep-day across configurations.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_MATRIX = ((1000, 365), (10000, 365), (1000, 180), (10000, 180))


def _rss_now_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _generate(n_reps: int, n_days: int, seed: int, chunk: int = 500):  # type: ignore[no-untyped-def]
    import numpy as np

    from apps.insights.engine import FEATURES
    from tests.insights.synthetic import generate_population

    features = np.empty((n_reps, n_days, len(FEATURES)), dtype=np.float64)
    weekday = np.empty((n_reps, n_days), dtype=np.int64)
    working = np.empty((n_reps, n_days), dtype=bool)
    for i, r0 in enumerate(range(0, n_reps, chunk)):
        r1 = min(n_reps, r0 + chunk)
        pop = generate_population(r1 - r0, n_days, seed=seed * 100_003 + i)
        features[r0:r1] = pop.features
        weekday[r0:r1] = pop.weekday
        working[r0:r1] = pop.working_day
        del pop
    return features, weekday, working


def _naive(features, weekday, working, n_reps: int) -> tuple[float, int, int]:  # type: ignore[no-untyped-def]
    """Per-rep, per-pair scipy.stats.spearmanr loop; returns (seconds, tests, p<0.05 count)."""
    import warnings

    import numpy as np
    from scipy import stats

    from apps.insights.engine import FEATURES, PAIRS

    col = {name: j for j, name in enumerate(FEATURES)}
    n_tests = n_sig = 0
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in range(n_reps):
            for pair in PAIRS:
                x = features[r, :, col[pair.factor]]
                y = features[r, :, col[pair.outcome]]
                if pair.lag:
                    x = np.concatenate([np.full(pair.lag, np.nan), x[: -pair.lag]])
                m = np.isfinite(x) & np.isfinite(y)
                if pair.work:
                    m &= working[r]
                if m.sum() < 30:
                    continue
                res = stats.spearmanr(x[m], y[m])
                n_tests += 1
                if float(res.pvalue) < 0.05:
                    n_sig += 1
    return time.perf_counter() - start, n_tests, n_sig


def child(n_reps: int, n_days: int, naive_reps: int, seed: int) -> dict[str, float]:
    import numpy as np

    from apps.insights.engine import run_engine

    rss_start = _rss_now_mb()
    t0 = time.perf_counter()
    features, weekday, working = _generate(n_reps, n_days, seed)
    gen_s = time.perf_counter() - t0
    rss_before = _rss_now_mb()
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    result = run_engine(features, weekday, working)
    engine_s = time.perf_counter() - t0
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    peak = _peak_rss_mb()
    out: dict[str, float] = {
        "reps": n_reps,
        "days": n_days,
        "generate_s": gen_s,
        "engine_s": engine_s,
        "engine_cpu_s": cpu_s,
        "peak_rss_mb": peak,
        "rss_before_engine_mb": rss_before,
        "rss_at_start_mb": rss_start,
        "input_mb": features.nbytes / 1e6,
        "n_tests": result.n_tests,
        "n_findings": len(result.findings),
        "n_progress": len(result.progress),
        "pi0": result.pi0,
        "null_mu": result.null_mu,
        "null_sigma": result.null_sigma,
        "finite": float(
            all(
                np.isfinite(
                    [
                        f.rho,
                        f.z,
                        f.q_value,
                        f.n_eff,
                        f.mean_high,
                        f.mean_low,
                        f.diff_low_ci,
                        f.diff_high_ci,
                        f.threshold,
                    ]
                ).all()
                for f in result.findings
            )
        ),
    }
    del result
    if naive_reps > 0:
        k = min(naive_reps, n_reps)
        naive_s, naive_tests, naive_sig = _naive(features, weekday, working, k)
        out.update(
            naive_reps=k,
            naive_s=naive_s,
            naive_tests=naive_tests,
            naive_sig=naive_sig,
        )
    return out


def run_child(n_reps: int, n_days: int, naive_reps: int, seed: int) -> dict[str, float]:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        "--reps",
        str(n_reps),
        "--days",
        str(n_days),
        "--naive-reps",
        str(naive_reps),
        "--seed",
        str(seed),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
    line = proc.stdout.strip().splitlines()[-1]
    data: dict[str, float] = json.loads(line)
    return data


def table(rows: list[dict[str, float]]) -> str:
    head = (
        "| reps | days | engine s (wall) | CPU s | µs / rep-day | peak RSS MB | input MB "
        "| engine extra MB | tests | findings | naive s / rep (scipy loop) "
        "| naive est. for all reps s | speed-up |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [head]
    for r in rows:
        per_rep_day = r["engine_s"] / (r["reps"] * r["days"]) * 1e6
        extra = r["peak_rss_mb"] - r["rss_before_engine_mb"]
        if "naive_s" in r:
            naive_per_rep = r["naive_s"] / r["naive_reps"]
            naive_all = naive_per_rep * r["reps"]
            speed = naive_all / r["engine_s"]
            naive_cols = f"{naive_per_rep:.3f} | {naive_all:.0f} | {speed:.0f}x"
        else:
            naive_cols = "- | - | -"
        lines.append(
            f"| {r['reps']:.0f} | {r['days']:.0f} | {r['engine_s']:.1f} | {r['engine_cpu_s']:.1f} "
            f"| {per_rep_day:.2f} "
            f"| {r['peak_rss_mb']:.0f} | {r['input_mb']:.0f} | {extra:.0f} | {r['n_tests']:.0f} "
            f"| {r['n_findings']:.0f} | {naive_cols} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--naive-reps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.reps, args.days, args.naive_reps, args.seed)))
        return
    matrix = ((args.reps, args.days),) if args.reps else DEFAULT_MATRIX
    rows = []
    for n_reps, n_days in matrix:
        row = run_child(n_reps, n_days, args.naive_reps, args.seed)
        rows.append(row)
        print(
            f"# {n_reps} reps x {n_days} days: engine {row['engine_s']:.1f} s, "
            f"peak RSS {row['peak_rss_mb']:.0f} MB",
            file=sys.stderr,
            flush=True,
        )
    print(table(rows))
    if len(rows) > 1:
        base = rows[0]
        base_rate = base["engine_s"] / (base["reps"] * base["days"])
        print()
        for r in rows[1:]:
            rate = r["engine_s"] / (r["reps"] * r["days"])
            print(
                f"- linearity: {r['reps']:.0f}x{r['days']:.0f} costs {rate / base_rate:.2f}x "
                f"the per-rep-day time of {base['reps']:.0f}x{base['days']:.0f}"
            )
    env = os.environ.get("OPENBLAS_CORETYPE")
    print(f"\nPython {sys.version.split()[0]}, {os.cpu_count()} CPUs, OPENBLAS_CORETYPE={env}")


if __name__ == "__main__":
    main()
