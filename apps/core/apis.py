from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class PingSerializer(serializers.Serializer):
    ok = serializers.BooleanField()


class PingApi(APIView):
    """Authenticated no-op: the ceiling every benchmark compares against."""

    @extend_schema(responses=PingSerializer, summary="Authenticated no-op (benchmark baseline)")
    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class HealthApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(responses=PingSerializer, summary="Liveness")
    def get(self, request: Request) -> Response:
        return Response({"ok": True})
