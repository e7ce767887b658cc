"""The one thing other apps call when their data changes: mark days for recomputation.

Kept apart from ``services`` (which reads the journal and sales data) so the apps that write
that data can import it without a cycle.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from apps.insights.models import StaleDay


def days_mark_stale(*, user_id: Any, dates: Iterable[dt.date]) -> None:
    """Call inside the transaction that changed the days: one statement, however many days."""
    now = timezone.now()
    rows = [StaleDay(user_id=user_id, local_date=day, marked_at=now) for day in sorted(set(dates))]
    if rows:
        StaleDay.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["user", "local_date"],
            update_fields=["marked_at"],
        )
