"""Redis goes away under a running system (issue 9, faults): gunicorn, a Celery worker and beat
on a private Redis (cache, sessions, throttles, broker) and a private PostgreSQL.

While Redis is down, check-ins, batch syncs and CSV imports still succeed (201/200) promptly
and everything sent is stored. Once Redis is back, the background work missed meanwhile (the
day features of the days written) happens by itself: the worker and beat reconnect, nobody
restarts anything and nothing is sent again.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.reliability.conftest import DATABASE
from tests.reliability.services import (
    PrivatePostgres,
    PrivateRedis,
    Rep,
    celery,
    gunicorn,
    make_reps,
    service_env,
    stop,
    wait_until,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

AMS = ZoneInfo("Europe/Amsterdam")
REPS = 3
BATCH_DAYS = 10
CALL_DAYS = 3
CALLS_PER_DAY = 2
# Comfortably more than the 30 s between two runs of the stale-days job in the beat schedule.
BACKGROUND_WAIT_SECONDS = 45
OUTAGE_SECONDS = 8.0
SLOWEST_ANSWER_SECONDS = 5.0


def local_day(instant: dt.datetime) -> dt.date:
    # The reps' default day boundary is 04:00 (apps.core.time.local_date).
    return (instant.astimezone(AMS) - dt.timedelta(hours=4)).date()


def at(day: dt.date, hour: int) -> str:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=AMS).isoformat()


def batch_items(today: dt.date) -> tuple[list[dict[str, Any]], dict[dt.date, float]]:
    """One energy entry a day for the last BATCH_DAYS days; the expected energy per day."""
    items, energy = [], {}
    for back in range(1, BATCH_DAYS + 1):
        day = today - dt.timedelta(days=back)
        level = back % 9 + 1
        items.append(
            {"kind": "energy", "id": str(uuid.uuid4()), "occurred_at": at(day, 10), "level": level}
        )
        energy[day] = float(level)
    return items, energy


def calls_csv(today: dt.date, tag: str) -> tuple[bytes, dict[dt.date, float]]:
    lines = ["kind,external_id,occurred_at,duration_seconds,outcome"]
    calls: dict[dt.date, float] = {}
    for back in range(1, CALL_DAYS + 1):
        day = today - dt.timedelta(days=back)
        for n in range(CALLS_PER_DAY):
            outcome = "connected" if n == 0 else "no_answer"
            lines.append(f"call,{tag}-{back}-{n},{at(day, 9 + n)},{180 * (1 - n)},{outcome}")
        calls[day] = float(CALLS_PER_DAY)
    return ("\n".join(lines) + "\n").encode(), calls


def features(server: PrivatePostgres, reps: list[Rep]) -> dict[tuple[str, dt.date], Any]:
    with server.connect(DATABASE) as conn:
        rows = conn.execute(
            "SELECT user_id, local_date, energy_mean, calls FROM insights_dayfeature "
            "WHERE user_id = ANY(%s)",
            [[uuid.UUID(rep.user) for rep in reps]],
        ).fetchall()
    return {(str(user), day): (energy, calls) for user, day, energy, calls in rows}


def count(server: PrivatePostgres, sql: str, *params: Any) -> int:
    with server.connect(DATABASE) as conn:
        row = conn.execute(sql, list(params)).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("failure", ["killed", "frozen"])
def test_redis_down_writes_succeed_and_missed_work_runs_when_it_is_back(
    private_postgres: PrivatePostgres, private_redis: PrivateRedis, tmp_path: Path, failure: str
) -> None:
    """``killed``: the server is gone (connections refused) and comes back empty, as after a
    crash. ``frozen``: it stops answering but keeps its sockets open (SIGSTOP, like a network
    partition or a stalled host), then carries on with everything it held."""
    began = time.monotonic()
    env = service_env(private_postgres.url(DATABASE), private_redis.url)
    reps = make_reps(env, f"redis-{failure}-", REPS)
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    worker = celery(
        env,
        worker_log,
        "worker",
        "--pool=solo",
        "--without-mingle",
        "--without-gossip",
        "-n",
        f"redis-down-{uuid.uuid4().hex[:6]}@%h",
    )
    beat = celery(
        env,
        beat_log,
        "beat",
        "--schedule",
        str(tmp_path / "beat-schedule"),
        "--pidfile",
        str(tmp_path / "beat.pid"),
    )
    answers: list[tuple[str, int, float]] = []
    expected: dict[tuple[str, dt.date], tuple[float | None, float | None]] = {}
    energy_ids: list[str] = []
    try:
        with gunicorn(env, tmp_path / "gunicorn.log") as server:
            wait_until(lambda: "ready." in worker_log.read_text(), 30, what="celery worker")
            clients = {rep.user: rep.http() for rep in reps}

            def send(
                rep: Rep, name: str, method: str, path: str, **kwargs: Any
            ) -> requests.Response:
                started = time.monotonic()
                response = clients[rep.user].request(
                    method, server.base + path, timeout=30, **kwargs
                )
                answers.append((name, response.status_code, time.monotonic() - started))
                return response

            if failure == "killed":
                private_redis.kill()
            else:
                private_redis.freeze()
            down_at = time.monotonic()
            today = local_day(dt.datetime.now(tz=dt.UTC))
            for rep in reps:
                checkin_id = str(uuid.uuid4())
                response = send(rep, "checkin", "POST", "/api/v1/journal/checkin", json={
                    "id": checkin_id, "level": 6
                })  # fmt: skip
                assert response.status_code == 201, response.text
                energy_ids.append(checkin_id)
                checkin_day = dt.date.fromisoformat(
                    response.json()["energy"]["entry"]["local_date"]
                )

                items, energy = batch_items(today)
                response = send(
                    rep, "batch", "POST", "/api/v1/journal/batch", json={"items": items}
                )
                assert response.status_code == 200, response.text
                assert response.json()["counts"] == {"created": BATCH_DAYS}, response.text
                energy_ids.extend(item["id"] for item in items)

                body, calls = calls_csv(today, rep.user[:8])
                response = send(
                    rep,
                    "import",
                    "POST",
                    "/api/v1/performance/imports",
                    data={"format": "energytrack"},
                    files={"file": ("calls.csv", body, "text/csv")},
                )
                assert response.status_code == 201, response.text
                assert response.json()["counts"]["created"] == CALL_DAYS * CALLS_PER_DAY

                expected[(rep.user, checkin_day)] = (6.0, None)
                for day, level in energy.items():
                    expected[(rep.user, day)] = (level, calls.get(day))
            # Long enough for the worker and beat to notice and start reconnecting; the
            # check-ins keep coming meanwhile.
            while time.monotonic() - down_at < OUTAGE_SECONDS:
                for rep in reps:
                    checkin_id = str(uuid.uuid4())
                    response = send(rep, "checkin", "POST", "/api/v1/journal/checkin", json={
                        "id": checkin_id, "level": 6
                    })  # fmt: skip
                    assert response.status_code == 201, response.text
                    energy_ids.append(checkin_id)
                time.sleep(0.5)
            outage_seconds = time.monotonic() - down_at
            if failure == "killed":
                private_redis.start()
            else:
                private_redis.thaw()
            back_at = time.monotonic()

            # Nothing sent during the outage is missing.
            assert count(
                private_postgres,
                "SELECT count(*) FROM journal_energycheckin WHERE id = ANY(%s)",
                [uuid.UUID(i) for i in energy_ids],
            ) == len(energy_ids)
            assert (
                count(
                    private_postgres,
                    "SELECT count(*) FROM performance_call WHERE user_id = ANY(%s)",
                    [uuid.UUID(rep.user) for rep in reps],
                )
                == REPS * CALL_DAYS * CALLS_PER_DAY
            )

            # The missed work: every day written gets its features, by itself.
            def caught_up() -> bool:
                return all(
                    features(private_postgres, reps).get(key) == value
                    for key, value in expected.items()
                )

            try:
                wait_until(caught_up, BACKGROUND_WAIT_SECONDS, interval=0.5, what="features")
            except TimeoutError:
                missing = {
                    key: (features(private_postgres, reps).get(key), value)
                    for key, value in expected.items()
                    if features(private_postgres, reps).get(key) != value
                }
                raise AssertionError(
                    f"day features not recomputed after Redis came back: {missing}\n"
                    f"worker log:\n{worker_log.read_text()[-3000:]}\n"
                    f"beat log:\n{beat_log.read_text()[-2000:]}"
                ) from None
            caught_up_after = time.monotonic() - back_at
            assert (
                count(
                    private_postgres,
                    "SELECT count(*) FROM insights_staleday WHERE user_id = ANY(%s)",
                    [uuid.UUID(rep.user) for rep in reps],
                )
                == 0
            )
            # The worker and beat rode it out: still the processes started before the outage.
            assert worker.poll() is None and beat.poll() is None
    finally:
        stop(beat)
        stop(worker)

    slowest = max(seconds for _, _, seconds in answers)
    print(
        f"\nredis {failure}: {len(answers)} requests answered {sorted({s for _, s, _ in answers})} "
        f"during a {outage_seconds:.1f}s outage, slowest {slowest:.2f}s; "
        f"{len(expected)} day features caught up {caught_up_after:.1f}s after Redis returned; "
        f"run {time.monotonic() - began:.1f}s"
    )
    assert slowest < SLOWEST_ANSWER_SECONDS, answers
