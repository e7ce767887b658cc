from __future__ import annotations

from rest_framework import serializers

from apps.core.serializers import StrictSerializer
from apps.insights.selectors import RANGES, SERIES


class InsightEvidenceSerializer(serializers.Serializer):
    """The figures behind an insight, in the units and precision of its sentence."""

    unit = serializers.ChoiceField(
        choices=["number", "percent", "money"],
        help_text="number: as logged; percent: 0-100 (the interval in percentage points); "
        "money: units of `currency`, not minor units (cents).",
    )
    currency = serializers.CharField(
        allow_null=True,
        min_length=3,
        max_length=3,
        help_text="ISO 4217 code of a money figure (the rep's main currency when the insight "
        "was found). Null for other units, and for money insights stored before 2026-12-07: "
        "those figures are hundredths of the stored minor units and name no currency.",
    )
    decimals = serializers.IntegerField(help_text="Decimals the sentence shows for these figures.")
    mean_high = serializers.FloatField(help_text="Average on the days the habit was 'high'.")
    mean_low = serializers.FloatField(help_text="Average on the other days.")
    days_high = serializers.IntegerField()
    days_low = serializers.IntegerField()
    difference_interval = serializers.ListField(
        child=serializers.FloatField(),
        min_length=2,
        max_length=2,
        help_text="[low, high]: 95% interval for high minus low days, signed, adjusted for "
        "weekday and trend.",
    )
    interval_includes_zero = serializers.BooleanField(
        help_text="The interval, as shown, contains 0: no direction can be claimed from it."
    )
    q_value = serializers.FloatField()
    split = serializers.CharField()


class InsightSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    construct = serializers.CharField()
    factor = serializers.CharField()
    outcome = serializers.CharField()
    lag_days = serializers.IntegerField()
    direction = serializers.ChoiceField(choices=["higher", "lower"])
    message = serializers.CharField()
    evidence = InsightEvidenceSerializer()
    status = serializers.CharField()
    feedback = serializers.CharField(allow_null=True)
    current = serializers.BooleanField()
    computed_on = serializers.DateField()
    created_at = serializers.DateTimeField()


class ProgressSerializer(serializers.Serializer):
    construct = serializers.CharField()
    outcome = serializers.CharField()
    days_logged = serializers.IntegerField()
    days_needed = serializers.IntegerField()
    message = serializers.CharField()


class InsightListSerializer(serializers.Serializer):
    insights = InsightSerializer(many=True)
    progress = ProgressSerializer(many=True)


class InsightListQuerySerializer(StrictSerializer):
    include_old = serializers.BooleanField(required=False, default=False)


class InsightStatusSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=["new", "read", "dismissed"])


class InsightFeedbackSerializer(StrictSerializer):
    feedback = serializers.ChoiceField(choices=["helpful", "not_helpful"])


class TrendQuerySerializer(StrictSerializer):
    range = serializers.ChoiceField(choices=list(RANGES), required=False, default="month")
    date_to = serializers.DateField(required=False)


class TrendSerializer(serializers.Serializer):
    series = serializers.ChoiceField(choices=list(SERIES))
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    points = serializers.ListField(child=serializers.DictField())
