"""Measure the SQL queries per request of every endpoint in the load mix (not a guess).

Runs inside the Django project against the load-test database (called by ``run.py``): the
test client sends the same requests as benchmarks/load/mix.lua, through the whole middleware
stack with session authentication and CSRF, and ``CaptureQueriesContext`` counts what each
request sends to PostgreSQL. Each variant is sent for several reps after one warm-up request
per rep (the session then comes from the cache, as it does under load); the first request of
a session that is not in the cache is measured separately.

    .venv/bin/python benchmarks/load/queries.py --seed DIR [--per-variant 5]

Prints a JSON list, one object per variant: endpoint, min and max query count, statuses.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import random
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"


def batch_body(rng: random.Random, n: int) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    kinds: list[dict[str, Any]] = [
        {"kind": "energy", "level": 5, "focus": 3},
        {"kind": "meal", "meal_type": "lunch", "heaviness": "normal", "tags": ["vegetables"]},
        {"kind": "alcohol", "standard_drinks": "1.0", "context": "social"},
        {"kind": "exercise", "duration_minutes": 30, "intensity": "moderate"},
        {"kind": "activity", "what": "walk", "duration_minutes": 20, "effect": "gave"},
        {"kind": "sleep", "duration_minutes": 420, "quality": 3},
    ]
    items = []
    for i in range(n):
        when = now - dt.timedelta(minutes=rng.randint(30, 60 * 36))
        items.append(
            {
                **kinds[i % len(kinds)],
                "id": str(uuid.uuid4()),
                "occurred_at": when.isoformat().replace("+00:00", "Z"),
            }
        )
    return {"items": items}


def webhook_body(rng: random.Random, emails: list[str], activities: int) -> bytes:
    occurred = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {
        "event_id": f"queries-{uuid.uuid4().hex}",
        "activities": [
            {
                "kind": "call",
                "external_id": uuid.uuid4().hex,
                "owner_email": rng.choice(emails),
                "occurred_at": occurred,
                "duration_seconds": 240,
                "outcome": "connected",
            }
            for _ in range(activities)
        ],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def measure(seed_dir: Path, per_variant: int) -> list[dict[str, Any]]:
    from django.contrib.sessions.backends.cached_db import SessionStore
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    seed = json.loads((seed_dir / "seed.json").read_text())
    sessions = [
        line.split() for line in (seed_dir / "sessions.txt").read_text().splitlines() if line
    ]
    rng = random.Random(3)
    picked = rng.sample(sessions, per_variant + 1)
    today = dt.datetime.now(dt.UTC).date()
    yesterday = today - dt.timedelta(days=1)

    def client_for(sid: str, csrf: str) -> Client:
        client = Client(enforce_csrf_checks=True, HTTP_HOST=HOST)
        client.cookies["sessionid"] = sid
        client.cookies["csrftoken"] = csrf
        return client

    def get(path: str) -> Callable[[Client, str], Any]:
        return lambda client, _csrf: client.get(path)

    def post(body: Callable[[], dict[str, Any]], path: str) -> Callable[[Client, str], Any]:
        return lambda client, csrf: client.post(
            path, data=json.dumps(body()), content_type="application/json", HTTP_X_CSRFTOKEN=csrf
        )

    def checkin(extra: dict[str, Any]) -> dict[str, Any]:
        return {"id": str(uuid.uuid4()), "level": rng.randint(1, 9), **extra}

    variants: list[tuple[str, Callable[[Client, str], Any]]] = [
        ("GET /api/v1/ping", get("/api/v1/ping")),
        (
            "POST /api/v1/journal/checkin (energy only)",
            post(lambda: checkin({}), "/api/v1/journal/checkin"),
        ),
        (
            "POST /api/v1/journal/checkin (+ sleep + drinks)",
            post(
                lambda: checkin(
                    {
                        "sleep": {"duration_minutes": 420, "quality": 3},
                        "drinks": {"standard_drinks": "2.0", "context": "dinner"},
                    }
                ),
                "/api/v1/journal/checkin",
            ),
        ),
        (
            "POST /api/v1/journal/batch (10 items)",
            post(lambda: batch_body(rng, 10), "/api/v1/journal/batch"),
        ),
        (
            "POST /api/v1/journal/batch (20 items)",
            post(lambda: batch_body(rng, 20), "/api/v1/journal/batch"),
        ),
        (
            "GET /api/v1/journal/days (yesterday..today)",
            get(f"/api/v1/journal/days?date_from={yesterday}&date_to={today}"),
        ),
        ("GET /api/v1/journal/days (default: 90 days)", get("/api/v1/journal/days")),
        *[
            (
                f"GET /api/v1/insights/trends/{s}?range=month",
                get(f"/api/v1/insights/trends/{s}?range=month"),
            )
            for s in ("energy-daily", "energy-by-hour", "sleep-vs-energy", "qualified-vs-energy")
        ],
        (
            "GET /api/v1/insights/trends/energy-daily?range=year",
            get("/api/v1/insights/trends/energy-daily?range=year"),
        ),
    ]

    results: list[dict[str, Any]] = []

    def record(
        name: str,
        counts: list[int],
        statuses: list[int],
        sql: list[str],
        repeat: list[int] | None = None,
    ) -> None:
        results.append(
            {
                "endpoint": name,
                "min": min(counts),
                "max": max(counts),
                "repeat_min": min(repeat) if repeat else None,
                "repeat_max": max(repeat) if repeat else None,
                "statuses": sorted(set(statuses)),
                "sql": [s[:200] for s in sql],
            }
        )

    clients = [(client_for(sid, csrf), csrf) for sid, csrf in picked[:per_variant]]
    for client, _csrf in clients:  # warm-up: the sessions are now in the cache
        client.get("/api/v1/ping")
    for name, send in variants:
        counts: list[int] = []
        repeats: list[int] = []
        statuses: list[int] = []
        sql: list[str] = []
        for client, csrf in clients:
            # First call of this request for this rep, then the same kind of request again
            # (a per-rep cache, if the endpoint has one, answers the second).
            for sink in (counts, repeats):
                with CaptureQueriesContext(connection) as ctx:
                    response = send(client, csrf)
                sink.append(len(ctx.captured_queries))
                statuses.append(response.status_code)
                if sink is counts:
                    sql = [q["sql"] for q in ctx.captured_queries]
        record(name, counts, statuses, sql, repeats)

    # The first request of a session that is not in the cache (e.g. after a Redis restart).
    sid, csrf = picked[per_variant]
    cache.delete(SessionStore(session_key=sid).cache_key)
    cold = client_for(sid, csrf)
    with CaptureQueriesContext(connection) as ctx:
        response = cold.get("/api/v1/ping")
    record(
        "GET /api/v1/ping (session not in the cache)",
        [len(ctx.captured_queries)],
        [response.status_code],
        [q["sql"] for q in ctx.captured_queries],
    )

    # The CRM webhook: no session, an HMAC signature per delivery.
    connections = seed["connections"]
    for activities in (1, 5):
        counts = []
        statuses = []
        sql = []
        for _ in range(per_variant):
            conn = rng.choice(connections)
            body = webhook_body(rng, conn["emails"], activities)
            ts = str(int(time.time()))
            digest = hmac.new(conn["secret"].encode(), ts.encode() + b"." + body, hashlib.sha256)
            client = Client(HTTP_HOST=HOST)
            with CaptureQueriesContext(connection) as ctx:
                response = client.post(
                    f"/api/v1/performance/webhooks/{conn['id']}",
                    data=body,
                    content_type="application/json",
                    HTTP_X_ENERGYTRACK_TIMESTAMP=ts,
                    HTTP_X_ENERGYTRACK_SIGNATURE=f"sha256={digest.hexdigest()}",
                )
            counts.append(len(ctx.captured_queries))
            statuses.append(response.status_code)
            sql = [q["sql"] for q in ctx.captured_queries]
        record(
            f"POST /api/v1/performance/webhooks/<id> ({activities} activities)",
            counts,
            statuses,
            sql,
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=Path, required=True, help="directory written by seed.py")
    parser.add_argument("--per-variant", type=int, default=5)
    args = parser.parse_args()
    import django

    django.setup()
    print(json.dumps(measure(args.seed, args.per_variant)))


if __name__ == "__main__":
    main()
