from __future__ import annotations

from typing import Any

from django.contrib.auth import logout
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.selectors import request_user as me
from apps.core.errors import ApplicationError
from apps.privacy import selectors, services
from apps.privacy.models import Category
from apps.privacy.serializers import (
    AccountDeleteSerializer,
    ConsentEventSerializer,
    ConsentSerializer,
    ConsentWithdrawnSerializer,
    ConsentWithdrawSerializer,
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
