"""Builders shared by the coaching tests: insights, day features and a share taken through
its real life cycle (create → accept → draft → approve) with the services."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from apps.accounts.models import User
from apps.coaching import services
from apps.coaching.models import ShareGrant, Summary
from apps.insights.models import DayFeature, Insight
from tests.factories import UserFactory

# Thursday 26 November 2026, 17:00 in Amsterdam: last complete ISO week is 2026-W47.
NOW = dt.datetime(2026, 11, 26, 16, 0, tzinfo=dt.UTC)
LAST_WEEK = dt.date(2026, 11, 16)
ALL_SCOPES = [
    "energy_trend",
    "sleep_regularity",
    "sales_quality_trend",
    "chosen_insights",
    "personal_note",
]


def make_insight(
    user: User,
    *,
    factor: str = "sleep_minutes",
    construct: str = "sleep",
    outcome: str = "qualified_meetings",
    lag: int = 0,
    threshold: float = 420.0,
    mean_high: float = 2.4,
    mean_low: float = 1.1,
    current: bool = True,
) -> Insight:
    params = {
        "factor": factor,
        "lag": lag,
        "outcome": outcome,
        "threshold": threshold,
        "mean_high": mean_high,
        "mean_low": mean_low,
        "n_high": 20,
        "n_low": 18,
    }
    fingerprint = hashlib.sha256(f"{user.pk}|{factor}|{outcome}|{mean_high}".encode()).hexdigest()
    return Insight.objects.create(
        user=user,
        construct=construct,
        factor=factor,
        outcome=outcome,
        lag=lag,
        direction=1,
        mean_high=mean_high,
        mean_low=mean_low,
        n_high=20,
        n_low=18,
        diff_ci_low=0.4,
        diff_ci_high=2.0,
        q_value=0.01,
        rho=0.4,
        split_label="7 h or more",
        threshold=threshold,
        message_key="pattern",
        params=params,
        fingerprint=fingerprint,
        computed_on=NOW.date(),
        current=current,
    )


def make_days(user: User, first: dt.date, values: list[dict[str, Any]]) -> None:
    """One DayFeature row per dict, on consecutive days from ``first``."""
    DayFeature.objects.bulk_create(
        DayFeature(user=user, local_date=first + dt.timedelta(days=i), **row)
        for i, row in enumerate(values)
    )


def share(
    rep: User,
    coach: User | None = None,
    *,
    scopes: list[str] | None = None,
    insights: list[Insight] | None = None,
    accept: bool = True,
    expires_in_days: int = 90,
) -> ShareGrant:
    coach = coach or UserFactory()
    scopes = scopes or ["energy_trend", "sales_quality_trend"]
    grant, raw = services.grant_create(
        rep=rep,
        coach_email=coach.email,
        scopes=scopes,
        insight_ids=[i.pk for i in insights or []],
        expires_in_days=expires_in_days,
    )
    if accept:
        grant, _ = services.grant_accept(token=raw, user=coach)
    return grant


def draft(grant: ShareGrant, week_start: dt.date = LAST_WEEK) -> Summary:
    services.summaries_draft(grant_ids=[grant.pk], week_start=week_start)
    return Summary.objects.get(grant=grant, week_start=week_start)


def approved(grant: ShareGrant, week_start: dt.date = LAST_WEEK) -> Summary:
    return services.summary_approve(summary=draft(grant, week_start))
