"""The project's routes, then the benchmark-only routes last (they cannot shadow a real route)."""

from __future__ import annotations

import uuid
from typing import Any

from django.urls import include, path
from django.utils import timezone
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.sql import insert_new
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


class PostFloorApi(APIView):
    """The floor of any authenticated JSON write on this stack: the CSRF check, the body parsed
    and a 201 rendered, no validation and no database write."""

    def post(self, request: Request) -> Response:
        return Response({"id": request.data.get("id")}, status=status.HTTP_201_CREATED)


class InsertFloorApi(APIView):
    """The floor plus one row written the leanest way the journal writes (one prepared INSERT,
    autocommit): no validation, consent, lock, version, write limit or stale day."""

    def post(self, request: Request) -> Response:
        now = timezone.now()
        user = request.user
        row = EnergyCheckin(
            id=uuid.UUID(str(request.data["id"])),
            user=user,
            occurred_at=now,
            tz=user.timezone,
            local_date=now.date(),
            client_updated_at=now,
            level=request.data.get("level"),
        )
        insert_new(EnergyCheckin, [row])
        return Response({"id": str(row.id)}, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("", include("energytrack.urls")),
    path(
        "api/v1/bench/reference-energy",
        ReferenceEnergyViewSet.as_view({"post": "create"}),
    ),
    path("api/v1/bench/post-floor", PostFloorApi.as_view()),
    path("api/v1/bench/insert-floor", InsertFloorApi.as_view()),
]
