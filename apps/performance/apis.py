"""HTTP for sales figures: parse, call one service or selector, shape the output."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.http import HttpRequest
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from apps.accounts.selectors import request_user as me
from apps.core.idempotency import request_fingerprint
from apps.core.pagination import KeysetCursorPagination, TimeCursorPagination
from apps.core.throttles import ImportThrottle, WebhookThrottle, WriteThrottle
from apps.core.time import local_date
from apps.performance import selectors, services
from apps.performance.serializers import (
    CallStatsInSerializer,
    CallStatsOutSerializer,
    CallStatsPageSerializer,
    CallStatsUpsertResultSerializer,
    ConnectionCreateSerializer,
    ConnectionRotateSerializer,
    ConnectionSecretSerializer,
    ConnectionSerializer,
    CursorQuerySerializer,
    DailyOutSerializer,
    DailyRowSerializer,
    ImportCreateSerializer,
    ImportJobPageSerializer,
    ImportJobSerializer,
    ListQuerySerializer,
    MeetingInSerializer,
    MeetingOutSerializer,
    MeetingPageSerializer,
    MeetingUpsertResultSerializer,
    PeriodQuerySerializer,
    TeamSalesOutSerializer,
    TeamSalesRepSerializer,
    WebhookAcceptedSerializer,
    WebhookPayloadSerializer,
)

DEFAULT_PERIOD_DAYS = 30


def _period(request: Request) -> tuple[dt.date, dt.date]:
    query = PeriodQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    today = local_date(me(request), timezone.now())
    date_to: dt.date = query.validated_data.get("date_to") or today
    date_from: dt.date = query.validated_data.get("date_from") or (
        date_to - dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    )
    if date_from > date_to:
        raise ValidationError({"date_from": ["Must not be after date_to."]})
    if (date_to - date_from).days > 366:
        raise ValidationError({"date_from": ["A period covers at most 366 days."]})
    return date_from, date_to


def _list_filters(request: Request) -> dict[str, Any]:
    query = ListQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    return {k: v for k, v in query.validated_data.items() if k.startswith("date_")}


def _upsert_body(outcome: services.UpsertOutcome, render: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"result": outcome.result}
    if outcome.detail:
        body["detail"] = outcome.detail
    body["entry"] = render(outcome.entry)
    return body


class DayPagination(KeysetCursorPagination):
    ordering = ("-local_date", "-id")


class CreatedPagination(KeysetCursorPagination):
    max_page_size = 200
    ordering = ("-created_at", "-id")


def _call_stats(entry: Any) -> dict[str, Any]:
    return dict(CallStatsOutSerializer(selectors.call_stats_to_dict(entry)).data)


def _meeting(entry: Any) -> dict[str, Any]:
    return dict(MeetingOutSerializer(selectors.meeting_to_dict(entry)).data)


# --- manual entry ----------------------------------------------------------------------------


class CallStatsListApi(APIView):
    @extend_schema(
        parameters=[ListQuerySerializer],
        responses=CallStatsPageSerializer,
        operation_id="performance_calls_list",
        summary="List my day call figures (cursor-paginated, newest day first)",
    )
    def get(self, request: Request) -> Response:
        queryset = selectors.call_stats_list(user=me(request), **_list_filters(request)).values(
            *selectors.CALL_STATS_FIELDS
        )
        paginator = DayPagination()
        page: list[Any] = paginator.paginate_queryset(queryset, request, view=self) or []
        return paginator.get_paginated_response(CallStatsOutSerializer(page, many=True).data)


class CallStatsDetailApi(APIView):
    throttle_classes = [WriteThrottle]

    @extend_schema(responses=CallStatsOutSerializer, summary="One of my day call figures")
    def get(self, request: Request, stats_id: uuid.UUID) -> Response:
        entry = selectors.call_stats_get(user=me(request), stats_id=stats_id)
        return Response(_call_stats(entry))

    @extend_schema(
        request=CallStatsInSerializer,
        responses={200: CallStatsUpsertResultSerializer, 201: CallStatsUpsertResultSerializer},
        summary="Create or update my call figures of one day by client UUID (idempotent)",
        description=(
            "End-of-day numbers typed by the rep. One entry per day: a second UUID for the same "
            "day answers 409 with existing_id. Sending the same body twice stores one entry and "
            "gives the same answer; an edit older than the stored one is not applied ('stale'). "
            "Figures imported from a CRM are read-only here (409)."
        ),
    )
    def put(self, request: Request, stats_id: uuid.UUID) -> Response:
        serializer = CallStatsInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = services.call_stats_upsert(
            user=me(request),
            stats_id=stats_id,
            values=dict(serializer.validated_data),
            request_hash=request_fingerprint("calls", stats_id, request.data),
        )
        return Response(_upsert_body(outcome, _call_stats), status=outcome.status)

    @extend_schema(responses={204: None}, summary="Delete my call figures of one day")
    def delete(self, request: Request, stats_id: uuid.UUID) -> Response:
        services.call_stats_delete(user=me(request), stats_id=stats_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeetingListApi(APIView):
    @extend_schema(
        parameters=[ListQuerySerializer],
        responses=MeetingPageSerializer,
        operation_id="performance_meetings_list",
        summary="List my meetings (cursor-paginated, newest first)",
    )
    def get(self, request: Request) -> Response:
        queryset = selectors.meeting_list(user=me(request), **_list_filters(request)).values(
            *selectors.MEETING_OUTPUT_FIELDS
        )
        paginator = TimeCursorPagination()
        page: list[Any] = paginator.paginate_queryset(queryset, request, view=self) or []
        return paginator.get_paginated_response(MeetingOutSerializer(page, many=True).data)


class MeetingDetailApi(APIView):
    throttle_classes = [WriteThrottle]

    @extend_schema(responses=MeetingOutSerializer, summary="One of my meetings")
    def get(self, request: Request, meeting_id: uuid.UUID) -> Response:
        entry = selectors.meeting_get(user=me(request), meeting_id=meeting_id)
        return Response(_meeting(entry))

    @extend_schema(
        request=MeetingInSerializer,
        responses={200: MeetingUpsertResultSerializer, 201: MeetingUpsertResultSerializer},
        summary="Create or update one of my meetings by client UUID (idempotent)",
        description=(
            "bant_score (0-4) and qualified are derived: qualified = held and BANT score at "
            "least the team's minimum (default 3). Meetings imported from a CRM are read-only "
            "here (409)."
        ),
    )
    def put(self, request: Request, meeting_id: uuid.UUID) -> Response:
        serializer = MeetingInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = services.meeting_upsert(
            user=me(request),
            meeting_id=meeting_id,
            values=dict(serializer.validated_data),
            request_hash=request_fingerprint("meetings", meeting_id, request.data),
        )
        return Response(_upsert_body(outcome, _meeting), status=outcome.status)

    @extend_schema(responses={204: None}, summary="Delete one of my meetings")
    def delete(self, request: Request, meeting_id: uuid.UUID) -> Response:
        services.meeting_delete(user=me(request), meeting_id=meeting_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DailyApi(APIView):
    @extend_schema(
        parameters=[PeriodQuerySerializer],
        responses=DailyOutSerializer,
        summary="My sales-quality metrics per local day (default: the last 30 days)",
        description=(
            "Only days with sales data appear. Rates are null when their denominator is 0; "
            "deal_value is the sum of held meetings in minor units."
        ),
    )
    def get(self, request: Request) -> Response:
        date_from, date_to = _period(request)
        days = selectors.daily_quality(user=me(request), date_from=date_from, date_to=date_to)
        return Response(
            {
                "date_from": date_from.isoformat(),
                "date_to": date_to.isoformat(),
                "days": DailyRowSerializer(days, many=True).data,
            }
        )


# --- team view -------------------------------------------------------------------------------


class TeamSalesApi(APIView):
    @extend_schema(
        parameters=[PeriodQuerySerializer],
        responses=TeamSalesOutSerializer,
        summary="Sales figures per rep of a team I administer (never lifestyle data)",
        description="Org admins of the team only; anyone else gets 404.",
    )
    def get(self, request: Request, team_id: uuid.UUID) -> Response:
        team = selectors.team_get_admin(user=me(request), team_id=team_id)
        date_from, date_to = _period(request)
        reps = selectors.team_sales(team=team, date_from=date_from, date_to=date_to)
        return Response(
            {
                "team_id": str(team.pk),
                "date_from": date_from.isoformat(),
                "date_to": date_to.isoformat(),
                "reps": TeamSalesRepSerializer(reps, many=True).data,
            }
        )


# --- imports ---------------------------------------------------------------------------------


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """Streams the upload to a temporary file and stops reading past IMPORT_MAX_BYTES, so a
    body without (or with a lying) Content-Length cannot fill the disk."""

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if start + len(raw_data) > services.import_max_bytes():
            raise RequestDataTooBig("The uploaded file is larger than an import accepts.")
        return super().receive_data_chunk(raw_data, start)


class ImportListCreateApi(APIView):
    parser_classes = [MultiPartParser]

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Request:
        request.upload_handlers = [LimitedUploadHandler(request)]
        return super().initialize_request(request, *args, **kwargs)

    def get_throttles(self) -> list[BaseThrottle]:
        return [ImportThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        parameters=[CursorQuerySerializer],
        responses=ImportJobPageSerializer,
        operation_id="performance_imports_list",
        summary="My imports, newest first",
    )
    def get(self, request: Request) -> Response:
        CursorQuerySerializer(data=request.query_params).is_valid(raise_exception=True)
        paginator = CreatedPagination()
        page = (
            paginator.paginate_queryset(
                selectors.import_job_list(user=me(request)), request, view=self
            )
            or []
        )
        return paginator.get_paginated_response(ImportJobSerializer(page, many=True).data)

    @extend_schema(
        request={"multipart/form-data": ImportCreateSerializer},
        responses={
            201: OpenApiResponse(ImportJobSerializer, description="Small file: processed now."),
            202: OpenApiResponse(ImportJobSerializer, description="Large file: queued."),
        },
        summary="Import a CSV export from a CRM (dry run, all-or-nothing or valid rows only)",
        description=(
            "Formats and columns: docs/import-format.md. Small files are processed in the "
            "request (201); larger ones are stored and imported by a background job (202; poll "
            "GET /imports/{import_id}). A dry run writes no activities and reports what would be "
            "created, updated, unchanged and rejected (row, column, reason). In all_or_nothing "
            "mode a file with any invalid row imports nothing (small files: 400 with the "
            "report). An org admin imports for the reps of a team (matched by e-mail; unknown "
            "reps are reported); without team_id you import your own activities."
        ),
    )
    def post(self, request: Request) -> Response:
        serializer = ImportCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        job, queued = services.import_submit(
            user=me(request),
            team_id=data.get("team_id"),
            options=services.ImportOptions(
                format=data["format"],
                mode=data["mode"],
                dry_run=data["dry_run"],
                column_map=data.get("column_map", {}),
                timezone=data.get("timezone", ""),
                currency=data.get("currency", ""),
            ),
            upload=data["file"],
        )
        return Response(
            ImportJobSerializer(job).data,
            status=status.HTTP_202_ACCEPTED if queued else status.HTTP_201_CREATED,
        )


class ImportDetailApi(APIView):
    @extend_schema(responses=ImportJobSerializer, summary="One of my imports, with progress")
    def get(self, request: Request, import_id: uuid.UUID) -> Response:
        job = selectors.import_job_get(user=me(request), job_id=import_id)
        return Response(ImportJobSerializer(job).data)


# --- CRM connections -------------------------------------------------------------------------


class TeamConnectionListApi(APIView):
    @extend_schema(
        responses=ConnectionSerializer(many=True),
        summary="CRM connections of a team I administer",
    )
    def get(self, request: Request, team_id: uuid.UUID) -> Response:
        team = selectors.team_get_admin(user=me(request), team_id=team_id)
        connections = selectors.crm_connection_list(team=team)
        return Response(ConnectionSerializer(connections, many=True).data)

    @extend_schema(
        request=ConnectionCreateSerializer,
        responses={201: ConnectionSecretSerializer},
        summary="Create a CRM webhook connection (the secret is shown once)",
    )
    def post(self, request: Request, team_id: uuid.UUID) -> Response:
        team = selectors.team_get_admin(user=me(request), team_id=team_id)
        serializer = ConnectionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        connection, secret = services.crm_connection_create(
            team=team, name=serializer.validated_data["name"]
        )
        body = dict(ConnectionSerializer(connection).data)
        body["secret"] = secret
        return Response(body, status=status.HTTP_201_CREATED)


class ConnectionDetailApi(APIView):
    @extend_schema(responses=ConnectionSerializer, summary="One CRM connection")
    def get(self, request: Request, connection_id: uuid.UUID) -> Response:
        connection = selectors.crm_connection_get_admin(
            user=me(request), connection_id=connection_id
        )
        return Response(ConnectionSerializer(connection).data)

    @extend_schema(responses={204: None}, summary="Delete a CRM connection")
    def delete(self, request: Request, connection_id: uuid.UUID) -> Response:
        connection = selectors.crm_connection_get_admin(
            user=me(request), connection_id=connection_id
        )
        services.crm_connection_delete(connection=connection)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConnectionRotateApi(APIView):
    @extend_schema(
        request=ConnectionRotateSerializer,
        responses=ConnectionSecretSerializer,
        summary="Replace the webhook secret (the new one is shown once)",
    )
    def post(self, request: Request, connection_id: uuid.UUID) -> Response:
        connection = selectors.crm_connection_get_admin(
            user=me(request), connection_id=connection_id
        )
        serializer = ConnectionRotateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        connection, secret = services.crm_connection_rotate(
            connection=connection,
            keep_previous_minutes=serializer.validated_data["keep_previous_minutes"],
        )
        body = dict(ConnectionSerializer(connection).data)
        body["secret"] = secret
        return Response(body)


# --- webhook ---------------------------------------------------------------------------------


class WebhookApi(APIView):
    # The HMAC signature is the only authentication (no session, no CSRF, no token).
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    # Per client IP, not per connection: keyed by connection it would run before the signature
    # check, so anyone who knows the URL could use up the CRM's quota. Generous (a CRM sends
    # bursts); it stops one address flooding the endpoint with unsigned requests.
    throttle_classes = [WebhookThrottle]

    @extend_schema(
        request=WebhookPayloadSerializer,
        responses={202: WebhookAcceptedSerializer},
        parameters=[
            OpenApiParameter(
                "X-Energytrack-Timestamp",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="Unix seconds; refused when more than 5 minutes off.",
            ),
            OpenApiParameter(
                "X-Energytrack-Signature",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description='"sha256=" + hex HMAC-SHA256 of f"{timestamp}.{raw body}" with '
                "the connection's secret.",
            ),
        ],
        auth=[],
        summary="CRM webhook: activities of the team's reps (HMAC-signed)",
        description=(
            "Verifies the signature and timestamp, records the event id (a replay answers 409) "
            "and queues the processing; 401 for a bad signature or timestamp. Nothing is "
            "written for a rejected delivery."
        ),
    )
    def post(self, request: Request, connection_id: uuid.UUID) -> Response:
        receipt = services.webhook_receive(
            connection_id=connection_id,
            raw_body=request.body,
            timestamp=request.headers.get("X-Energytrack-Timestamp"),
            signature=request.headers.get("X-Energytrack-Signature"),
        )
        return Response(
            {"id": str(receipt.id), "event_id": receipt.event_id, "status": receipt.status},
            status=status.HTTP_202_ACCEPTED,
        )
