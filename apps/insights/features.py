"""Day features: the bridge from journal and sales tables to the engine's arrays.

Writes go through services; this module holds the pure assembly of rows and arrays.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import numpy as np

from apps.insights.engine import FEATURES
from apps.insights.models import DAY_COLUMNS, FEATURE_COLUMNS

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
    row: dict[str, Any] = dict.fromkeys(DAY_COLUMNS)
    if journal:
        row.update({k: v for k, v in journal.items() if k in FEATURE_COLUMNS})
    if work:
        for name in WORK_COLUMNS:
            value = work.get(name)
            row[name] = None if value is None else float(value)
        currency = work.get("deal_value_currency") or None
        # Deal values of a day in two currencies have no sum (10,000 euro cents and 1,000,000
        # yen are not 1,010,000 of anything): the day has no pipeline value.
        if row["deal_value"] and "deal_value_currency" in work and not currency:
            row["deal_value"] = None
        # A zero is zero in any currency: only a value names one.
        row["deal_value_currency"] = currency if row["deal_value"] else None
    row["working_day"] = day.weekday() < 5 or bool(work)
    return row


def main_currencies(rows: Iterable[tuple[int, dt.date, dict[str, Any]]]) -> dict[int, str]:
    """Each rep's main currency: the one with the most days with a deal value; a tie goes to the
    currency of the most recent such day. Reps without any valued day are left out."""
    days: dict[tuple[int, str], int] = {}
    latest: dict[tuple[int, str], dt.date] = {}
    for user_index, day, values in rows:
        currency = values.get("deal_value_currency")
        if not currency or not values.get("deal_value"):
            continue
        key = (user_index, currency)
        days[key] = days.get(key, 0) + 1
        if key not in latest or day > latest[key]:
            latest[key] = day
    best: dict[int, tuple[int, dt.date, str]] = {}
    for (user_index, currency), count in days.items():
        candidate = (count, latest[(user_index, currency)], currency)
        if user_index not in best or candidate > best[user_index]:
            best[user_index] = candidate
    return {user_index: currency for user_index, (_n, _day, currency) in best.items()}


def rows_in_window(
    rows: Iterable[tuple[int, dt.date, dict[str, Any]]], as_of: dt.date, n_days: int
) -> list[tuple[int, dt.date, dict[str, Any]]]:
    """The rows of the ``n_days`` days up to and including ``as_of``."""
    first = as_of - dt.timedelta(days=n_days - 1)
    return [row for row in rows if 0 <= (row[1] - first).days < n_days]


def to_arrays(
    rows: list[tuple[int, dt.date, dict[str, Any]]],
    n_users: int,
    as_of: dt.date,
    n_days: int,
    *,
    currencies: dict[int, str] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, weekday, working_day) arrays; day index 0 is the oldest day.

    A rep's deal values are kept only on the days in their main currency over these days
    (see :func:`main_currencies`): minor units of two currencies are not one scale, so a day
    in another currency has no pipeline value for the engine, as a mixed day has none.
    ``currencies`` is ``main_currencies`` of the window's rows when the caller already has it
    (it names the currency of the findings).
    """
    features = np.full((n_users, n_days, len(FEATURES)), np.nan)
    working = np.zeros((n_users, n_days), dtype=bool)
    first = as_of - dt.timedelta(days=n_days - 1)
    weekday = np.array(
        [(first + dt.timedelta(days=i)).weekday() for i in range(n_days)], dtype=np.int64
    )
    working[:, :] = weekday[None, :] < 5
    column = {name: i for i, name in enumerate(FEATURES)}
    in_window = rows_in_window(rows, as_of, n_days)
    main = main_currencies(in_window) if currencies is None else currencies
    for user_index, day, values in in_window:
        d = (day - first).days
        currency = main.get(user_index)
        other_currency = currency is not None and values.get("deal_value_currency") != currency
        for name, value in values.items():
            if name == "working_day":
                working[user_index, d] = bool(value)
            elif value is not None and name in column:
                if name == "deal_value" and value and other_currency:
                    continue
                features[user_index, d, column[name]] = value
    return features, weekday, working
