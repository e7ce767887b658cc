"""A consent withdrawal that is under way (its consent row updated, not yet committed) while
something else runs: the race of a withdrawal against whatever stores what a consent allowed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction

from apps.privacy.services import consent_withdraw


def _lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def withdraw_while(user: Any, category: str, run: Callable[[], Any]) -> Any:
    """Withdraw ``category`` (keeping the entries) in another thread and connection, then call
    ``run`` here while that withdrawal is uncommitted. It commits once ``run`` waits for a lock
    (or once ``run`` has returned, if it never waits). Needs PostgreSQL and a test database
    that commits (``django_db(transaction=True)``)."""
    withdrawn, done = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def withdraw() -> None:
        try:
            with transaction.atomic():
                consent_withdraw(user=user, category=category, delete_entries=False)
                withdrawn.set()
                deadline = time.monotonic() + 20
                while not done.is_set() and time.monotonic() < deadline:
                    if _lock_waiters():
                        break
                    time.sleep(0.05)
        except BaseException as exc:  # surfaced in the calling thread below
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=withdraw)
    thread.start()
    assert withdrawn.wait(timeout=20), failures
    try:
        return run()
    finally:
        done.set()
        thread.join(timeout=30)
        assert not failures, failures
