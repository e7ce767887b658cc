from __future__ import annotations

from typing import Any

from apps.insights.models import FEATURE_COLUMNS, DayFeature, Insight, InsightProgress
from apps.privacy.registry import PrivacyHandler, register


def export_user(user: Any) -> dict[str, Any]:
    return {
        "day_features": list(
            DayFeature.objects.filter(user=user)
            .order_by("local_date")
            .values("local_date", "working_day", *FEATURE_COLUMNS)
        ),
        "insights": list(
            Insight.objects.filter(user=user)
            .order_by("created_at")
            .values(
                "id",
                "construct",
                "factor",
                "outcome",
                "lag",
                "direction",
                "mean_high",
                "mean_low",
                "n_high",
                "n_low",
                "q_value",
                "params",
                "status",
                "feedback",
                "current",
                "computed_on",
                "created_at",
            )
        ),
        "progress": list(
            InsightProgress.objects.filter(user=user).values(
                "construct", "outcome", "days_logged", "days_needed"
            )
        ),
    }


def erase_user(user: Any) -> int:
    return (
        DayFeature.objects.filter(user=user).delete()[0]
        + Insight.objects.filter(user=user).delete()[0]
        + InsightProgress.objects.filter(user=user).delete()[0]
    )


register(
    PrivacyHandler(
        app_label="insights",
        models=(DayFeature, Insight, InsightProgress),
        export_user=export_user,
        erase_user=erase_user,
    )
)
