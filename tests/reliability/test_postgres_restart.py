"""PostgreSQL goes away under a running gunicorn (issue 9, faults).

Requests fail cleanly, 503 with Retry-After in the one problem+json shape, never a 500 and
never a hang; gunicorn's workers reconnect by themselves once the server is back; and a
check-in (energy, sleep and drinks, one transaction) is either stored whole, exactly once, or
not at all. The server is a private cluster (conftest.py), never the shared one.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings

from tests.reliability.conftest import DATABASE
from tests.reliability.services import (
    Gunicorn,
    PrivatePostgres,
    PrivateRedis,
    Rep,
    gunicorn,
    make_reps,
    service_env,
    wait_until,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

CHECKIN = "/api/v1/journal/checkin"
PROBLEM_KEYS = {"type", "title", "status", "detail", "errors"}
CLIENTS = 8
OUTAGE_SECONDS = 2.0
SUCCESSES_BEFORE = 40
SUCCESSES_AFTER = 40
RETRY_PAUSE_SECONDS = 0.2


def full_checkin(energy_id: uuid.UUID) -> bool:
    # Half the check-ins are energy only: those run the one-statement write in autocommit
    # (journal.services._insert_together), the others run it in a transaction.
    return energy_id.int % 2 == 0


def checkin_body(energy_id: uuid.UUID) -> dict[str, Any]:
    if not full_checkin(energy_id):
        return {"id": str(energy_id), "level": 6, "focus": 3}
    # Three rows in one transaction: a half-stored check-in would show as a lone row.
    return {
        "id": str(energy_id),
        "level": 6,
        "focus": 3,
        "sleep": {"duration_minutes": 420, "quality": 4},
        "drinks": {"standard_drinks": "1.5"},
    }


def rows_when_stored(energy_id: uuid.UUID) -> int:
    return 3 if full_checkin(energy_id) else 1


def row_ids(energy_id: uuid.UUID) -> dict[str, uuid.UUID]:
    # The check-in names its sleep and drinks rows after its own id (journal.services).
    return {
        "journal_energycheckin": energy_id,
        "journal_sleepentry": uuid.uuid5(energy_id, "sleep"),
        "journal_alcoholentry": uuid.uuid5(energy_id, "drinks"),
    }


def assert_unavailable(response: requests.Response, *, api: bool = True) -> None:
    """503 with Retry-After; on API paths in the one problem+json shape."""
    assert response.status_code == 503, (response.status_code, response.text[:500])
    assert int(response.headers["Retry-After"]) >= 1
    if not api:
        return
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= PROBLEM_KEYS, body
    assert body["status"] == 503
    assert body["type"].endswith("/service-unavailable"), body
    assert body["detail"] and body["errors"] == {}


def stored_counts(server: PrivatePostgres, energy_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Per check-in: how many of its rows exist (none, or all of them: 3, or 1 when energy
    only, are the only honest answers)."""
    counts = dict.fromkeys(energy_ids, 0)
    with server.connect(DATABASE) as conn:
        for table in row_ids(uuid.uuid4()):
            wanted = {row_ids(energy_id)[table]: energy_id for energy_id in energy_ids}
            found = conn.execute(
                f"SELECT id, count(*) FROM {table} WHERE id = ANY(%s) GROUP BY id",  # noqa: S608
                [list(wanted)],
            ).fetchall()
            for row_id, count in found:
                counts[wanted[row_id]] += count
    return counts


def rows_of(server: PrivatePostgres, reps: list[Rep]) -> int:
    with server.connect(DATABASE) as conn:
        row = conn.execute(
            "SELECT count(*) FROM journal_energycheckin WHERE user_id = ANY(%s)",
            [[uuid.UUID(rep.user) for rep in reps]],
        ).fetchone()
    assert row is not None
    return int(row[0])


@dataclass
class Attempt:
    energy_id: uuid.UUID
    rep: Rep
    started: float
    ended: float
    status: int | None
    response: requests.Response | None
    error: str = ""


