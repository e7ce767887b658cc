"""Journal write/read throughput against gunicorn on PostgreSQL, relative to an authenticated
no-op DRF endpoint measured in the same run (issue 3).

    .venv/bin/python benchmarks/journal_http.py [--duration 10] [--users 50]

Creates a fresh database `et_bench_journal`, 50 consenting reps with sessions and 90 days of
data each, starts gunicorn (4 sync workers: 2 per core), and drives it with wrk on loopback.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from harness import TABLE_HEAD, WRK_DIR, bench_env, django_script, fresh_database, gunicorn, wrk

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()

    env = bench_env("et_bench_journal")
    fresh_database("et_bench_journal", env)
    sessions = django_script(SETUP, {**env, "BENCH_USERS": str(args.users)})
    sessions_file = Path(tempfile.mkdtemp()) / "sessions.txt"
    sessions_file.write_text("\n".join(sessions) + "\n")
    wrk_env = {"SESSIONS_FILE": str(sessions_file), "WRK_DIR": str(WRK_DIR)}

    with gunicorn(env) as base:

        def run(name: str, script: str, path: str = "") -> object:
            return wrk(
                name,
                base,
                script,
                env={**wrk_env, "WRK_PATH": path},
                duration=args.duration,
                connections=args.connections,
            )

        run("warm-up", "get.lua", "/api/v1/ping")
        ping = run("GET /api/v1/ping (authenticated no-op)", "get.lua", "/api/v1/ping")
        checkin = run("POST /api/v1/journal/checkin", "checkin.lua")
        upsert = run("PUT /api/v1/journal/energy/<uuid>", "upsert.lua")
        batch = run("POST /api/v1/journal/batch (100 items)", "batch.lua")
        days = run("GET /api/v1/journal/days (90 days)", "get.lua", "/api/v1/journal/days")
        ping2 = run("GET /api/v1/ping (again, drift check)", "get.lua", "/api/v1/ping")

    print(
        f"\nusers {args.users}, wrk {args.connections} connections, {args.duration}s per run, "
        f"gunicorn 4 sync workers, {os.cpu_count()} cores\n"
    )
    print(TABLE_HEAD)
    for result in (ping, checkin, upsert, batch, days, ping2):
        print(result.row(ping.rps))  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
