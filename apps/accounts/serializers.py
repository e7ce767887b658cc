from __future__ import annotations

from rest_framework import serializers

from apps.accounts.models import Role, User
from apps.core.serializers import StrictSerializer


class MeSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    email = serializers.EmailField(read_only=True)
    display_name = serializers.CharField()
    timezone = serializers.CharField()
    locale = serializers.ChoiceField(choices=User.Locale.choices)
    day_boundary_hour = serializers.IntegerField(min_value=0, max_value=12)
    roles = serializers.ListField(child=serializers.CharField(), read_only=True)


class MeUpdateSerializer(StrictSerializer):
    display_name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    timezone = serializers.CharField(max_length=64, required=False)
    locale = serializers.ChoiceField(choices=User.Locale.choices, required=False)
    day_boundary_hour = serializers.IntegerField(min_value=0, max_value=12, required=False)


class LoginSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=256, trim_whitespace=False)


class PasswordChangeSerializer(StrictSerializer):
    old_password = serializers.CharField(max_length=256, trim_whitespace=False)
    new_password = serializers.CharField(max_length=256, trim_whitespace=False)


class PasswordResetSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmSerializer(StrictSerializer):
    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)
    new_password = serializers.CharField(max_length=256, trim_whitespace=False)


class ApiTokenCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=80)


class ApiTokenSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(help_text="Shown once; store it now. Only a hash is kept.")


class TeamCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=120)


class TeamSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    qualified_min_bant = serializers.IntegerField()


class InvitationCreateSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.REP)


class InvitationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    role = serializers.CharField()
    expires_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)


class InvitationAcceptSerializer(StrictSerializer):
    token = serializers.CharField(max_length=128)
    password = serializers.CharField(
        max_length=256, required=False, allow_blank=True, trim_whitespace=False
    )
    display_name = serializers.CharField(max_length=120, required=False, allow_blank=True)


class CsrfSerializer(serializers.Serializer):
    csrf_token = serializers.CharField()
