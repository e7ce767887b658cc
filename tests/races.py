"""Two real transactions at once: one holds its locks while a request runs into them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection, transaction

BLOCKED_BY_ME = (
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE NOT granted"
    " AND pg_backend_pid() = ANY(pg_blocking_pids(pid)))"
)


@contextmanager
def while_another_transaction_holds(
    hold: Callable[[], Any], finish: Callable[[], Any] = lambda: None
) -> Iterator[None]:
    """``hold`` runs in another thread's transaction, which then stays open while the body runs,
    until the body waits on it (at most 15 s) or has finished without waiting, then runs
    ``finish`` and commits. Needs PostgreSQL and a test database that commits
    (``django_db(transaction=True)``).

    It waits for the wait itself, not a fixed time: a request slower than that (a loaded
    machine) would otherwise find the transaction already committed, and the race not run."""
    ready, done = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def other() -> None:
        try:
            with transaction.atomic():
                hold()
                ready.set()
                deadline = time.monotonic() + 15
                with connection.cursor() as cursor:
                    while not done.is_set() and time.monotonic() < deadline:
                        cursor.execute(BLOCKED_BY_ME)
                        if cursor.fetchone()[0]:
                            break
                        time.sleep(0.01)
                finish()
        except BaseException as exc:  # surfaced in the main thread below
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=other)
    thread.start()
    assert ready.wait(timeout=20), failures
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=30)
    assert not thread.is_alive(), "the other transaction never finished"
    assert not failures, failures
