"""The project's routes, then the reference create last (it cannot shadow a real route)."""

from __future__ import annotations

from typing import Any

from django.urls import include, path
from rest_framework import mixins, serializers, viewsets

from apps.journal.models import EnergyCheckin


class ReferenceEnergySerializer(serializers.ModelSerializer):
    class Meta:
        model = EnergyCheckin
        fields = ["id", "occurred_at", "level", "focus", "mood", "note"]


class ReferenceEnergyViewSet(mixins.CreateModelMixin, viewsets.GenericViewSet):
    """What a first version of the journal would be: validate, save, serialise the row."""

    serializer_class = ReferenceEnergySerializer

    def get_queryset(self) -> Any:
        return EnergyCheckin.objects.filter(user=self.request.user)

    def perform_create(self, serializer: Any) -> None:
        occurred_at = serializer.validated_data["occurred_at"]
        serializer.save(
            user=self.request.user,
            tz=self.request.user.timezone,
            local_date=occurred_at.date(),
            client_updated_at=occurred_at,
        )


urlpatterns = [
    path("", include("energytrack.urls")),
    path(
        "api/v1/bench/reference-energy",
        ReferenceEnergyViewSet.as_view({"post": "create"}),
    ),
]
