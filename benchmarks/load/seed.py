"""Seed the load-test database: reps with history, teams with CRM connections, sessions.

Runs inside the Django project (called by ``run.py`` with the benchmark environment):

    .venv/bin/python benchmarks/load/seed.py --reps 1000 --history-days 60 --out DIR

Writes ``DIR/sessions.txt`` (one "sessionid csrftoken" per line, as benchmarks/wrk/common.lua
reads it) and ``DIR/seed.json`` (CRM connections with their secret and rep e-mails, for the
signed webhook deliveries). Everything goes through the services the API uses (consent,
journal upserts, day features, CRM connections) except the bulk creation of users, consents
and sessions, which would otherwise cost a password hash or a round trip each, and of the
day features, rebuilt in one pass per 100 reps instead of day by day.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

REPS_PER_TEAM = 100
PASSWORD = "x-load-password-1"  # benchmark users on a throw-away database
# Most reps in one zone, some elsewhere: the local day and day boundary differ per rep.
ZONES = ["Europe/Amsterdam"] * 7 + ["Europe/London", "Europe/Berlin", "America/New_York"]


def _setup() -> None:
    import django

    django.setup()


def _history(rng: random.Random, now: dt.datetime, days: int) -> list[Any]:
    """A plausible phone log: wake + sleep, 2-4 energy check-ins, meals, some drinks/exercise."""
    from apps.journal.services import EntryInput

    items: list[EntryInput] = []

    def add(kind: str, **values: Any) -> None:
        items.append(EntryInput(kind=kind, id=uuid.uuid4(), values=values))

    for back in range(1, days + 1):
        day = (now - dt.timedelta(days=back)).replace(minute=0, second=0, microsecond=0)
        wake = day.replace(hour=6) + dt.timedelta(minutes=rng.randint(0, 90))
        add(
            "sleep",
            occurred_at=wake,
            bedtime=wake - dt.timedelta(minutes=rng.randint(330, 510)),
            quality=rng.randint(1, 5),
        )
        for hour in rng.sample([8, 10, 13, 15, 17], rng.randint(2, 4)):
            add(
                "energy",
                occurred_at=day.replace(hour=hour, minute=rng.randint(0, 59)),
                level=rng.randint(1, 9),
                focus=rng.randint(1, 5),
            )
        add("meal", occurred_at=day.replace(hour=7, minute=30), meal_type="breakfast")
        add(
            "meal",
            occurred_at=day.replace(hour=12, minute=rng.randint(0, 59)),
            meal_type="lunch",
            heaviness=rng.choice(["light", "normal", "heavy"]),
            tags=rng.sample(["vegetables", "protein", "wholegrain", "sugary", "fried", "fruit"], 2),
        )
        if rng.random() < 0.35:
            add(
                "alcohol",
                occurred_at=day.replace(hour=20),
                standard_drinks=rng.choice([1, 2, 3]),
                context="dinner",
            )
        if rng.random() < 0.4:
            add(
                "exercise",
                occurred_at=day.replace(hour=18),
                duration_minutes=rng.choice([20, 30, 45, 60]),
                intensity=rng.choice(["light", "moderate", "vigorous"]),
            )
    return items


def _history_for(
    pks: list[str], offset: int, step: int, now: dt.datetime, history_days: int
) -> int:
    """Child process: the history of every ``step``-th rep, through the journal service."""
    from django.db import connections as db_connections

    from apps.accounts.models import User
    from apps.journal.services import entries_upsert

    entries = 0
    users = User.objects.in_bulk(pks)
    for n, pk in enumerate(pks):
        items = _history(random.Random(offset + n * step), now, history_days)
        entries += len(items)
        outcomes = entries_upsert(user=users[uuid.UUID(pk)], items=items)
        bad = [o for o in outcomes if o.result != "created"]
        if bad:
            raise RuntimeError(f"seed entry refused: {bad[0]}")
    db_connections.close_all()
    return entries


def seed(reps: int, history_days: int, out: Path, processes: int = 2) -> dict[str, Any]:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.cached_db import SessionStore
    from django.contrib.sessions.models import Session
    from django.db import connections as db_connections
    from django.middleware.csrf import _get_new_csrf_string
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from apps.accounts.models import Membership, Role, Team, User
    from apps.insights.services import day_features_rebuild
    from apps.performance.services import crm_connection_create
    from apps.privacy.models import CONSENT_TEXT_VERSION, Category, ConsentEvent, ConsentState

    rng = random.Random(9)
    now = timezone.now()
    timings: dict[str, float] = {}
    started = time.monotonic()
    password = make_password(PASSWORD)
    users = User.objects.bulk_create(
        [
            User(
                email=f"load{i:05d}@bench.test",
                password=password,
                timezone=rng.choice(ZONES),
                date_joined=now - dt.timedelta(days=history_days + 30),
            )
            for i in range(reps)
        ]
    )
    ConsentEvent.objects.bulk_create(
        [
            ConsentEvent(user=u, category=c, granted=True, text_version=CONSENT_TEXT_VERSION)
            for u in users
            for c in Category.values
        ]
    )
    ConsentState.objects.bulk_create(
        [
            ConsentState(user=u, category=c, granted=True, text_version=CONSENT_TEXT_VERSION)
            for u in users
            for c in Category.values
        ]
    )
    connections = []
    for start in range(0, reps, REPS_PER_TEAM):
        members = users[start : start + REPS_PER_TEAM]
        team = Team.objects.create(name=f"Load team {start // REPS_PER_TEAM + 1}")
        Membership.objects.bulk_create(
            [Membership(team=team, user=u, role=Role.REP) for u in members]
        )
        connection, secret = crm_connection_create(team=team, name=f"load crm {team.name}")
        connections.append(
            {"id": str(connection.pk), "secret": secret, "emails": [u.email for u in members]}
        )
    timings["users_teams_consents_s"] = time.monotonic() - started

    started = time.monotonic()
    # Two processes (one per core): half the seeding time, the same data (a generator per rep).
    db_connections.close_all()
    pks = [str(u.pk) for u in users]
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        entries = sum(
            pool.starmap(
                _history_for,
                [(pks[i::processes], i, processes, now, history_days) for i in range(processes)],
            )
        )
    timings["journal_history_s"] = time.monotonic() - started

    started = time.monotonic()
    date_from = (now - dt.timedelta(days=history_days + 1)).date()
    date_to = (now + dt.timedelta(days=1)).date()
    features = 0
    for start in range(0, reps, 100):
        chunk = [u.pk for u in users[start : start + 100]]
        features += day_features_rebuild(user_ids=chunk, date_from=date_from, date_to=date_to)
    # The history marked its days for recomputation (or queued it: run.py flushes the broker
    # after seeding); they were just rebuilt in bulk, so the worker must not redo them under
    # load.
    import apps.insights.models as insight_models

    stale = getattr(insight_models, "StaleDay", None)
    if stale is not None:
        stale.objects.all().delete()
    timings["day_features_s"] = time.monotonic() - started

    started = time.monotonic()
    lines = []
    sessions = []
    expire = now + dt.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    store = SessionStore()
    for user in users:
        key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
        data = {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
        sessions.append(
            Session(session_key=key, session_data=store.encode(data), expire_date=expire)
        )
        lines.append(f"{key} {_get_new_csrf_string()}")
    Session.objects.bulk_create(sessions)
    timings["sessions_s"] = time.monotonic() - started

    out.mkdir(parents=True, exist_ok=True)
    # Shuffled so that wrk's round robin over sessions does not walk the teams in order.
    rng.shuffle(lines)
    (out / "sessions.txt").write_text("\n".join(lines) + "\n")
    summary = {
        "reps": reps,
        "history_days": history_days,
        "entries": entries,
        "day_features": features,
        "connections": connections,
        "timings": {k: round(v, 1) for k, v in timings.items()},
    }
    (out / "seed.json").write_text(json.dumps(summary))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--history-days", type=int, default=60)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    _setup()
    summary = seed(args.reps, args.history_days, args.out)
    print(
        json.dumps(
            {k: v for k, v in summary.items() if k != "connections"}
            | {"connections": len(summary["connections"])}
        )
    )


if __name__ == "__main__":
    main()
