"""Deal values in several currencies: the engine compares a rep's pipeline value only within
the rep's main currency (most days with a value; a tie goes to the most recent such day)."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import time_machine

from apps.accounts.models import User
from apps.insights.engine import FEATURES
from apps.insights.features import to_arrays
from apps.insights.models import DayFeature, Insight, InsightProgress
from apps.insights.services import day_features_rebuild, insights_compute
from apps.privacy.services import user_export
from tests.insights.deals import held_meeting, nights, weekdays_before

# The clock stands still at noon on a Tuesday; the engine reads the days up to yesterday.
NOW = dt.datetime(2026, 12, 1, 11, 0, tzinfo=dt.UTC)
AS_OF = dt.date(2026, 12, 1)
DEAL = FEATURES.index("deal_value")


@pytest.fixture(autouse=True)
def _frozen_clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def _row(day: dt.date, cents: float, currency: str | None) -> tuple[int, dt.date, dict[str, Any]]:
    return 0, day, {"working_day": True, "deal_value": cents, "deal_value_currency": currency}


def _deal_values(rows: list[tuple[int, dt.date, dict[str, Any]]]) -> dict[dt.date, float]:
    """The engine's deal value per day (NaN: none) for one rep over the 60 days to AS_OF."""
    features, _weekday, _working = to_arrays(rows, 1, AS_OF, 60)
    first = AS_OF - dt.timedelta(days=59)
    return {first + dt.timedelta(days=i): float(v) for i, v in enumerate(features[0, :, DEAL])}


@pytest.mark.django_db
def test_a_day_row_names_the_currency_of_its_deal_value(consenting_user: User) -> None:
    eur_day, jpy_day, mixed_day, no_value_day = weekdays_before(AS_OF, 4)
    held_meeting(consenting_user, eur_day, 1_250_000, "EUR")
    held_meeting(consenting_user, jpy_day, 900_000, "JPY")
    held_meeting(consenting_user, mixed_day, 1_000_000, "EUR")
    held_meeting(consenting_user, mixed_day, 50_000, "USD", hour=14)
    held_meeting(consenting_user, no_value_day, 0, "")
    day_features_rebuild(user_ids=[consenting_user.pk], date_from=eur_day, date_to=no_value_day)

    rows = {
        row.local_date: (row.deal_value, row.deal_value_currency)
        for row in DayFeature.objects.filter(user=consenting_user)
    }
    assert rows == {
        eur_day: (1_250_000.0, "EUR"),
        jpy_day: (900_000.0, "JPY"),
        mixed_day: (None, None),  # two currencies: no value, so no currency either
        no_value_day: (0.0, None),  # a zero is zero in any currency
    }


@pytest.mark.django_db
def test_the_engine_reads_deal_values_only_on_days_in_the_main_currency(
    consenting_user: User,
) -> None:
    """20 EUR days and 8 JPY days: the pipeline value is compared on the 20 EUR days only, while
    every other outcome still has all 28 days."""
    days = weekdays_before(AS_OF, 28)
    jpy_days = set(days[2::3][:8])  # spread over the weeks, not one block
    for day in days:
        if day in jpy_days:
            held_meeting(consenting_user, day, 150_000, "JPY")  # ¥150,000
        else:
            held_meeting(consenting_user, day, 100_000, "EUR")  # €1,000
    nights(consenting_user, {day: 6.0 if i % 2 else 8.0 for i, day in enumerate(days)})

    insights_compute(user_ids=[consenting_user.pk], as_of=AS_OF)

    currencies = DayFeature.objects.filter(user=consenting_user).values_list(
        "deal_value_currency", flat=True
    )
    assert Counter(currencies) == {"EUR": 20, "JPY": 8}
    logged = dict(
        InsightProgress.objects.filter(user=consenting_user, construct="sleep").values_list(
            "outcome", "days_logged"
        )
    )
    assert logged["deal_value"] == 20
    assert logged["meetings_held"] == 28


@pytest.mark.django_db
def test_no_pipeline_finding_from_comparing_yen_with_euro_cents(consenting_user: User) -> None:
    """Short nights on the days sold in yen, and a yen figure in minor units about 100 times a
    euro figure in cents for the same money: compared as one unit, short sleep would "go with"
    a far higher pipeline value. In euros alone, sleep and value are unrelated."""
    rng = np.random.default_rng(7)
    days = weekdays_before(AS_OF, 100)
    hours = {}
    for day in days:
        if rng.random() < 0.35:
            held_meeting(consenting_user, day, int(rng.integers(75_000, 225_000)), "JPY")
            hours[day] = float(rng.normal(5.5, 0.4))
        else:
            held_meeting(consenting_user, day, int(rng.integers(50_000, 150_000)), "EUR")
            hours[day] = float(rng.normal(7.3, 0.7))
    nights(consenting_user, hours)

    insights_compute(user_ids=[consenting_user.pk], as_of=AS_OF)

    pipeline = Insight.objects.filter(user=consenting_user, outcome="deal_value")
    assert list(pipeline.values_list("factor", "mean_high", "mean_low")) == []


def test_a_tie_goes_to_the_currency_of_the_most_recent_valued_day() -> None:
    days = weekdays_before(AS_OF, 10)
    eur_then_usd = [_row(d, 1000.0, "EUR") for d in days[:5]] + [
        _row(d, 2000.0, "USD") for d in days[5:]
    ]
    values = _deal_values(eur_then_usd)
    assert [values[d] for d in days[5:]] == [2000.0] * 5
    assert all(math.isnan(values[d]) for d in days[:5])

    usd_then_eur = [_row(d, 2000.0, "USD") for d in days[:5]] + [
        _row(d, 1000.0, "EUR") for d in days[5:]
    ]
    values = _deal_values(usd_then_eur)
    assert [values[d] for d in days[5:]] == [1000.0] * 5
    assert all(math.isnan(values[d]) for d in days[:5])


def test_the_main_currency_is_counted_in_the_engine_window_only() -> None:
    """Many yen days before the window do not outvote the euro days in it; a day with a zero
    value keeps its zero (zero is zero in any currency)."""
    first = AS_OF - dt.timedelta(days=59)
    before = [_row(first - dt.timedelta(days=i), 500_000.0, "JPY") for i in range(1, 31)]
    days = weekdays_before(AS_OF, 6)
    inside = [
        _row(days[0], 1000.0, "EUR"),
        _row(days[1], 1500.0, "EUR"),
        _row(days[2], 0.0, None),  # held meetings, no value: a real zero
        _row(days[3], 800_000.0, "JPY"),
        _row(days[4], 1200.0, "EUR"),
        _row(days[5], 700_000.0, "JPY"),
    ]
    values = _deal_values(before + inside)
    assert values[days[0]] == 1000.0 and values[days[1]] == 1500.0 and values[days[4]] == 1200.0
    assert values[days[2]] == 0.0
    assert math.isnan(values[days[3]]) and math.isnan(values[days[5]])


@pytest.mark.django_db
def test_the_export_carries_every_stored_field_of_a_day_row(consenting_user: User) -> None:
    day = weekdays_before(AS_OF, 1)[0]
    held_meeting(consenting_user, day, 1_250_000, "EUR")
    day_features_rebuild(user_ids=[consenting_user.pk], date_from=day, date_to=day)

    [row] = user_export(user=consenting_user)["insights"]["day_features"]
    # id, user and updated_at are the table's own bookkeeping.
    stored = {f.name for f in DayFeature._meta.concrete_fields} - {"id", "user", "updated_at"}
    assert set(row) == stored
    assert (row["deal_value"], row["deal_value_currency"]) == (1_250_000.0, "EUR")
