"""Input and output shapes of coaching shares, summaries and the access log."""

from __future__ import annotations

from rest_framework import serializers

from apps.coaching import constants
from apps.core.serializers import StrictSerializer

# Labelled, so the schema documents what each scope means.
SCOPE_CHOICES = [(scope, constants.SCOPE_LABELS[scope]) for scope in constants.SCOPES]

# --- input ------------------------------------------------------------------------------------


class GrantCreateSerializer(StrictSerializer):
    coach_email = serializers.EmailField(max_length=254)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=SCOPE_CHOICES),
        min_length=1,
        max_length=len(constants.SCOPES),
        help_text="What the summaries may contain. Never raw entries, drink amounts or notes.",
    )
    insight_ids = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        default=list,
        max_length=constants.MAX_CHOSEN_INSIGHTS,
        help_text="Your own insights to include (needs the chosen_insights scope).",
    )
    expires_in_days = serializers.IntegerField(
        min_value=1,
        max_value=constants.MAX_EXPIRY_DAYS,
        required=False,
        default=constants.DEFAULT_EXPIRY_DAYS,
    )


class SummaryUpdateSerializer(StrictSerializer):
    remove_sections = serializers.ListField(
        child=serializers.ChoiceField(choices=[*constants.SECTION_SCOPES, constants.PERSONAL_NOTE]),
        required=False,
        max_length=len(constants.SCOPES),
        help_text="Parts to remove from this draft, for good.",
    )
    remove_insight_ids = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        max_length=constants.MAX_CHOSEN_INSIGHTS,
        help_text="Single insights to remove from this draft.",
    )
    note = serializers.CharField(
        max_length=constants.MAX_NOTE_LENGTH,
        required=False,
        allow_blank=True,
        help_text="Your personal note to the coach (needs the personal_note scope).",
    )


class PageQuerySerializer(StrictSerializer):
    cursor = serializers.CharField(required=False)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=500)


class SummaryListQuerySerializer(PageQuerySerializer):
    status = serializers.ChoiceField(choices=list(constants.SUMMARY_STATUSES), required=False)
    grant_id = serializers.UUIDField(required=False)


class AccessLogQuerySerializer(PageQuerySerializer):
    grant_id = serializers.UUIDField(required=False)


class CoachInvitationAcceptSerializer(StrictSerializer):
    token = serializers.CharField(max_length=128)
    password = serializers.CharField(
        max_length=256, required=False, allow_blank=True, trim_whitespace=False
    )
    display_name = serializers.CharField(max_length=120, required=False, allow_blank=True)


# --- output -----------------------------------------------------------------------------------


class WarningSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=["line_manager", "org_admin"])
    message = serializers.CharField()


class GrantSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    coach_email = serializers.EmailField()
    coach_name = serializers.CharField(allow_null=True)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=SCOPE_CHOICES))
    insight_ids = serializers.ListField(child=serializers.UUIDField())
    status = serializers.ChoiceField(choices=list(constants.GRANT_STATUSES))
    expires_at = serializers.DateTimeField()
    invitation_expires_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    warnings = WarningSerializer(
        many=True, help_text="Plain-language warnings: the coach is your manager or an admin."
    )
    created_at = serializers.DateTimeField()


class EnergyTrendSerializer(serializers.Serializer):
    mean_energy = serializers.FloatField(allow_null=True)
    days_logged = serializers.IntegerField()
    previous_mean_energy = serializers.FloatField(allow_null=True)
    trend = serializers.ChoiceField(
        choices=list(constants.DIRECTIONS),
        allow_null=True,
        help_text="Compared with the four weeks before; null when there is too little data.",
    )
    text = serializers.CharField()


class SleepRegularitySerializer(serializers.Serializer):
    category = serializers.ChoiceField(choices=list(constants.SLEEP_CATEGORIES))
    nights_logged = serializers.IntegerField()
    text = serializers.CharField()


class SalesQualityTrendSerializer(serializers.Serializer):
    meetings_held = serializers.IntegerField()
    qualified_meetings = serializers.IntegerField()
    qualified_share = serializers.FloatField(allow_null=True)
    previous_weekly_qualified_meetings = serializers.FloatField(allow_null=True)
    previous_qualified_share = serializers.FloatField(allow_null=True)
    trend = serializers.ChoiceField(
        choices=list(constants.DIRECTIONS),
        allow_null=True,
        help_text="Compared with the four weeks before; null when there is too little data.",
    )
    text = serializers.CharField()


class ChosenInsightSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    message = serializers.CharField()


class CoachInsightSerializer(serializers.Serializer):
    message = serializers.CharField()


class SectionsSerializer(serializers.Serializer):
    energy_trend = EnergyTrendSerializer(required=False)
    sleep_regularity = SleepRegularitySerializer(required=False)
    sales_quality_trend = SalesQualityTrendSerializer(required=False)
    chosen_insights = ChosenInsightSerializer(many=True, required=False)


class CoachSectionsSerializer(SectionsSerializer):
    chosen_insights = CoachInsightSerializer(many=True, required=False)  # type: ignore[assignment]


class SummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    grant_id = serializers.UUIDField()
    coach_email = serializers.EmailField()
    week = serializers.CharField(help_text="ISO week, e.g. 2026-W47.")
    week_start = serializers.DateField()
    week_end = serializers.DateField()
    status = serializers.ChoiceField(choices=list(constants.SUMMARY_STATUSES))
    sections = SectionsSerializer()
    note = serializers.CharField(allow_null=True, help_text="Null when the share has no note.")
    draft_expires_at = serializers.DateTimeField()
    approved_at = serializers.DateTimeField(allow_null=True)
    visible_to_coach = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class CoachSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    rep_name = serializers.CharField()
    rep_email = serializers.EmailField()
    week = serializers.CharField()
    week_start = serializers.DateField()
    week_end = serializers.DateField()
    sections = CoachSectionsSerializer()
    note = serializers.CharField(allow_null=True)
    approved_at = serializers.DateTimeField()


class AccessLogSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    read_at = serializers.DateTimeField()
    action = serializers.ChoiceField(choices=list(constants.READ_ACTIONS))
    coach_email = serializers.EmailField()
    coach_name = serializers.CharField()
    grant_id = serializers.UUIDField()
    summary_id = serializers.UUIDField()
    week = serializers.CharField()


class _Page(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)


class SummaryPageSerializer(_Page):
    results = SummarySerializer(many=True)


class CoachSummaryPageSerializer(_Page):
    results = CoachSummarySerializer(many=True)


class AccessLogPageSerializer(_Page):
    results = AccessLogSerializer(many=True)


class AcceptedShareSerializer(serializers.Serializer):
    grant_id = serializers.UUIDField()
    rep_name = serializers.CharField()
    rep_email = serializers.EmailField()
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=SCOPE_CHOICES))
    expires_at = serializers.DateTimeField()
