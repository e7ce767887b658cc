"""Journal write/read throughput against gunicorn on PostgreSQL, relative to an authenticated
no-op DRF endpoint measured in the same run (issue 3).

    .venv/bin/python benchmarks/journal_http.py [--duration 5] [--rounds 5] [--users 50]

Creates a fresh database `et_bench_journal`, 50 consenting reps with sessions and 90 days of
data each, starts gunicorn (4 sync workers: 2 per core), and drives it with wrk on loopback.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from harness import (
    WRK_DIR,
    WrkResult,
    bench_env,
    django_script,
    fresh_database,
    gunicorn,
    wrk,
)

SETUP = r"""
import json, datetime as dt, random, uuid
from django.contrib.sessions.backends.cached_db import SessionStore
from django.middleware.csrf import _get_new_csrf_string
from django.utils import timezone
from django.contrib.auth import SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY
from apps.accounts.models import User
from apps.privacy.models import Category
from apps.privacy.services import consent_grant
from apps.journal.services import EntryInput, entries_upsert
N = int(__import__("os").environ["BENCH_USERS"])
rng = random.Random(1)
lines = []
now = timezone.now()
for i in range(N):
    user = User.objects.create_user(email=f"bench{i}@example.com", password="x-bench-password-1",
                                    date_joined=now - dt.timedelta(days=400))
    for c in Category.values:
        consent_grant(user=user, category=c)
    items = []
    for d in range(1, 91):
        day = now - dt.timedelta(days=d)
        for h in (8, 13, 16):
            items.append(EntryInput(kind="energy", id=uuid.uuid4(), values={"occurred_at": day.replace(hour=h), "level": rng.randint(1, 9)}))
        items.append(EntryInput(kind="sleep", id=uuid.uuid4(), values={"occurred_at": day.replace(hour=6), "bedtime": day.replace(hour=6) - dt.timedelta(hours=7), "quality": 3}))
        items.append(EntryInput(kind="meal", id=uuid.uuid4(), values={"occurred_at": day.replace(hour=12), "meal_type": "lunch", "tags": ["vegetables"]}))
        if d % 3 == 0:
            items.append(EntryInput(kind="alcohol", id=uuid.uuid4(), values={"occurred_at": day.replace(hour=20), "standard_drinks": 2}))
    entries_upsert(user=user, items=items)
    s = SessionStore()
    s[SESSION_KEY] = str(user.pk)
    s[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    s[HASH_SESSION_KEY] = user.get_session_auth_hash()
    s.create()
    lines.append(f"{s.session_key} {_get_new_csrf_string()}")
print(json.dumps(lines))
"""


ENDPOINTS = [
    # Not part of the product: a plain ModelViewSet create (benchmarks/reference), the yardstick
    # the issue names ("a straightforward ModelViewSet create reaches about 40 %").
    ("POST reference: plain ModelViewSet create", "reference.lua", ""),
    # Also benchmark-only: the floors a journal write cannot go below on this stack, an
    # authenticated JSON POST that writes nothing, and the same plus one bare prepared INSERT.
    ("POST floor: CSRF + JSON body + 201, no write", "post_floor.lua", ""),
    ("POST floor + one bare INSERT", "insert_floor.lua", ""),
    ("POST /api/v1/journal/checkin", "checkin.lua", ""),
    ("PUT /api/v1/journal/energy/<uuid>", "upsert.lua", ""),
    ("POST /api/v1/journal/batch (100 items)", "batch.lua", ""),
    ("GET /api/v1/journal/days (90 days)", "get.lua", "/api/v1/journal/days"),
]
# The writes go to the first half of the reps, the day view reads the second half: those keep
# the realistic 90 days of the setup (~5 entries a day) instead of thousands of benchmark writes.
READERS = {"GET /api/v1/journal/days (90 days)", "GET /api/v1/journal/days (90 days, cache off)"}
PING = ("GET /api/v1/ping (authenticated no-op)", "get.lua", "/api/v1/ping")


def _chosen(name: str, only: str) -> bool:
    return any(part in name for part in only.split("|"))


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _rounds(
    base: str,
    endpoints: list[tuple[str, str, str]],
    args: argparse.Namespace,
    wrk_env: dict,
    readers_env: dict,
) -> tuple[dict[str, list[WrkResult]], dict[str, list[float]]]:
    """``--rounds`` times: ping, then each endpoint with a ping after it. Each endpoint's ratio
    is taken against the mean of the two pings right around it (seconds apart), so a drift in
    the machine's speed within a round hits its baseline as much as the endpoint.

    Returns every run by name and, per endpoint, the baseline (req/s) of each of its runs."""
    results: dict[str, list[WrkResult]] = {name: [] for name, _, _ in [PING, *endpoints]}
    baselines: dict[str, list[float]] = {name: [] for name, _, _ in endpoints}

    def run(name: str, script: str, path: str) -> WrkResult:
        result = wrk(
            name,
            base,
            script,
            env={**(readers_env if name in READERS else wrk_env), "WRK_PATH": path},
            duration=args.duration,
            connections=args.connections,
        )
        results[name].append(result)
        return result

    wrk(
        "warm-up",
        base,
        "get.lua",
        env={**wrk_env, "WRK_PATH": "/api/v1/ping"},
        duration=3,
        connections=args.connections,
    )
    for _ in range(args.rounds):
        before = run(*PING)
        for name, script, path in endpoints:
            run(name, script, path)
            after = run(*PING)
            baselines[name].append((before.rps + after.rps) / 2)
            before = after
    return results, baselines


def _table(results: dict[str, list[WrkResult]], baselines: dict[str, list[float]]) -> str:
    lines = [
        "| endpoint | req/s (median) | vs. no-op (median of rounds) | each round | p50 ms | "
        "p95 ms | p99 ms | errors |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for name, runs in results.items():
        if name in baselines:
            ratios = [run.rps / ping * 100 for run, ping in zip(runs, baselines[name], strict=True)]
            ratio, each = f"{_median(ratios):.0f} %", " / ".join(f"{x:.0f}" for x in ratios)
        else:
            rates = [run.rps for run in runs]
            ratio, each = "100 %", f"{len(runs)} runs, {min(rates):,.0f}-{max(rates):,.0f} req/s"
        lines.append(
            f"| {name} | {_median([r.rps for r in runs]):,.0f} | {ratio} | "
            f"{each} | {_median([r.p50_ms for r in runs]):.1f} | "
            f"{_median([r.p95_ms for r in runs]):.1f} | {_median([r.p99_ms for r in runs]):.1f} | "
            f"{sum(r.errors + r.non_2xx for r in runs)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument(
        "--only",
        default="",
        help="run only endpoints whose name contains this (several: separated by '|')",
    )
    args = parser.parse_args()

    env = bench_env("et_bench_journal")
    # The reference create's route is added by its own settings; every other route is the same.
    env["DJANGO_SETTINGS_MODULE"] = "reference.settings"
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent)
    fresh_database("et_bench_journal", env)
    sessions = django_script(SETUP, {**env, "BENCH_USERS": str(args.users)})
    folder = Path(tempfile.mkdtemp())
    half = len(sessions) // 2
    (folder / "writers.txt").write_text("\n".join(sessions[:half]) + "\n")
    (folder / "readers.txt").write_text("\n".join(sessions[half:]) + "\n")
    wrk_env = {"SESSIONS_FILE": str(folder / "writers.txt"), "WRK_DIR": str(WRK_DIR)}
    readers_env = {**wrk_env, "SESSIONS_FILE": str(folder / "readers.txt")}

    load_before = os.getloadavg()
    with gunicorn(env, workers=args.workers) as base:
        endpoints = [e for e in ENDPOINTS if _chosen(e[0], args.only)]
        warm, warm_baselines = _rounds(base, endpoints, args, wrk_env, readers_env)
    # The day view again with its cache turned off: every request builds the 90 days from
    # PostgreSQL (what the first read after a write costs).
    cold_env = {**env, "JOURNAL_DAY_VIEW_CACHE_SECONDS": "0"}
    cold_endpoints = [
        e
        for e in [
            ("GET /api/v1/journal/days (90 days, cache off)", "get.lua", "/api/v1/journal/days")
        ]
        if _chosen(e[0], args.only)
    ]
    with gunicorn(cold_env, workers=args.workers) as base:
        cold, cold_baselines = _rounds(base, cold_endpoints, args, wrk_env, readers_env)
    load_after = os.getloadavg()

    print(
        f"\nusers {args.users}, wrk {args.connections} connections, {args.rounds} rounds of "
        f"{args.duration}s per endpoint, gunicorn {args.workers} sync workers, {os.cpu_count()} cores, "
        f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after\n"
    )
    print(_table(warm, warm_baselines))
    print()
    print(_table(cold, cold_baselines))


if __name__ == "__main__":
    main()
