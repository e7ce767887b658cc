"""A consent withdrawal that is under way (its consent row updated, not yet committed) while
something else runs: the race of a withdrawal against whatever stores what a consent allowed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apps.privacy.services import consent_withdraw
from tests.races import while_another_transaction_holds


def withdraw_while(user: Any, category: str, run: Callable[[], Any]) -> Any:
    """Withdraw ``category`` (keeping the entries) in another thread and connection, then call
    ``run`` here while that withdrawal is uncommitted. It commits once ``run`` waits for it (or
    once ``run`` has returned, if it never waits)."""
    with while_another_transaction_holds(
        lambda: consent_withdraw(user=user, category=category, delete_entries=False)
    ):
        return run()
