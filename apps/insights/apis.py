from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.selectors import request_user as me
from apps.core.time import local_date
from apps.insights import selectors, services
from apps.insights.serializers import (
    InsightFeedbackSerializer,
    InsightListQuerySerializer,
    InsightListSerializer,
    InsightSerializer,
    InsightStatusSerializer,
    TrendQuerySerializer,
    TrendSerializer,
)

SERIES_PARAM = OpenApiParameter("series", str, OpenApiParameter.PATH, enum=list(selectors.SERIES))


class InsightListApi(APIView):
    @extend_schema(
        parameters=[InsightListQuerySerializer],
        responses=InsightListSerializer,
        operation_id="insights_list",
        summary="My insights (rendered in my language) and what unlocks the next ones",
    )
    def get(self, request: Request) -> Response:
        query = InsightListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        user = me(request)
        insights = selectors.insight_list(user=user, **query.validated_data)
        return Response(
            {
                "insights": [selectors.insight_to_dict(i, user.locale) for i in insights],
                "progress": selectors.progress_list(user=user, locale=user.locale),
            }
        )


class InsightDetailApi(APIView):
    @extend_schema(responses=InsightSerializer, summary="One of my insights")
    def get(self, request: Request, insight_id: uuid.UUID) -> Response:
        user = me(request)
        insight = selectors.insight_get(user=user, insight_id=insight_id)
        return Response(selectors.insight_to_dict(insight, user.locale))


class InsightStatusApi(APIView):
    @extend_schema(
        request=InsightStatusSerializer, responses=InsightSerializer, summary="Mark read/dismissed"
    )
    def post(self, request: Request, insight_id: uuid.UUID) -> Response:
        user = me(request)
        insight = selectors.insight_get(user=user, insight_id=insight_id)
        serializer = InsightStatusSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        insight = services.insight_set_status(insight=insight, **serializer.validated_data)
        return Response(selectors.insight_to_dict(insight, user.locale))


class InsightFeedbackApi(APIView):
    @extend_schema(
        request=InsightFeedbackSerializer, responses=InsightSerializer, summary="Helpful or not"
    )
    def post(self, request: Request, insight_id: uuid.UUID) -> Response:
        user = me(request)
        insight = selectors.insight_get(user=user, insight_id=insight_id)
        serializer = InsightFeedbackSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        insight = services.insight_set_feedback(insight=insight, **serializer.validated_data)
        return Response(selectors.insight_to_dict(insight, user.locale))


class TrendApi(APIView):
    @extend_schema(
        parameters=[SERIES_PARAM, TrendQuerySerializer],
        responses=TrendSerializer,
        summary="A pre-aggregated chart series of my own data (one query)",
    )
    def get(self, request: Request, series: str) -> Response:
        if series not in selectors.SERIES:
            raise NotFound(f"Unknown series '{series}'.")
        query = TrendQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        user = me(request)
        date_to: dt.date = query.validated_data.get("date_to") or local_date(user, timezone.now())
        date_from = date_to - dt.timedelta(days=selectors.RANGES[query.validated_data["range"]] - 1)
        data = selectors.trend_series(
            user=user, series=series, date_from=date_from, date_to=date_to
        )
        return Response(
            {
                "series": series,
                "date_from": date_from.isoformat(),
                "date_to": date_to.isoformat(),
                **data,
            }
        )
