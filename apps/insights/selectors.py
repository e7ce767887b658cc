"""Every insight and trend read, scoped to the owner. A chart series is one query."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from apps.core.sql import pk_param
from apps.insights.messages import (
    money_currency,
    outcome_decimals,
    outcome_figure,
    outcome_unit,
    render,
    render_progress,
)
from apps.insights.models import DayFeature, Insight, InsightProgress
from apps.journal.aggregates import energy_by_local_hour

RANGES = {"week": 7, "month": 30, "quarter": 91, "year": 365}
SERIES = (
    "energy-daily",
    "energy-weekly",
    "energy-by-hour",
    "sleep-vs-energy",
    "qualified-vs-energy",
)


def insight_list(*, user: Any, include_old: bool = False) -> QuerySet[Insight]:
    queryset = Insight.objects.filter(user=user).exclude(status=Insight.Status.DISMISSED)
    if not include_old:
        queryset = queryset.filter(current=True)
    return queryset.order_by("-created_at", "-id")


def insight_get(*, user: Any, insight_id: Any) -> Insight:
    return Insight.objects.get(user=user, pk=insight_id)


def insight_to_dict(insight: Insight, locale: str) -> dict[str, Any]:
    return {
        "id": str(insight.pk),
        "construct": insight.construct,
        "factor": insight.factor,
        "outcome": insight.outcome,
        "lag_days": insight.lag,
        "direction": "higher" if insight.direction > 0 else "lower",
        "message": render(insight.params, locale),
        "evidence": insight_evidence(insight),
        "status": insight.status,
        "feedback": insight.feedback or None,
        "current": insight.current,
        "computed_on": insight.computed_on.isoformat(),
        "created_at": insight.created_at.isoformat(),
    }


def insight_evidence(insight: Insight) -> dict[str, Any]:
    """The "How sure is this?" figures in the sentence's units and precision (percent, not a
    0..1 share; money in units of its currency, not minor units), so the panel never
    contradicts the sentence."""
    outcome = insight.outcome
    currency = money_currency({**insight.params, "outcome": outcome})
    interval = sorted(
        outcome_figure(bound, outcome, currency)
        for bound in (insight.diff_ci_low, insight.diff_ci_high)
    )
    return {
        "unit": outcome_unit(outcome),
        "currency": currency,
        "decimals": outcome_decimals(outcome),
        "mean_high": outcome_figure(insight.mean_high, outcome, currency),
        "mean_low": outcome_figure(insight.mean_low, outcome, currency),
        "days_high": insight.n_high,
        "days_low": insight.n_low,
        "difference_interval": interval,
        # Judged on the figures shown: "between 0.0 and 1.2" is not evidence of "higher".
        "interval_includes_zero": interval[0] <= 0 <= interval[1],
        "q_value": round(insight.q_value, 4),
        "split": insight.split_label,
    }


def progress_list(*, user: Any, locale: str) -> list[dict[str, Any]]:
    rows = InsightProgress.objects.filter(user=user, days_needed__gt=0).order_by(
        "days_needed", "construct", "outcome"
    )
    return [
        {
            "construct": row.construct,
            "outcome": row.outcome,
            "days_logged": row.days_logged,
            "days_needed": row.days_needed,
            "message": render_progress(row.construct, row.outcome, row.days_needed, locale),
        }
        for row in rows
    ]


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def _day_feature_rows(user: Any, date_from: dt.date, date_to: dt.date) -> list[Any]:
    # Every chart read runs this: SQL text instead of a queryset compiled per request.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT local_date, energy_mean, sleep_minutes, qualified_meetings, working_day "  # noqa: S608
            f"FROM {connection.ops.quote_name(DayFeature._meta.db_table)} "
            "WHERE user_id = %s AND local_date >= %s AND local_date <= %s ORDER BY local_date",
            [pk_param(user), date_from, date_to],
        )
        return cursor.fetchall()


def trend_series(*, user: Any, series: str, date_from: dt.date, date_to: dt.date) -> dict[str, Any]:
    if series == "energy-by-hour":
        return {
            "points": [
                {"hour": hour, "energy": round(total / count, 2), "n": count}
                for hour, total, count in energy_by_local_hour(
                    user=user, date_from=date_from, date_to=date_to
                )
            ]
        }
    rows = _day_feature_rows(user, date_from, date_to)
    if series == "energy-daily":
        by_day = {day: energy for day, energy, *_ in rows}
        points = []
        day = date_from
        while day <= date_to:
            window = [
                by_day[d]
                for d in (day - dt.timedelta(days=i) for i in range(7))
                if by_day.get(d) is not None
            ]
            value = by_day.get(day)
            points.append(
                {
                    "date": day.isoformat(),
                    "energy": round(value, 2) if value is not None else None,
                    "avg7": _mean(window),
                }
            )
            day += dt.timedelta(days=1)
        return {"points": points}
    if series == "energy-weekly":
        weeks: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for day, energy, sleep, qualified, _working in rows:
            year, week, _ = day.isocalendar()
            key = f"{year}-W{week:02d}"
            if energy is not None:
                weeks[key]["energy"].append(energy)
            if sleep is not None:
                weeks[key]["sleep"].append(sleep)
            if qualified is not None:
                weeks[key]["qualified"].append(qualified)
        return {
            "points": [
                {
                    "week": key,
                    "energy": _mean(values["energy"]),
                    "sleep_hours": round(sum(values["sleep"]) / len(values["sleep"]) / 60, 2)
                    if values["sleep"]
                    else None,
                    "qualified_meetings": sum(values["qualified"]) if values["qualified"] else None,
                }
                for key, values in sorted(weeks.items())
            ]
        }
    if series == "sleep-vs-energy":
        return {
            "points": [
                {
                    "date": day.isoformat(),
                    "sleep_hours": round(sleep / 60, 2),
                    "energy": round(energy, 2),
                }
                for day, energy, sleep, _q, _w in rows
                if sleep is not None and energy is not None
            ]
        }
    if series == "qualified-vs-energy":
        return {
            "points": [
                {
                    "date": day.isoformat(),
                    "energy": round(energy, 2),
                    "qualified_meetings": qualified,
                }
                for day, energy, _s, qualified, working in rows
                if working and energy is not None and qualified is not None
            ]
        }
    raise ValueError(f"unknown series {series}")