class CheckinLoad:
    """One thread per rep, each sending new check-ins back to back until stopped."""

    def __init__(self, base: str, reps: list[Rep]) -> None:
        self.base = base
        self.reps = reps
        self.attempts: list[Attempt] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(rep,)) for rep in reps]

    def _send(self, client: requests.Session, rep: Rep, energy_id: uuid.UUID) -> Attempt:
        started = time.monotonic()
        try:
            response: requests.Response | None = client.post(
                self.base + CHECKIN, json=checkin_body(energy_id), timeout=15
            )
            error = ""
        except requests.RequestException as exc:
            response, error = None, repr(exc)
        attempt = Attempt(
            energy_id=energy_id,
            rep=rep,
            started=started,
            ended=time.monotonic(),
            status=response.status_code if response is not None else None,
            response=response,
            error=error,
        )
        with self._lock:
            self.attempts.append(attempt)
        return attempt

    def _run(self, rep: Rep) -> None:
        client = rep.http()
        while not self._stop.is_set():
            if self._send(client, rep, uuid.uuid4()).status == 503:
                # A phone backs off briefly; without it the outage is thousands of 503s.
                time.sleep(RETRY_PAUSE_SECONDS)

    def resend(self, refused: list[Attempt]) -> list[Attempt]:
        """Send each refused check-in again, with its own id, as the phone's outbox does."""
        self.attempts = []

        def run(rep: Rep) -> None:
            client = rep.http()
            for attempt in refused:
                if attempt.rep is rep:
                    self._send(client, rep, attempt.energy_id)

        threads = [threading.Thread(target=run, args=(rep,)) for rep in self.reps]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        return self.attempts

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def count(self, accept: Callable[[Attempt], bool]) -> int:
        with self._lock:
            return sum(1 for attempt in self.attempts if accept(attempt))


@pytest.mark.parametrize("stop_mode", ["fast", "immediate"])
def test_postgres_restart_mid_load(
    private_postgres: PrivatePostgres,
    private_redis: PrivateRedis,
    tmp_path: Path,
    stop_mode: str,
) -> None:
    """``fast``: an orderly restart (sessions terminated, open transactions rolled back).
    ``immediate``: a crash; the server recovers from its WAL when it starts again."""
    env = service_env(private_postgres.url(DATABASE), private_redis.url)
    reps = make_reps(env, f"restart-{stop_mode}-", CLIENTS)
    with gunicorn(env, tmp_path / "gunicorn.log") as server:
        workers_before = server.worker_pids()
        load = CheckinLoad(server.base, reps)
        began = time.monotonic()
        load.start()
        try:
            wait_until(
                lambda: load.count(lambda a: a.status == 201) >= SUCCESSES_BEFORE, 30, what="load"
            )
            went_down = time.monotonic()
            private_postgres.stop(stop_mode)
            time.sleep(OUTAGE_SECONDS)
            private_postgres.start()
            came_back = time.monotonic()
            wait_until(
                lambda: (
                    load.count(lambda a: a.status == 201 and a.started > came_back)
                    >= SUCCESSES_AFTER
                ),
                30,
                what="recovery",
            )
        finally:
            load.stop()
            private_postgres.ensure_running()
        workers_after = server.worker_pids()
        attempts = list(load.attempts)
        created = [a for a in attempts if a.status == 201]
        refused = [a for a in attempts if a.status == 503]
        other = [a for a in attempts if a.status not in (201, 503)]
        stored = stored_counts(private_postgres, [a.energy_id for a in attempts])
        energy_rows = rows_of(private_postgres, reps)
        # The retry advice works: each refused check-in, sent again, is stored once.
        retries = CheckinLoad(server.base, reps).resend(refused)

    first_ok_after = min(a.ended for a in created if a.started > came_back)
    figures = {
        "requests": len(attempts),
        "created": len(created),
        "created_energy_only": sum(1 for a in created if not full_checkin(a.energy_id)),
        "refused_energy_only": sum(1 for a in refused if not full_checkin(a.energy_id)),
        "503": len(refused),
        "other": len(other),
        "first_503_after_stop_s": round(min(a.ended for a in refused) - went_down, 3)
        if refused
        else None,
        "last_503_started_after_start_s": round(max(a.started for a in refused) - came_back, 3)
        if refused
        else None,
        "recovery_s": round(first_ok_after - came_back, 3),
        "run_s": round(time.monotonic() - began, 1),
    }
    print(f"\npostgres {stop_mode} restart: {figures}")

    # Never a 500, a reset connection or a timeout: 201 or a clean 503, nothing else.
    assert not other, [(a.status, a.error, a.response and a.response.text[:300]) for a in other]
    for attempt in refused:
        assert attempt.response is not None
        assert_unavailable(attempt.response)
    # The outage was seen (else this proved nothing), and it ended with the server.
    assert refused, figures
    assert max(a.started for a in refused) < came_back + 1.0, figures
    # Recovered by themselves: the same gunicorn workers, no restart.
    assert workers_after == workers_before

    # Every 201 stored whole and once; every 503 left nothing behind; nothing else was stored.
    assert {a.energy_id: stored[a.energy_id] for a in created} == {
        a.energy_id: rows_when_stored(a.energy_id) for a in created
    }
    assert {a.energy_id: stored[a.energy_id] for a in refused} == {a.energy_id: 0 for a in refused}
    assert energy_rows == len(created)
    assert len(retries) == len(refused)
    for retry in retries:
        assert retry.response is not None and retry.status == 201, retry.error
        assert retry.response.json()["energy"]["result"] == "created"
    assert stored_counts(private_postgres, [a.energy_id for a in refused]) == {
        a.energy_id: rows_when_stored(a.energy_id) for a in refused
    }


