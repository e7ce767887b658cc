"""A finding found again shows tonight's figures, without a second notification; a share that
moves materially is a new finding."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from apps.insights import engine
from apps.insights.models import Insight
from apps.insights.services import fingerprint, insight_set_feedback, insights_compute
from apps.journal.services import EntryInput, entries_upsert
from apps.notifications.models import Notification

AMS = ZoneInfo("Europe/Amsterdam")


def _seed_alcohol_pattern(user, as_of: dt.date, days: int, seed: int = 3) -> None:
    """Energy drops by 1.5 after 3+ drinks the evening before."""
    rng = np.random.default_rng(seed)
    items, previous = [], 0.0
    for offset in range(days, 0, -1):
        day = as_of - dt.timedelta(days=offset)
        weekend = day.weekday() in (4, 5)
        drinks = float(rng.choice([0, 0, 0, 1, 2, 3, 4] if weekend else [0, 0, 0, 0, 0, 1, 3]))
        energy = 6.3 - (1.5 if previous >= 3 else 0.0) + rng.normal(0, 0.8)
        previous = drinks
        for hour, kind, values in (
            (10, "energy", {"level": int(min(9, max(1, round(energy))))}),
            (21, "alcohol", {"standard_drinks": Decimal(str(drinks))}),
        ):
            at = dt.datetime.combine(day, dt.time(hour), tzinfo=AMS)
            items.append(
                EntryInput(kind=kind, id=uuid.uuid4(), values={"occurred_at": at, **values})
            )
    assert {o.result for o in entries_upsert(user=user, items=items)} == {"created"}


def _alcohol_energy(user) -> Insight:
    return Insight.objects.get(user=user, construct="alcohol", outcome="energy_mean")


@pytest.mark.django_db
def test_a_finding_found_again_on_more_data_shows_the_new_figures_without_a_new_message(
    consenting_user,
) -> None:
    today = dt.date(2026, 11, 20)
    _seed_alcohol_pattern(consenting_user, today, days=260)
    first_night = today - dt.timedelta(days=60)
    insights_compute(user_ids=[consenting_user.pk], as_of=first_night)
    insight = _alcohol_energy(consenting_user)
    insight.status = Insight.Status.READ
    insight.save(update_fields=["status"])
    insight_set_feedback(insight=insight, feedback=Insight.Feedback.HELPFUL)
    before = (insight.n_high, insight.n_low, insight.mean_high, insight.q_value, insight.params)
    messages_before = Notification.objects.filter(
        user=consenting_user, kind=Notification.Kind.INSIGHT
    ).count()
    assert messages_before == 1

    counts = insights_compute(user_ids=[consenting_user.pk], as_of=today)

    again = _alcohol_energy(consenting_user)
    assert again.pk == insight.pk and again.fingerprint == insight.fingerprint
    assert counts["new"] == 0
    # 60 more days: more days in both groups, and the figures shown are tonight's.
    assert again.n_high + again.n_low > insight.n_high + insight.n_low
    assert (again.n_high, again.n_low, again.mean_high, again.q_value, again.params) != before
    assert (again.params["n_high"], again.params["n_low"]) == (again.n_high, again.n_low)
    assert again.computed_on == today
    assert again.current
    # What the rep said stays, and nothing is sent a second time.
    assert (again.status, again.feedback) == (Insight.Status.READ, Insight.Feedback.HELPFUL)
    assert (
        Notification.objects.filter(user=consenting_user, kind=Notification.Kind.INSIGHT).count()
        == 1
    )


def _finding(outcome: str, mean_low: float, mean_high: float) -> engine.Finding:
    return engine.Finding(
        rep_index=0,
        factor="sleep_minutes",
        construct="sleep",
        outcome=outcome,
        lag=0,
        direction=1,
        rho=0.3,
        z=4.0,
        q_value=0.01,
        n_eff=80.0,
        n_high=60,
        n_low=40,
        mean_high=mean_high,
        mean_low=mean_low,
        diff_low_ci=0.05,
        diff_high_ci=0.3,
        split_label="sleep_minutes>=420",
        threshold=420.0,
    )


@pytest.mark.parametrize("outcome", ["qualified_share", "decision_maker_rate"])
def test_a_share_effect_moving_from_12_to_24_points_is_a_new_finding(outcome: str) -> None:
    user_id = uuid.uuid4()
    twelve = _finding(outcome, mean_low=0.40, mean_high=0.52)
    twenty_four = dataclasses.replace(twelve, mean_high=0.64)
    assert fingerprint(user_id, twelve) != fingerprint(user_id, twenty_four)
    # A point or so of noise is not a new finding.
    assert fingerprint(user_id, twelve) == fingerprint(
        user_id, dataclasses.replace(twelve, mean_high=0.51)
    )


def test_ratings_keep_the_half_point_rounding() -> None:
    user_id = uuid.uuid4()
    energy = _finding("energy_mean", mean_low=6.0, mean_high=6.9)
    assert fingerprint(user_id, energy) == fingerprint(
        user_id, dataclasses.replace(energy, mean_high=7.1)
    )
    assert fingerprint(user_id, energy) != fingerprint(
        user_id, dataclasses.replace(energy, mean_high=7.4)
    )


@pytest.mark.django_db
def test_migration_gives_stored_share_insights_the_new_fingerprint(user) -> None:
    """After the deploy the nightly run must find stored share insights again (a refresh),
    not announce each once more; an imported insight's own fingerprint is left alone."""
    import hashlib
    import importlib
    from types import SimpleNamespace

    from django.apps import apps as django_apps

    from tests.insights.sweep import make_insight

    migration = importlib.import_module("apps.insights.migrations.0004_share_fingerprints")
    figures = {"outcome": "qualified_share", "mean_high": 0.42, "mean_low": 0.30}
    old = hashlib.sha256(
        f"{user.pk}|alcohol|qualified_share|-1|{round(0.12 * 2)}".encode()
    ).hexdigest()
    computed = make_insight(user, direction=-1, fingerprint=old, **figures)
    imported = make_insight(user, direction=-1, fingerprint="import-kept", **figures)

    migration.forwards(django_apps, None)

    computed.refresh_from_db()
    imported.refresh_from_db()
    finding = SimpleNamespace(construct="alcohol", direction=-1, **figures)
    assert computed.fingerprint == fingerprint(user.pk, finding)
    assert imported.fingerprint == "import-kept"
    migration.backwards(django_apps, None)
    computed.refresh_from_db()
    assert computed.fingerprint == old
