"""Derived data: one feature row per rep and local day, and the insights found in them."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.models import BaseModel

#: The engine's feature vocabulary (apps.insights.engine.FEATURES) as nullable columns.
FEATURE_COLUMNS: tuple[str, ...] = (
    "sleep_minutes",
    "bedtime_minutes",
    "sleep_quality",
    "drinks",
    "heavy_meals",
    "late_meal",
    "exercise_minutes",
    "exercise_intensity",
    "activity_balance",
    "energy_mean",
    "energy_morning",
    "energy_afternoon",
    "calls",
    "connected_calls",
    "meetings_held",
    "qualified_meetings",
    "qualified_share",
    "decision_maker_rate",
    "deal_value",
)
#: Every stored value of a day row: the features, and the currency deal_value is counted in.
DAY_COLUMNS: tuple[str, ...] = (*FEATURE_COLUMNS, "deal_value_currency")


class DayFeature(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    local_date = models.DateField()
    working_day = models.BooleanField(default=False)
    sleep_minutes = models.FloatField(null=True)
    bedtime_minutes = models.FloatField(null=True, help_text="Minutes after local midnight.")
    sleep_quality = models.FloatField(null=True)
    drinks = models.FloatField(null=True)
    heavy_meals = models.FloatField(null=True)
    late_meal = models.FloatField(null=True)
    exercise_minutes = models.FloatField(null=True)
    exercise_intensity = models.FloatField(null=True)
    activity_balance = models.FloatField(null=True)
    energy_mean = models.FloatField(null=True)
    energy_morning = models.FloatField(null=True)
    energy_afternoon = models.FloatField(null=True)
    calls = models.FloatField(null=True)
    connected_calls = models.FloatField(null=True)
    meetings_held = models.FloatField(null=True)
    qualified_meetings = models.FloatField(null=True)
    qualified_share = models.FloatField(null=True)
    decision_maker_rate = models.FloatField(null=True)
    deal_value = models.FloatField(null=True, help_text="Pipeline value in minor units.")
    # Minor units of different currencies are not one scale: the engine compares a rep's days
    # only within their main currency (apps.insights.features.main_currencies). Null, like
    # every other column of the row, means "none": no value that day, or several currencies.
    deal_value_currency = models.CharField(  # noqa: DJ001
        max_length=3,
        null=True,
        blank=True,
        help_text="ISO 4217 code of deal_value; null: no value, or several currencies.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "local_date"], name="uniq_day_feature")
        ]

    def __str__(self) -> str:
        return f"features {self.user_id} {self.local_date}"


class StaleDay(models.Model):
    """A day whose features must be recomputed.

    Written by the journal and the sales data in the same transaction as the change itself, so
    no change can be committed without its recomputation being due (a broker message sent after
    commit can be lost). A periodic task drains the rows; a row re-marked while its day was being
    recomputed keeps its newer ``marked_at`` and survives the drain.
    """

    # The unique (user, local_date) constraint's index serves lookups by user.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    local_date = models.DateField()
    marked_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "local_date"], name="uniq_stale_day")
        ]
        # No index on marked_at: every journal write re-marks its day, and with marked_at in no
        # index PostgreSQL updates the row in place on its page (a HOT update, fillfactor 50 in
        # migration 0006) instead of adding an entry to every index of the table. The drain
        # reads the oldest marks of a table that holds only the days not yet recomputed.

    def __str__(self) -> str:
        return f"stale {self.user_id} {self.local_date}"


class Insight(BaseModel):
    class Status(models.TextChoices):
        NEW = "new"
        READ = "read"
        DISMISSED = "dismissed"

    class Feedback(models.TextChoices):
        HELPFUL = "helpful"
        NOT_HELPFUL = "not_helpful"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="insights"
    )
    construct = models.CharField(max_length=20)
    factor = models.CharField(max_length=32)
    outcome = models.CharField(max_length=32)
    lag = models.PositiveSmallIntegerField()
    direction = models.SmallIntegerField()
    mean_high = models.FloatField()
    mean_low = models.FloatField()
    n_high = models.PositiveIntegerField()
    n_low = models.PositiveIntegerField()
    diff_ci_low = models.FloatField()
    diff_ci_high = models.FloatField()
    q_value = models.FloatField()
    rho = models.FloatField()
    split_label = models.CharField(max_length=40)
    threshold = models.FloatField()
    message_key = models.CharField(max_length=64)
    params = models.JSONField(default=dict)
    # Same construct, outcome, direction and rounded effect: the same finding, not resent.
    fingerprint = models.CharField(max_length=64)
    computed_on = models.DateField()
    current = models.BooleanField(default=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    feedback = models.CharField(max_length=12, choices=Feedback.choices, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "fingerprint"], name="uniq_insight_fp")
        ]
        indexes = [models.Index(fields=["user", "current", "-created_at"])]

    def __str__(self) -> str:
        return f"insight {self.pk} ({self.construct} → {self.outcome})"


class InsightProgress(models.Model):
    """How many more logged days unlock a first finding for a construct and outcome."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    construct = models.CharField(max_length=20)
    outcome = models.CharField(max_length=32)
    days_logged = models.PositiveIntegerField()
    days_needed = models.PositiveIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "construct", "outcome"], name="uniq_insight_progress"
            )
        ]

    def __str__(self) -> str:
        return f"progress {self.construct} → {self.outcome}"
