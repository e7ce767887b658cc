from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.renderers import JSONRenderer


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


class SchemaApi(SpectacularAPIView):
    """The OpenAPI schema (YAML by default, JSON with ``?format=json``); its errors (a POST's
    405) are problem+json like every other, not a problem written out in YAML."""

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code >= 400:
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = JSONRenderer.media_type
        return response
