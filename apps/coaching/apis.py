"""HTTP for coaching: the rep's shares and summaries, the coach's reading API, the access log.

Parse, call one service or selector, shape the output. Everything addressed by id is looked
up from the caller's side, so someone else's id is a 404 like an unknown one.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth import login
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.selectors import request_user as me
from apps.coaching import constants, selectors, services
from apps.coaching.serializers import (
    AcceptedShareSerializer,
    AccessLogPageSerializer,
    AccessLogQuerySerializer,
    CoachInvitationAcceptSerializer,
    CoachSummaryPageSerializer,
    CoachSummarySerializer,
    GrantCreateSerializer,
    GrantSerializer,
    PageQuerySerializer,
    SummaryListQuerySerializer,
    SummaryPageSerializer,
    SummarySerializer,
    SummaryUpdateSerializer,
)
from apps.core.pagination import CreatedCursorPagination
from apps.core.throttles import LoginThrottle, WriteThrottle

TAGS = ["coaching"]


def _query(serializer_class: type[PageQuerySerializer], request: Request) -> dict[str, Any]:
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return {k: v for k, v in query.validated_data.items() if k not in ("cursor", "page_size")}


# --- the rep's shares -------------------------------------------------------------------------


class GrantListApi(APIView):
    throttle_classes = [WriteThrottle]

    @extend_schema(tags=TAGS, responses=GrantSerializer(many=True), summary="My coaching shares")
    def get(self, request: Request) -> Response:
        grants = selectors.grant_list(rep=me(request))
        return Response(
            GrantSerializer([selectors.grant_to_dict(g) for g in grants], many=True).data
        )

    @extend_schema(
        tags=TAGS,
        request=GrantCreateSerializer,
        responses={201: GrantSerializer},
        summary="Share weekly summaries with a coach (invites them by e-mail)",
        description=(
            "Scopes come from a fixed list: energy_trend, sleep_regularity, "
            "sales_quality_trend, chosen_insights (with insight_ids of your own insights) and "
            "personal_note. No scope contains raw entries, drink amounts or your journal notes. "
            "`warnings` says in plain words when the coach is your line manager or an "
            "organisation admin of your team."
        ),
    )
    def post(self, request: Request) -> Response:
        serializer = GrantCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        grant, _raw = services.grant_create(rep=me(request), **serializer.validated_data)
        return Response(
            GrantSerializer(selectors.grant_to_dict(grant)).data, status=status.HTTP_201_CREATED
        )


class GrantDetailApi(APIView):
    @extend_schema(tags=TAGS, responses=GrantSerializer, summary="One of my coaching shares")
    def get(self, request: Request, grant_id: uuid.UUID) -> Response:
        grant = selectors.grant_get(rep=me(request), grant_id=grant_id)
        return Response(GrantSerializer(selectors.grant_to_dict(grant)).data)


class GrantRevokeApi(APIView):
    throttle_classes = [WriteThrottle]

    @extend_schema(
        tags=TAGS,
        request=None,
        responses=GrantSerializer,
        summary="Withdraw a share: the coach loses every summary of it at once",
    )
    def post(self, request: Request, grant_id: uuid.UUID) -> Response:
        grant = selectors.grant_get(rep=me(request), grant_id=grant_id)
        grant = services.grant_revoke(grant=grant)
        return Response(GrantSerializer(selectors.grant_to_dict(grant)).data)


# --- the rep's summaries ----------------------------------------------------------------------


class SummaryListApi(APIView):
    @extend_schema(
        tags=TAGS,
        operation_id="coaching_summaries_list",
        parameters=[SummaryListQuerySerializer],
        responses=SummaryPageSerializer,
        summary="My weekly summaries (drafts to preview, approved, expired)",
    )
    def get(self, request: Request) -> Response:
        filters = _query(SummaryListQuerySerializer, request)
        queryset = selectors.summary_list(rep=me(request), **filters)
        paginator = CreatedCursorPagination()
        page = paginator.paginate_queryset(queryset, request, view=self) or []
        return paginator.get_paginated_response(
            SummarySerializer([selectors.summary_to_dict(s) for s in page], many=True).data
        )


class SummaryDetailApi(APIView):
    throttle_classes = [WriteThrottle]

    @extend_schema(
        tags=TAGS,
        responses=SummarySerializer,
        summary="Preview a summary exactly as the coach would see it",
    )
    def get(self, request: Request, summary_id: uuid.UUID) -> Response:
        summary = selectors.summary_get(rep=me(request), summary_id=summary_id)
        return Response(SummarySerializer(selectors.summary_to_dict(summary)).data)

    @extend_schema(
        tags=TAGS,
        request=SummaryUpdateSerializer,
        responses=SummarySerializer,
        summary="Edit a draft: remove parts for good, or write your personal note",
    )
    def patch(self, request: Request, summary_id: uuid.UUID) -> Response:
        summary = selectors.summary_get(rep=me(request), summary_id=summary_id)
        serializer = SummaryUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        summary = services.summary_update(summary=summary, **serializer.validated_data)
        return Response(SummarySerializer(selectors.summary_to_dict(summary)).data)


class SummaryApproveApi(APIView):
    throttle_classes = [WriteThrottle]

    @extend_schema(
        tags=TAGS,
        request=None,
        responses=SummarySerializer,
        summary="Approve a draft: only now can the coach read it",
    )
    def post(self, request: Request, summary_id: uuid.UUID) -> Response:
        summary = selectors.summary_get(rep=me(request), summary_id=summary_id)
        summary = services.summary_approve(summary=summary)
        return Response(SummarySerializer(selectors.summary_to_dict(summary)).data)


class AccessLogApi(APIView):
    @extend_schema(
        tags=TAGS,
        parameters=[AccessLogQuerySerializer],
        responses=AccessLogPageSerializer,
        summary="Every time a coach read one of my summaries (newest first)",
    )
    def get(self, request: Request) -> Response:
        filters = _query(AccessLogQuerySerializer, request)
        queryset = selectors.access_log_list(rep=me(request), **filters)
        paginator = CreatedCursorPagination()
        page = paginator.paginate_queryset(queryset, request, view=self) or []
        return paginator.get_paginated_response([selectors.access_log_to_dict(e) for e in page])


# --- the coach's side -------------------------------------------------------------------------


class CoachSummaryListApi(APIView):
    @extend_schema(
        tags=TAGS,
        operation_id="coaching_coach_summaries_list",
        parameters=[PageQuerySerializer],
        responses=CoachSummaryPageSerializer,
        summary="Summaries reps approved for me (each read is logged for the rep)",
    )
    def get(self, request: Request) -> Response:
        _query(PageQuerySerializer, request)
        coach = me(request)
        paginator = CreatedCursorPagination()
        page = paginator.paginate_queryset(
            selectors.coach_summary_list(coach=coach), request, view=self
        )
        summaries = list(page or [])
        # Logged before the answer is sent: no read goes unrecorded.
        services.access_log_record(coach=coach, summaries=summaries, action=constants.READ_LIST)
        return paginator.get_paginated_response(
            CoachSummarySerializer(
                [selectors.coach_summary_to_dict(s) for s in summaries], many=True
            ).data
        )


class CoachSummaryDetailApi(APIView):
    @extend_schema(
        tags=TAGS,
        responses=CoachSummarySerializer,
        summary="One summary a rep approved for me (logged for the rep)",
    )
    def get(self, request: Request, summary_id: uuid.UUID) -> Response:
        coach = me(request)
        summary = selectors.coach_summary_get(coach=coach, summary_id=summary_id)
        services.access_log_record(coach=coach, summaries=[summary], action=constants.READ_DETAIL)
        return Response(CoachSummarySerializer(selectors.coach_summary_to_dict(summary)).data)


class InvitationAcceptApi(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [LoginThrottle]

    @extend_schema(
        tags=TAGS,
        request=CoachInvitationAcceptSerializer,
        responses=AcceptedShareSerializer,
        summary="Coach: accept a share with the e-mailed link (signed in, or create an account)",
    )
    def post(self, request: Request) -> Response:
        if request.auth is None:
            # A session (or none): this may sign someone in, so it needs CSRF protection
            # like login. Only a real API token request is exempt.
            SessionAuthentication().enforce_csrf(request)
        serializer = CoachInvitationAcceptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        current = me(request) if request.user.is_authenticated else None
        grant, coach = services.grant_accept(user=current, **serializer.validated_data)
        if current is None:
            login(request._request, coach, backend="django.contrib.auth.backends.ModelBackend")
        body = {
            "grant_id": grant.pk,
            "rep_name": grant.rep.display_name,
            "rep_email": grant.rep.email,
            "scopes": grant.scopes,
            "expires_at": grant.expires_at,
        }
        return Response(AcceptedShareSerializer(body).data)
