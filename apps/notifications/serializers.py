"""Input parsing and output documentation for the notification API (HTTP only)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from rest_framework import serializers

from apps.core.serializers import StrictSerializer

_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
KINDS = ["insight", "reminder", "digest", "system"]
CHANNELS = ["push", "email"]
STATES = ["pending", "sending", "sent", "skipped", "failed"]


class ClockTimeField(serializers.Field):
    """A local wall-clock time as "HH:MM" (24-hour)."""

    default_error_messages = {"invalid": "Use HH:MM on a 24-hour clock, e.g. 07:30 or 21:00."}

    def to_internal_value(self, data: Any) -> dt.time:
        if not isinstance(data, str):
            self.fail("invalid")
        match = _CLOCK.match(data)
        if not match:
            self.fail("invalid")
        return dt.time(int(match.group(1)), int(match.group(2)))

    def to_representation(self, value: Any) -> str:
        return value.strftime("%H:%M") if isinstance(value, dt.time) else str(value)


# drf-spectacular: document ClockTimeField as a pattern-checked string.
try:
    from drf_spectacular.extensions import OpenApiSerializerFieldExtension

    class ClockTimeFieldExtension(OpenApiSerializerFieldExtension):
        target_class = "apps.notifications.serializers.ClockTimeField"

        def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
            return {"type": "string", "pattern": _CLOCK.pattern, "example": "07:30"}

except ImportError:  # pragma: no cover - drf-spectacular is a dependency
    pass


class DeliverySerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=CHANNELS)
    state = serializers.ChoiceField(choices=STATES)
    due_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    attempts = serializers.IntegerField()


class NotificationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=KINDS)
    title = serializers.CharField(help_text="In the rep's language.")
    body = serializers.CharField(allow_blank=True, help_text="In the rep's language.")
    link = serializers.CharField(allow_blank=True, help_text="Path inside the app.")
    urgent = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    read = serializers.BooleanField()
    read_at = serializers.DateTimeField(allow_null=True)
    dismissed = serializers.BooleanField()
    dismissed_at = serializers.DateTimeField(allow_null=True)
    deliveries = DeliverySerializer(many=True)


class NotificationPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = NotificationSerializer(many=True)


class NotificationListQuerySerializer(StrictSerializer):
    unread_only = serializers.BooleanField(required=False, default=False)
    include_dismissed = serializers.BooleanField(required=False, default=False)
    date_from = serializers.DateField(required=False, help_text="Local date, inclusive.")
    date_to = serializers.DateField(required=False, help_text="Local date, inclusive.")
    cursor = serializers.CharField(required=False)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=500)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("date_from"), attrs.get("date_to")
        if start and end and start > end:
            raise serializers.ValidationError({"date_from": ["Must not be after date_to."]})
        return attrs


class UnreadCountSerializer(serializers.Serializer):
    unread = serializers.IntegerField()


class ReadAllSerializer(serializers.Serializer):
    updated = serializers.IntegerField()


class PreferencesSerializer(serializers.Serializer):
    push_enabled = serializers.BooleanField()
    push_detailed = serializers.BooleanField(
        help_text="Show the insight itself on the lock screen (default: neutral text only)."
    )
    email_digest = serializers.BooleanField(help_text="Weekly e-mail, Monday 08:00 local time.")
    reminder_enabled = serializers.BooleanField()
    reminder_time = ClockTimeField(help_text="Local time of the daily check-in reminder.")
    quiet_hours_enabled = serializers.BooleanField()
    quiet_hours_start = ClockTimeField()
    quiet_hours_end = ClockTimeField()


class PreferencesUpdateSerializer(StrictSerializer):
    push_enabled = serializers.BooleanField(required=False)
    push_detailed = serializers.BooleanField(required=False)
    email_digest = serializers.BooleanField(required=False)
    reminder_enabled = serializers.BooleanField(required=False)
    reminder_time = ClockTimeField(required=False)
    quiet_hours_enabled = serializers.BooleanField(required=False)
    quiet_hours_start = ClockTimeField(required=False)
    quiet_hours_end = ClockTimeField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("quiet_hours_start"), attrs.get("quiet_hours_end")
        if start is not None and end is not None and start == end:
            raise serializers.ValidationError(
                {"quiet_hours_end": ["Must differ from quiet_hours_start (or turn them off)."]}
            )
        return attrs


class PublicKeySerializer(serializers.Serializer):
    enabled = serializers.BooleanField(help_text="False when the server has no VAPID key.")
    public_key = serializers.CharField(
        allow_null=True, help_text="applicationServerKey for PushManager.subscribe()."
    )


class SubscriptionKeysSerializer(StrictSerializer):
    p256dh = serializers.CharField(max_length=100)
    auth = serializers.CharField(max_length=40)


class SubscriptionCreateSerializer(StrictSerializer):
    """The browser's ``PushSubscription.toJSON()`` as it is."""

    endpoint = serializers.CharField(max_length=2048)
    expirationTime = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    keys = SubscriptionKeysSerializer()
    user_agent = serializers.CharField(max_length=200, required=False, allow_blank=True)


class SubscriptionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    endpoint = serializers.CharField()
    push_service = serializers.CharField()
    user_agent = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    last_success_at = serializers.DateTimeField(allow_null=True)


class UnsubscribeEndpointSerializer(StrictSerializer):
    endpoint = serializers.CharField(max_length=2048)


class EmailUnsubscribeQuerySerializer(StrictSerializer):
    token = serializers.CharField(max_length=500, required=False)


class EmailUnsubscribeBodySerializer(serializers.Serializer):
    """The confirmation form sends the token here; a mail client's RFC 8058 one-click POST
    sends ``List-Unsubscribe=One-Click`` and keeps the token in the query string."""

    token = serializers.CharField(max_length=500, required=False)


class EmailUnsubscribeSerializer(serializers.Serializer):
    email_digest = serializers.BooleanField()
    unsubscribed = serializers.BooleanField()
