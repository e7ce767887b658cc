"""Insight objects for the privacy sweep."""

from __future__ import annotations

import datetime as dt

from apps.accounts.models import User
from apps.insights.models import Insight
from tests.sweep_types import SweepCase


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


SWEEP = {
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