def test_database_down_every_path_answers_503_then_recovers(
    private_postgres: PrivatePostgres, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    """The database fails in different places of a request: DRF authentication (the session's
    user), DRF login, a plain Django view (admin), and SessionMiddleware saving a session after
    the view returned. Each is a 503 with Retry-After; once the server is back, each works."""
    env = service_env(private_postgres.url(DATABASE), private_redis.url)
    [rep] = make_reps(env, "paths-", 1)
    client = rep.http()
    anonymous = Rep(user="", session="", csrf=rep.csrf).http()
    refused_checkin = uuid.uuid4()

    def calls(server: Gunicorn) -> dict[str, requests.Response]:
        base = server.base
        return {
            "checkin": client.post(base + CHECKIN, json=checkin_body(refused_checkin), timeout=10),
            "day view": client.get(base + "/api/v1/journal/days", timeout=10),
            "login": anonymous.post(
                base + "/api/v1/auth/login",
                json={"email": "nobody@example.com", "password": "not-the-password-1"},
                timeout=10,
            ),
            "admin": client.get(base + "/admin/", allow_redirects=False, timeout=10),
            "session save": client.get(base + "/api/reliability-probe/session?value=2", timeout=10),
            "new session": requests.get(base + "/api/reliability-probe/session", timeout=10),
        }

    with gunicorn(env, tmp_path / "gunicorn.log", workers=2) as server:
        workers = server.worker_pids()
        # Every worker holds a live, persistent connection when the server goes.
        for _ in range(6):
            assert client.get(server.base + "/api/v1/journal/days", timeout=10).status_code == 200
        private_postgres.stop("fast")
        try:
            down = calls(server)
        finally:
            private_postgres.ensure_running()
        left_behind = stored_counts(private_postgres, [refused_checkin])
        up = calls(server)
        assert server.worker_pids() == workers

    for name, response in down.items():
        assert_unavailable(response, api=name != "admin")
    assert left_behind == {refused_checkin: 0}
    assert {name: response.status_code for name, response in up.items()} == {
        "checkin": 201,
        "day view": 200,
        "login": 400,
        "admin": 302,
        "session save": 200,
        "new session": 200,
    }, {name: r.text[:200] for name, r in up.items()}
    stored_after = stored_counts(private_postgres, [refused_checkin])
    assert stored_after == {refused_checkin: rows_when_stored(refused_checkin)}


def test_database_unavailable_middleware_is_registered() -> None:
    """The tests above run with the middleware inserted by tests/reliability/settings.py;
    this one checks that the project's own settings have it too, in the right places."""
    middleware = list(settings.MIDDLEWARE)
    assert "apps.core.middleware.DatabaseUnavailableMiddleware" in middleware
    assert "apps.core.middleware.SessionMiddleware" in middleware
    assert "django.contrib.sessions.middleware.SessionMiddleware" not in middleware
    assert middleware.index("apps.core.middleware.DatabaseUnavailableMiddleware") < (
        middleware.index("apps.core.middleware.SessionMiddleware")
    )
