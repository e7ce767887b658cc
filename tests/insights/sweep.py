"""Insight objects for the privacy sweep."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from apps.accounts.models import User
from apps.insights.models import DayFeature, Insight, InsightProgress
from tests.sweep_types import SweepCase

# What the owner's day values and progress look like in the trend series and the insight
# list (as the API renders them): the list walk must find none of it as anyone else.
DERIVED_SECRETS = ['"energy":3.14', '"sleep_hours":6.95', '"days_needed":37']


def make_insight(owner: User, **overrides: object) -> Insight:
    values: dict[str, object] = {
        "construct": "alcohol",
        "factor": "drinks",
        "outcome": "energy_mean",
        "lag": 1,
        "direction": -1,
        "mean_high": 4.9,
        "mean_low": 6.3,
        "n_high": 21,
        "n_low": 143,
        "diff_ci_low": -1.9,
        "diff_ci_high": -0.9,
        "q_value": 0.02,
        "rho": -0.3,
        "split_label": "drinks>=3",
        "threshold": 3.0,
        "message_key": "pattern",
        "params": {
            "factor": "drinks",
            "lag": 1,
            "outcome": "energy_mean",
            "threshold": 3.0,
            "mean_high": 4.9,
            "mean_low": 6.3,
            "n_high": 21,
            "n_low": 143,
        },
        "fingerprint": f"fp-{owner.pk}-{Insight.objects.count()}",
        "computed_on": dt.date(2026, 11, 20),
    }
    values.update(overrides)
    return Insight.objects.create(user=owner, **values)


def _insight(owner: User) -> list[SweepCase]:
    insight = make_insight(owner)
    return [
        SweepCase(
            params={"insight_id": str(insight.pk)},
            body={"status": "dismissed", "feedback": "helpful"},
            secret_ids=[str(insight.pk)],
        )
    ]


def _derived(owner: User) -> list[SweepCase]:
    """Day values (the trends) and progress (the insight list): no route addresses them by
    id, so they are looked for by their values."""
    today = timezone.now().date()
    for days_ago in (1, 2, 3):
        DayFeature.objects.create(
            user=owner,
            local_date=today - dt.timedelta(days=days_ago),
            working_day=True,
            energy_mean=3.14159,
            sleep_minutes=417.0,
            meetings_held=3.0,
            qualified_meetings=2.0,
        )
    InsightProgress.objects.create(
        user=owner, construct="sleep", outcome="calls", days_logged=23, days_needed=37
    )
    return [SweepCase(params={}, secret_ids=list(DERIVED_SECRETS))]


SWEEP = {
    # Not a route: the list walk gathers every fixture's secrets, this one's included.
    "derived day values and progress": _derived,
    "/api/v1/insights/{insight_id}": _insight,
    "/api/v1/insights/{insight_id}/status": _insight,
    "/api/v1/insights/{insight_id}/feedback": _insight,
}
LIST_PARAMS = {
    "/api/v1/insights/trends/{series}": [
        {"series": series}
        for series in (
            "energy-daily",
            "energy-weekly",
            "energy-by-hour",
            "sleep-vs-energy",
            "qualified-vs-energy",
        )
    ]
}
