from __future__ import annotations

from rest_framework import serializers

from apps.core.serializers import StrictSerializer


class ConsentSerializer(serializers.Serializer):
    category = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    explanation = serializers.CharField()
    granted = serializers.BooleanField()
    text_version = serializers.IntegerField(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)


class ConsentWithdrawSerializer(StrictSerializer):
    delete_entries = serializers.BooleanField(
        default=False, help_text="Also delete everything already logged in this category."
    )


class ConsentWithdrawnSerializer(ConsentSerializer):
    entries_deleted = serializers.IntegerField()
    entries_kept = serializers.IntegerField()


class ConsentEventSerializer(serializers.Serializer):
    category = serializers.CharField()
    granted = serializers.BooleanField()
    text_version = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class AccountDeleteSerializer(StrictSerializer):
    password = serializers.CharField(max_length=256, trim_whitespace=False)


class DataExportSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    size_bytes = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    download_url = serializers.URLField(allow_null=True)
    download_expires_in_seconds = serializers.IntegerField(allow_null=True)


class ImportSerializer(StrictSerializer):
    file = serializers.FileField(help_text="An energytrack export: the .zip or its export.json")


class ImportResultSerializer(serializers.Serializer):
    imported = serializers.DictField(child=serializers.IntegerField())


class PrivacyPreferenceSerializer(StrictSerializer):
    keep_aggregates = serializers.BooleanField(
        help_text="Keep day-level aggregates after raw entries pass the retention period."
    )
