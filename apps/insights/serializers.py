from __future__ import annotations

from rest_framework import serializers

from apps.core.serializers import StrictSerializer
from apps.insights.selectors import RANGES, SERIES


class InsightEvidenceSerializer(serializers.Serializer):
    mean_high = serializers.FloatField()
    mean_low = serializers.FloatField()
    days_high = serializers.IntegerField()
    days_low = serializers.IntegerField()
    difference_interval = serializers.ListField(child=serializers.FloatField())
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
