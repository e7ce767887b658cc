from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth import logout
from django.core.files.storage import default_storage
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.selectors import request_user as me
from apps.core.errors import ApplicationError
from apps.core.throttles import LoginThrottle
from apps.privacy import selectors, services
from apps.privacy.models import Category, DataExport
from apps.privacy.serializers import (
    AccountDeleteSerializer,
    ConsentEventSerializer,
    ConsentSerializer,
    ConsentWithdrawnSerializer,
    ConsentWithdrawSerializer,
    DataExportSerializer,
    ImportResultSerializer,
    ImportSerializer,
    PrivacyPreferenceSerializer,
)

EXPLANATIONS = {
    "sleep": "Bed and wake times and how well you slept, to relate rest to your working days.",
    "food": "Meal times, how heavy they were and simple tags such as sugary or caffeine.",
    "exercise": "What exercise you did, for how long and how hard.",
    "alcohol": "How many standard drinks you had and in what setting.",
    "energy": "Your energy level (1-9), focus and mood, several times a day.",
    "activities": "Social and leisure activities and whether they gave or cost energy.",
}
CATEGORY_PARAM = OpenApiParameter(
    "category", str, OpenApiParameter.PATH, enum=list(Category.values)
)


def _category_or_404(category: str) -> str:
    if category not in Category.values:
        raise NotFound(f"Unknown consent category '{category}'.")
    return category


def _consent_body(category: str, state: Any) -> dict[str, Any]:
    return {
        "category": category,
        "label": str(Category(category).label),
        "explanation": EXPLANATIONS[category],
        "granted": bool(state and state.granted),
        "text_version": state.text_version if state else None,
        "updated_at": state.updated_at if state else None,
    }


class ConsentListApi(APIView):
    @extend_schema(responses=ConsentSerializer(many=True), summary="My consent per category")
    def get(self, request: Request) -> Response:
        states = selectors.consent_states(user=me(request))
        body = [_consent_body(c, states.get(c)) for c in Category.values]
        return Response(ConsentSerializer(body, many=True).data)


class ConsentGrantApi(APIView):
    @extend_schema(
        parameters=[CATEGORY_PARAM],
        request=None,
        responses=ConsentSerializer,
        summary="Give consent to store one category",
    )
    def post(self, request: Request, category: str) -> Response:
        category = _category_or_404(category)
        state = services.consent_grant(user=me(request), category=category)
        return Response(ConsentSerializer(_consent_body(category, state)).data)


class ConsentWithdrawApi(APIView):
    @extend_schema(
        parameters=[CATEGORY_PARAM],
        request=ConsentWithdrawSerializer,
        responses=ConsentWithdrawnSerializer,
        summary="Withdraw consent; optionally delete what was logged",
    )
    def post(self, request: Request, category: str) -> Response:
        category = _category_or_404(category)
        serializer = ConsentWithdrawSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        state, deleted = services.consent_withdraw(
            user=me(request), category=category, **serializer.validated_data
        )
        body = _consent_body(category, state)
        body["entries_deleted"] = deleted
        body["entries_kept"] = services.category_entry_count(user=me(request), category=category)
        return Response(ConsentWithdrawnSerializer(body).data)


class ConsentHistoryApi(APIView):
    @extend_schema(responses=ConsentEventSerializer(many=True), summary="My consent history")
    def get(self, request: Request) -> Response:
        events = selectors.consent_history(user=me(request))
        return Response(ConsentEventSerializer(events, many=True).data)


class ExportApi(APIView):
    @extend_schema(
        responses={200: {"type": "object", "additionalProperties": True}},
        summary="Everything stored about me, as one JSON document",
    )
    def get(self, request: Request) -> Response:
        return Response(services.user_export(user=me(request)))


class AccountDeleteApi(APIView):
    # The password is checked here: an API token must not turn into unlimited guesses at it
    # (and one right guess erases the account), so this shares the login limit.
    throttle_classes = [LoginThrottle]

    @extend_schema(
        request=AccountDeleteSerializer,
        responses={204: None},
        summary="Delete my account and everything derived from it (cannot be undone)",
    )
    def post(self, request: Request) -> Response:
        serializer = AccountDeleteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not me(request).check_password(serializer.validated_data["password"]):
            raise ApplicationError(
                "The password is wrong; nothing was deleted.",
                errors={"password": ["Wrong password."]},
            )
        user = me(request)
        logout(request._request)
        services.user_erase(user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _export_body(request: Request, export: DataExport) -> dict[str, Any]:
    ready = export.status == DataExport.Status.READY
    url = None
    if ready:
        token = services.export_download_token(export=export)
        url = request.build_absolute_uri(f"/api/v1/privacy/exports/download/{token}")
    return {
        "id": export.pk,
        "status": export.status,
        "size_bytes": export.size_bytes,
        "created_at": export.created_at,
        "finished_at": export.finished_at,
        "download_url": url,
        "download_expires_in_seconds": services.EXPORT_LINK_MAX_AGE if ready else None,
    }


class ExportRequestApi(APIView):
    @extend_schema(
        request=None,
        responses={202: DataExportSerializer},
        summary="Request a full export (.zip with JSON + CSV), built in the background",
    )
    def post(self, request: Request) -> Response:
        export = services.export_request(user=me(request))
        return Response(
            DataExportSerializer(_export_body(request, export)).data,
            status=status.HTTP_202_ACCEPTED,
        )


class ExportDetailApi(APIView):
    @extend_schema(responses=DataExportSerializer, summary="Export status and download link")
    def get(self, request: Request, export_id: uuid.UUID) -> Response:
        export = selectors.export_get(user=me(request), export_id=export_id)
        return Response(DataExportSerializer(_export_body(request, export)).data)


class ExportDownloadApi(APIView):
    @extend_schema(
        responses={(200, "application/zip"): OpenApiTypes.BINARY},
        summary="Download an export (signed link, valid 24 hours, for the signed-in owner)",
    )
    def get(self, request: Request, token: str) -> FileResponse:
        export = services.export_for_token(token=token, user=me(request))
        handle = default_storage.open(export.file_name, "rb")
        return FileResponse(
            handle,
            as_attachment=True,
            filename=f"energytrack-export-{export.created_at:%Y%m%d}.zip",
            content_type="application/zip",
        )


class ImportApi(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": ImportSerializer},
        responses=ImportResultSerializer,
        summary="Import an export into this (empty) account",
    )
    def post(self, request: Request) -> Response:
        serializer = ImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        document = services.read_export_file(raw=serializer.validated_data["file"].read())
        counts = services.user_import(user=me(request), document=document)
        return Response({"imported": counts})


class PrivacyPreferenceApi(APIView):
    @extend_schema(responses=PrivacyPreferenceSerializer, summary="My retention choice")
    def get(self, request: Request) -> Response:
        preference = selectors.privacy_preference(user=me(request))
        return Response({"keep_aggregates": preference})

    @extend_schema(
        request=PrivacyPreferenceSerializer,
        responses=PrivacyPreferenceSerializer,
        summary="Change my retention choice",
    )
    def put(self, request: Request) -> Response:
        serializer = PrivacyPreferenceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        preference = services.privacy_preference_update(
            user=me(request), **serializer.validated_data
        )
        return Response({"keep_aggregates": preference.keep_aggregates})
