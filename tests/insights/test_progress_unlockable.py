"""Progress records only for tests that more logging can unlock."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from apps.insights import engine as E

COL = {name: j for j, name in enumerate(E.FEATURES)}
N_DAYS = 200


def _calendar(n_reps: int) -> tuple[np.ndarray, np.ndarray]:
    weekday = np.tile(np.arange(N_DAYS) % 7, (n_reps, 1))
    return weekday, weekday < 5


def _rep_logging_everything(rng: np.random.Generator) -> np.ndarray:
    """One rep: every feature logged every day with ordinary variation."""
    features = rng.normal(5.0, 1.0, size=(N_DAYS, len(E.FEATURES)))
    features[:, COL["drinks"]] = rng.choice([0.0, 0.0, 0.0, 1.0, 3.0], size=N_DAYS)
    features[:, COL["late_meal"]] = rng.choice([0.0, 0.0, 1.0], size=N_DAYS)
    features[:, COL["heavy_meals"]] = rng.choice([0.0, 0.0, 1.0, 2.0], size=N_DAYS)
    features[:, COL["sleep_minutes"]] = rng.normal(420, 40, size=N_DAYS)
    features[:, COL["exercise_minutes"]] = rng.choice([0.0, 20.0, 40.0], size=N_DAYS)
    return features


def _groups(result: E.EngineResult, rep: int) -> dict[tuple[str, str], E.Progress]:
    return {(p.construct, p.outcome): p for p in result.progress if p.rep_index == rep}


def test_a_factor_split_that_never_occurred_gets_no_progress() -> None:
    rng = np.random.default_rng(7)
    features = np.stack([_rep_logging_everything(rng) for _ in range(3)])
    # Rep 1 logs drinks every evening but never drinks, and never eats late or heavily.
    features[1, :, COL["drinks"]] = 0.0
    features[1, :, COL["late_meal"]] = 0.0
    features[1, :, COL["heavy_meals"]] = 0.0
    # Rep 2 drank once, on the first evening: the split has occurred; more days can unlock it.
    features[2, :, COL["drinks"]] = 0.0
    features[2, 0, COL["drinks"]] = 3.0
    features[2, :, COL["late_meal"]] = 0.0
    features[2, 5, COL["late_meal"]] = 1.0
    features[2, :, COL["heavy_meals"]] = 0.0
    weekday, working = _calendar(3)

    result = E.run_engine(features, weekday, working)

    never = _groups(result, 1)
    assert not [key for key in never if key[0] in ("alcohol", "food")]
    # Everything else of that rep still reports progress (or is already unlocked).
    assert ("sleep", "energy_mean") in never and ("exercise", "energy_mean") in never
    once = _groups(result, 2)
    alcohol = once[("alcohol", "energy_mean")]
    assert alcohol.days_logged >= 190 and alcohol.days_needed >= 7
    assert once[("food", "energy_morning")].days_needed > 0
    everything = _groups(result, 0)
    assert len(everything) == len(E.GROUPS)


def test_a_new_rep_who_has_not_drunk_yet_still_sees_the_countdown() -> None:
    """Under 30 logged days the 30-day minimum is what is missing anyway: the row stays."""
    rng = np.random.default_rng(10)
    features = _rep_logging_everything(rng)[None]
    features[0, :, COL["drinks"]] = np.nan
    features[0, -20:, COL["drinks"]] = 0.0  # 20 sober evenings logged so far
    weekday, working = _calendar(1)

    result = E.run_engine(features, weekday, working)

    alcohol = _groups(result, 0)[("alcohol", "energy_mean")]
    assert alcohol.days_logged <= 20 and alcohol.days_needed >= 10


def test_an_outcome_without_any_data_gets_no_progress() -> None:
    rng = np.random.default_rng(8)
    features = np.stack([_rep_logging_everything(rng) for _ in range(2)])
    # Rep 1 has no sales data at all (no CRM): only the energy outcomes can be unlocked.
    for outcome in E.WORK_OUTCOMES:
        features[1, :, COL[outcome]] = np.nan
    weekday, working = _calendar(2)

    result = E.run_engine(features, weekday, working)

    no_sales = _groups(result, 1)
    assert {outcome for _construct, outcome in no_sales} == set(E.ENERGY_OUTCOMES)
    assert len(no_sales) == sum(1 for (_c, o), _cols in E.GROUPS if o in E.ENERGY_OUTCOMES)
    assert {outcome for _construct, outcome in _groups(result, 0)} == set(E.OUTCOMES)


def test_a_journal_rep_who_logs_on_one_side_only_keeps_the_other_factors() -> None:
    """Within a construct, a factor whose split has occurred keeps the group's progress."""
    rng = np.random.default_rng(9)
    features = _rep_logging_everything(rng)[None]
    features[0, :, COL["heavy_meals"]] = 0.0  # never heavy, but late meals happen
    weekday, working = _calendar(1)

    result = E.run_engine(features, weekday, working)

    assert ("food", "energy_morning") in _groups(result, 0)


@pytest.mark.django_db
def test_the_nightly_run_drops_a_stored_row_that_can_no_longer_come_true(consenting_user) -> None:
    from apps.insights.models import InsightProgress
    from apps.insights.services import insights_compute
    from apps.journal.services import EntryInput, entries_upsert

    as_of = dt.date(2026, 11, 20)
    tz = ZoneInfo(consenting_user.timezone)
    items = []
    for back in range(1, 61):
        day = as_of - dt.timedelta(days=back)
        for hour, kind, values in (
            (10, "energy", {"level": 4 + back % 4}),
            (18, "exercise", {"duration_minutes": 20 + 20 * (back % 2)}),
            (21, "alcohol", {"standard_drinks": Decimal("0")}),  # logs drinks, never drinks
        ):
            at = dt.datetime.combine(day, dt.time(hour), tzinfo=tz)
            items.append(
                EntryInput(kind=kind, id=uuid.uuid4(), values={"occurred_at": at, **values})
            )
    entries_upsert(user=consenting_user, items=items)
    # What an earlier night stored: "log 8 more days" for alcohol, which never comes true.
    InsightProgress.objects.create(
        user=consenting_user,
        construct="alcohol",
        outcome="energy_mean",
        days_logged=59,
        days_needed=8,
    )

    insights_compute(user_ids=[consenting_user.pk], as_of=as_of)

    rows = InsightProgress.objects.filter(user=consenting_user)
    assert not rows.filter(construct="alcohol").exists()
    assert not rows.filter(outcome="calls").exists()  # no sales data at all
    assert rows.filter(construct="exercise", outcome="energy_mean").exists()
