"""Input and output shapes of sales figures. Field-level ranges live here; rules that need the
user or the database (future days, ownership, team rules) live in services."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rest_framework import serializers

from apps.core.jsonvalues import loads_storable
from apps.core.serializers import AwareDateTimeField as CoreAwareDateTimeField
from apps.core.serializers import StrictSerializer
from apps.performance.choices import ImportFormat, ImportMode, ImportStatus, MeetingStatus, Source
from apps.performance.formats import FORMATS

MAX_CALLS_PER_DAY = 5000
MAX_DEAL_VALUE_CENTS = 10**13


class AwareDateTimeField(CoreAwareDateTimeField):
    """The shared field, and a string without an offset is "naive" before it is parsed."""

    def to_internal_value(self, value: Any) -> dt.datetime:
        if isinstance(value, str) and value and not _has_offset(value):
            self.fail("naive")
        return super().to_internal_value(value)


def _has_offset(value: str) -> bool:
    tail = value[10:]
    return tail.endswith(("Z", "z")) or "+" in tail or tail.count("-") >= 1


# --- manual entry ----------------------------------------------------------------------------


class CallStatsInSerializer(StrictSerializer):
    local_date = serializers.DateField(help_text="The local day these figures are for.")
    calls_made = serializers.IntegerField(min_value=0, max_value=MAX_CALLS_PER_DAY)
    connected = serializers.IntegerField(
        min_value=0, max_value=MAX_CALLS_PER_DAY, help_text="Calls that reached a person."
    )
    conversations = serializers.IntegerField(
        min_value=0, max_value=MAX_CALLS_PER_DAY, help_text="Connected calls over two minutes."
    )
    talk_minutes = serializers.IntegerField(min_value=0, max_value=24 * 60)
    client_updated_at = AwareDateTimeField(
        required=False,
        help_text="The phone's edit time; the latest edit wins. Default: when the server got it.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["connected"] > attrs["calls_made"]:
            raise serializers.ValidationError({"connected": ["Must not exceed calls_made."]})
        if attrs["conversations"] > attrs["connected"]:
            raise serializers.ValidationError({"conversations": ["Must not exceed connected."]})
        return attrs


class MeetingInSerializer(StrictSerializer):
    occurred_at = AwareDateTimeField(help_text="When the meeting started, with a UTC offset.")
    tz = serializers.CharField(
        max_length=64, required=False, help_text="IANA zone of the rep then (default: profile)."
    )
    status = serializers.ChoiceField(choices=MeetingStatus.choices)
    decision_maker_present = serializers.BooleanField(required=False, default=False)
    budget = serializers.BooleanField(required=False, default=False)
    authority = serializers.BooleanField(required=False, default=False)
    need = serializers.BooleanField(required=False, default=False)
    timeline = serializers.BooleanField(required=False, default=False)
    deal_value_cents = serializers.IntegerField(
        min_value=0,
        max_value=MAX_DEAL_VALUE_CENTS,
        required=False,
        default=0,
        help_text="Deal value in minor units of the currency (cents).",
    )
    currency = serializers.RegexField(
        r"^[A-Za-z]{3}$",
        required=False,
        allow_blank=True,
        help_text="ISO 4217 code; required when deal_value_cents > 0.",
    )
    client_updated_at = AwareDateTimeField(required=False)


class CallStatsOutSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    local_date = serializers.DateField()
    source = serializers.ChoiceField(choices=Source.choices)  # type: ignore[assignment]
    calls_made = serializers.IntegerField()
    connected = serializers.IntegerField()
    conversations = serializers.IntegerField()
    talk_minutes = serializers.IntegerField()
    client_updated_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class MeetingOutSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    occurred_at = serializers.DateTimeField()
    tz = serializers.CharField()
    local_date = serializers.DateField()
    status = serializers.ChoiceField(choices=MeetingStatus.choices)
    decision_maker_present = serializers.BooleanField()
    budget = serializers.BooleanField()
    authority = serializers.BooleanField()
    need = serializers.BooleanField()
    timeline = serializers.BooleanField()
    bant_score = serializers.IntegerField(min_value=0, max_value=4)
    qualified = serializers.BooleanField(
        help_text="Held and BANT score at least the team's minimum (default 3)."
    )
    deal_value_cents = serializers.IntegerField()
    currency = serializers.CharField(allow_blank=True)
    source = serializers.ChoiceField(choices=Source.choices)  # type: ignore[assignment]
    external_id = serializers.CharField(allow_blank=True)
    client_updated_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class CallStatsUpsertResultSerializer(serializers.Serializer):
    result = serializers.ChoiceField(choices=["created", "updated", "unchanged", "stale"])
    detail = serializers.CharField(required=False)
    entry = CallStatsOutSerializer()


class MeetingUpsertResultSerializer(serializers.Serializer):
    result = serializers.ChoiceField(choices=["created", "updated", "unchanged", "stale"])
    detail = serializers.CharField(required=False)
    entry = MeetingOutSerializer()


class ListQuerySerializer(StrictSerializer):
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    cursor = serializers.CharField(required=False)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=500)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("date_from"), attrs.get("date_to")
        if start and end and start > end:
            raise serializers.ValidationError({"date_from": ["Must not be after date_to."]})
        return attrs


class CursorQuerySerializer(StrictSerializer):
    cursor = serializers.CharField(required=False)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=200)


class PeriodQuerySerializer(StrictSerializer):
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("date_from"), attrs.get("date_to")
        if start and end:
            if start > end:
                raise serializers.ValidationError({"date_from": ["Must not be after date_to."]})
            if (end - start).days > 366:
                raise serializers.ValidationError(
                    {"date_from": ["A period covers at most 366 days."]}
                )
        return attrs


class QualityMetricsSerializer(serializers.Serializer):
    calls = serializers.IntegerField(allow_null=True)
    connected_calls = serializers.IntegerField(allow_null=True)
    connect_rate = serializers.FloatField(allow_null=True)
    conversations = serializers.IntegerField(allow_null=True)
    talk_minutes = serializers.IntegerField(allow_null=True)
    meetings = serializers.IntegerField()
    meetings_held = serializers.IntegerField()
    meetings_no_show = serializers.IntegerField()
    qualified_meetings = serializers.IntegerField()
    qualified_share = serializers.FloatField(allow_null=True)
    mean_bant = serializers.FloatField(allow_null=True)
    decision_maker_rate = serializers.FloatField(allow_null=True)
    deal_value = serializers.IntegerField(help_text="Minor units, held meetings only.")
    deal_value_currency = serializers.CharField(
        allow_null=True, help_text="Null when the day mixes currencies or has no value."
    )


class DailyRowSerializer(QualityMetricsSerializer):
    local_date = serializers.DateField()
    call_source = serializers.CharField(allow_null=True)
    meeting_source = serializers.CharField(
        allow_null=True,
        help_text="The source whose meetings count this day (webhook, then CSV, then typed).",
    )


class DailyOutSerializer(serializers.Serializer):
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    days = DailyRowSerializer(many=True)


class TeamSalesRepSerializer(QualityMetricsSerializer):
    user_id = serializers.UUIDField()
    email = serializers.EmailField()
    display_name = serializers.CharField()


class TeamSalesOutSerializer(serializers.Serializer):
    team_id = serializers.UUIDField()
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    reps = TeamSalesRepSerializer(many=True)


# --- imports ---------------------------------------------------------------------------------


class ImportCreateSerializer(StrictSerializer):
    file = serializers.FileField(help_text="The CSV file (UTF-8, comma or semicolon separated).")
    format = serializers.ChoiceField(choices=ImportFormat.choices)
    mode = serializers.ChoiceField(
        choices=ImportMode.choices, required=False, default=ImportMode.ALL_OR_NOTHING
    )
    dry_run = serializers.BooleanField(required=False, default=False)
    team_id = serializers.UUIDField(
        required=False,
        help_text="Import for the reps of this team (org admin only). Omit to import your own.",
    )
    column_map = serializers.CharField(
        required=False,
        max_length=4000,
        help_text='JSON object {field: "column header in your file"}, e.g. '
        '{"budget": "BANT Budget", "owner_email": "Rep e-mail"}.',
    )
    timezone = serializers.CharField(
        required=False,
        max_length=64,
        help_text="IANA zone of times without an offset (default: each rep's own zone).",
    )
    currency = serializers.RegexField(
        r"^[A-Za-z]{3}$",
        required=False,
        help_text="Currency of deal values in rows without a currency column/value.",
    )

    def validate_column_map(self, value: str) -> dict[str, str]:
        try:
            parsed = loads_storable(value) if value.strip() else {}
        except ValueError:
            raise serializers.ValidationError("Must be a JSON object.") from None
        if not isinstance(parsed, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and 0 < len(v) <= 200
            for k, v in parsed.items()
        ):
            raise serializers.ValidationError(
                'Must be a JSON object of strings, e.g. {"budget": "BANT Budget"}.'
            )
        return parsed

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        spec = FORMATS[attrs["format"]]
        unknown = sorted(set(attrs.get("column_map", {})) - set(spec.columns))
        if unknown:
            raise serializers.ValidationError(
                {
                    "column_map": [
                        f"Not a field of {spec.name}: {', '.join(unknown)}. "
                        f"Fields: {', '.join(spec.columns)}."
                    ]
                }
            )
        if "currency" in attrs:
            attrs["currency"] = attrs["currency"].upper()
        return attrs


class ImportRowIssueSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="Row number as a spreadsheet shows it (header = 1).")
    column = serializers.CharField(allow_blank=True)
    reason = serializers.CharField()


class ImportJobSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    team_id = serializers.UUIDField(allow_null=True)
    format = serializers.ChoiceField(choices=ImportFormat.choices)
    mode = serializers.ChoiceField(choices=ImportMode.choices)
    dry_run = serializers.BooleanField()
    status = serializers.ChoiceField(choices=ImportStatus.choices)
    phase = serializers.CharField(allow_blank=True)
    file_name = serializers.CharField(allow_blank=True)
    file_size = serializers.IntegerField()
    rows_total = serializers.IntegerField(allow_null=True)
    rows_done = serializers.IntegerField()
    progress = serializers.SerializerMethodField()
    counts = serializers.DictField(child=serializers.IntegerField())
    report = ImportRowIssueSerializer(many=True)
    report_truncated = serializers.BooleanField()
    unknown_reps = serializers.ListField(child=serializers.CharField())
    detail = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_progress(self, job: Any) -> float | None:
        if job.status == ImportStatus.DONE:
            return 1.0
        if not job.rows_total:
            return None
        return round(min(job.rows_done / job.rows_total, 1.0), 4)


# --- CRM connections and the webhook ---------------------------------------------------------


class ConnectionCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=80)


class ConnectionRotateSerializer(StrictSerializer):
    keep_previous_minutes = serializers.IntegerField(
        min_value=0,
        max_value=24 * 60,
        required=False,
        default=0,
        help_text="Keep accepting the old secret this long (default 0: stop at once).",
    )


class ConnectionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    team_id = serializers.UUIDField()
    name = serializers.CharField()
    webhook_path = serializers.SerializerMethodField()
    secret_rotated_at = serializers.DateTimeField(allow_null=True)
    previous_secret_expires_at = serializers.DateTimeField(allow_null=True)
    last_event_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    def get_webhook_path(self, connection: Any) -> str:
        return f"/api/v1/performance/webhooks/{connection.pk}"


class ConnectionSecretSerializer(ConnectionSerializer):
    secret = serializers.CharField(help_text="Shown once; store it in the CRM now.")


class WebhookActivitySerializer(serializers.Serializer):
    """Documentation of one activity (validated per activity by the processing task)."""

    kind = serializers.ChoiceField(choices=["call", "meeting"])
    external_id = serializers.CharField(max_length=128)
    owner_email = serializers.EmailField()
    occurred_at = serializers.DateTimeField()
    tz = serializers.CharField(required=False)
    duration_seconds = serializers.IntegerField(required=False, min_value=0)
    outcome = serializers.ChoiceField(
        required=False,
        choices=["connected", "no_answer", "busy", "voicemail", "wrong_number", "not_connected"],
    )
    status = serializers.ChoiceField(required=False, choices=MeetingStatus.choices)
    decision_maker_present = serializers.BooleanField(required=False)
    budget = serializers.BooleanField(required=False)
    authority = serializers.BooleanField(required=False)
    need = serializers.BooleanField(required=False)
    timeline = serializers.BooleanField(required=False)
    deal_value_cents = serializers.IntegerField(required=False, min_value=0)
    currency = serializers.CharField(required=False, max_length=3)


class WebhookPayloadSerializer(serializers.Serializer):
    event_id = serializers.CharField(
        max_length=200, help_text="Unique per delivery (replays: 409)."
    )
    activities = WebhookActivitySerializer(many=True, help_text="At most 500.")


class WebhookAcceptedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    event_id = serializers.CharField()
    status = serializers.CharField()


# --- cursor pages (documentation of the paginated list shape) -------------------------------


class _CursorPage(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)


class CallStatsPageSerializer(_CursorPage):
    results = CallStatsOutSerializer(many=True)


class MeetingPageSerializer(_CursorPage):
    results = MeetingOutSerializer(many=True)


class ImportJobPageSerializer(_CursorPage):
    results = ImportJobSerializer(many=True)
