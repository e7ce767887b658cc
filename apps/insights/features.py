"""Day features: the bridge from journal and sales tables to the engine's arrays.

Writes go through services; this module holds the pure assembly of rows and arrays.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from apps.insights.engine import FEATURES
from apps.insights.models import FEATURE_COLUMNS

assert set(FEATURES) == set(FEATURE_COLUMNS), "engine vocabulary and DayFeature columns differ"

WORK_COLUMNS = (
    "calls",
    "connected_calls",
    "meetings_held",
    "qualified_meetings",
    "qualified_share",
    "decision_maker_rate",
    "deal_value",
)


def merge_day(
    journal: dict[str, float | None] | None, work: dict[str, Any] | None, day: dt.date
) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(FEATURE_COLUMNS)
    if journal:
        row.update({k: v for k, v in journal.items() if k in FEATURE_COLUMNS})
    if work:
        for name in WORK_COLUMNS:
            value = work.get(name)
            row[name] = None if value is None else float(value)
        # Deal values of a day in two currencies have no sum (10,000 euro cents and 1,000,000
        # yen are not 1,010,000 of anything): the day has no pipeline value.
        if row["deal_value"] and "deal_value_currency" in work and not work["deal_value_currency"]:
            row["deal_value"] = None
    row["working_day"] = day.weekday() < 5 or bool(work)
    return row


def to_arrays(
    rows: list[tuple[int, dt.date, dict[str, Any]]], n_users: int, as_of: dt.date, n_days: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, weekday, working_day) arrays; day index 0 is the oldest day."""
    features = np.full((n_users, n_days, len(FEATURES)), np.nan)
    working = np.zeros((n_users, n_days), dtype=bool)
    first = as_of - dt.timedelta(days=n_days - 1)
    weekday = np.array(
        [(first + dt.timedelta(days=i)).weekday() for i in range(n_days)], dtype=np.int64
    )
    working[:, :] = weekday[None, :] < 5
    column = {name: i for i, name in enumerate(FEATURES)}
    for user_index, day, values in rows:
        d = (day - first).days
        if not 0 <= d < n_days:
            continue
        for name, value in values.items():
            if name == "working_day":
                working[user_index, d] = bool(value)
            elif value is not None and name in column:
                features[user_index, d, column[name]] = value
    return features, weekday, working
