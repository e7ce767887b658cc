"""HTTP for the inbox, preferences, push subscriptions and the e-mail unsubscribe link:
parse, call one service or selector, shape the output."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from apps.accounts.selectors import request_user as me
from apps.core.pagination import KeysetCursorPagination
from apps.core.parsers import JSONParser
from apps.core.renderers import JSONRenderer
from apps.core.serializers import ProblemSerializer
from apps.core.throttles import WriteThrottle
from apps.notifications import messages, push, selectors, services
from apps.notifications.serializers import (
    EmailUnsubscribeBodySerializer,
    EmailUnsubscribeQuerySerializer,
    EmailUnsubscribeSerializer,
    NotificationListQuerySerializer,
    NotificationPageSerializer,
    NotificationSerializer,
    PreferencesSerializer,
    PreferencesUpdateSerializer,
    PublicKeySerializer,
    ReadAllSerializer,
    SubscriptionCreateSerializer,
    SubscriptionSerializer,
    UnreadCountSerializer,
    UnsubscribeEndpointSerializer,
)


class InboxPagination(KeysetCursorPagination):
    ordering = ("-created_at", "-id")


def _notification(request: Request, notification_id: uuid.UUID) -> dict[str, Any]:
    user = me(request)
    notification = selectors.notification_get(user=user, notification_id=notification_id)
    return selectors.notifications_to_dicts([notification], user=user)[0]


class NotificationListApi(APIView):
    @extend_schema(
        parameters=[NotificationListQuerySerializer],
        responses=NotificationPageSerializer,
        operation_id="notifications_list",
        summary="My inbox, newest first (cursor-paginated, in my language)",
    )
    def get(self, request: Request) -> Response:
        query = NotificationListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = {
            k: v for k, v in query.validated_data.items() if k not in ("cursor", "page_size")
        }
        user = me(request)
        paginator = InboxPagination()
        page = paginator.paginate_queryset(
            selectors.notification_list(user=user, **filters), request, view=self
        )
        return paginator.get_paginated_response(
            selectors.notifications_to_dicts(page or [], user=user)
        )


class UnreadCountApi(APIView):
    @extend_schema(responses=UnreadCountSerializer, summary="How many inbox rows are unread")
    def get(self, request: Request) -> Response:
        return Response({"unread": selectors.unread_count(user=me(request))})


class ReadAllApi(APIView):
    throttle_classes = [WriteThrottle]

    @extend_schema(request=None, responses=ReadAllSerializer, summary="Mark my whole inbox read")
    def post(self, request: Request) -> Response:
        return Response({"updated": services.notifications_mark_all_read(user=me(request))})


class NotificationDetailApi(APIView):
    @extend_schema(
        responses=NotificationSerializer,
        operation_id="notifications_get",
        summary="One of my notifications",
    )
    def get(self, request: Request, notification_id: uuid.UUID) -> Response:
        return Response(_notification(request, notification_id))


class NotificationReadApi(APIView):
    throttle_classes = [WriteThrottle]

    @extend_schema(
        request=None,
        responses=NotificationSerializer,
        summary="Mark a notification read (idempotent; a planned push is not sent any more)",
    )
    def post(self, request: Request, notification_id: uuid.UUID) -> Response:
        user = me(request)
        notification = selectors.notification_get(user=user, notification_id=notification_id)
        services.notification_mark_read(notification=notification)
        return Response(_notification(request, notification_id))


class NotificationDismissApi(APIView):
    throttle_classes = [WriteThrottle]

    @extend_schema(
        request=None,
        responses=NotificationSerializer,
        summary="Dismiss a notification (hidden from the inbox; idempotent)",
    )
    def post(self, request: Request, notification_id: uuid.UUID) -> Response:
        user = me(request)
        notification = selectors.notification_get(user=user, notification_id=notification_id)
        services.notification_dismiss(notification=notification)
        return Response(_notification(request, notification_id))


class PreferencesApi(APIView):
    throttle_classes = [WriteThrottle]

    @extend_schema(responses=PreferencesSerializer, summary="My delivery preferences")
    def get(self, request: Request) -> Response:
        prefs = selectors.preferences_get(user=me(request))
        return Response(selectors.preferences_to_dict(prefs))

    @extend_schema(
        request=PreferencesUpdateSerializer,
        responses=PreferencesSerializer,
        summary="Change delivery preferences (only the fields sent)",
        description=(
            "Times are local wall-clock times (HH:MM) in my time zone. Quiet hours hold "
            "non-urgent pushes and e-mails until they end; a reminder time inside the quiet "
            "hours is refused."
        ),
    )
    def patch(self, request: Request) -> Response:
        serializer = PreferencesUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        prefs = services.preferences_update(user=me(request), **serializer.validated_data)
        return Response(selectors.preferences_to_dict(prefs))


class PushPublicKeyApi(APIView):
    @extend_schema(
        responses=PublicKeySerializer, summary="The VAPID public key for PushManager.subscribe()"
    )
    def get(self, request: Request) -> Response:
        config = push.vapid_config()
        return Response(
            {"enabled": config is not None, "public_key": config.public_key if config else None}
        )


class PushSubscriptionListApi(APIView):
    throttle_classes = [WriteThrottle]

    @extend_schema(responses=SubscriptionSerializer(many=True), summary="My push subscriptions")
    def get(self, request: Request) -> Response:
        subscriptions = selectors.push_subscription_list(user=me(request))
        return Response([selectors.push_subscription_to_dict(s) for s in subscriptions])

    @extend_schema(
        request=SubscriptionCreateSerializer,
        responses={200: SubscriptionSerializer, 201: SubscriptionSerializer},
        summary="Subscribe this browser to Web Push (idempotent per endpoint)",
        description=(
            "Send PushSubscription.toJSON() as it is. The endpoint must be an https URL of a "
            "public push service: private, loopback and link-local addresses (also behind a "
            "host name) are refused with a 400. p256dh must be an uncompressed P-256 key "
            "(65 bytes) and auth a 16-byte secret, both base64url."
        ),
    )
    def post(self, request: Request) -> Response:
        serializer = SubscriptionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        subscription, created = services.push_subscription_upsert(
            user=me(request),
            endpoint=data["endpoint"],
            p256dh=data["keys"]["p256dh"],
            auth=data["keys"]["auth"],
            user_agent=data.get("user_agent") or request.headers.get("User-Agent", ""),
        )
        return Response(
            selectors.push_subscription_to_dict(subscription),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class PushSubscriptionDetailApi(APIView):
    throttle_classes = [WriteThrottle]

    @extend_schema(request=None, responses={204: None}, summary="Remove a push subscription")
    def delete(self, request: Request, subscription_id: uuid.UUID) -> Response:
        subscription = selectors.push_subscription_get(
            user=me(request), subscription_id=subscription_id
        )
        services.push_subscription_delete(subscription=subscription)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PushUnsubscribeApi(APIView):
    throttle_classes = [WriteThrottle]

    @extend_schema(
        request=UnsubscribeEndpointSerializer,
        responses={204: None},
        summary="Remove my subscription by its endpoint (what a browser knows)",
    )
    def post(self, request: Request) -> Response:
        serializer = UnsubscribeEndpointSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.push_subscription_delete_by_endpoint(
            user=me(request), endpoint=serializer.validated_data["endpoint"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- e-mail unsubscribe (no sign-in: the signed token is the credential) ---------------------


class UnsubscribePageRenderer(BaseRenderer):
    """A person clicking the link in an e-mail gets a small page in their language."""

    media_type = "text/html"
    format = "html"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        context = renderer_context or {}
        response = context.get("response")
        view = context.get("view")
        valid = response is None or response.status_code < 400
        done = bool(valid and isinstance(data, dict) and data.get("unsubscribed"))
        locale = getattr(view, "page_locale", None) or translation.get_language() or "en"
        page = {
            **messages.unsubscribe_texts(locale=locale, done=done, valid=valid),
            "locale": locale,
            "token": getattr(view, "page_token", ""),
        }
        return render_to_string("notifications/unsubscribe.html", page).encode()


_UNSUBSCRIBE_RESPONSES: dict[Any, Any] = {
    (200, "application/json"): EmailUnsubscribeSerializer,
    (200, "text/html"): OpenApiResponse(
        OpenApiTypes.STR, description="For a browser: a page (with a confirm button on GET)."
    ),
    (400, "application/problem+json"): OpenApiResponse(
        ProblemSerializer, description="The link is forged, damaged or too old."
    ),
    (400, "text/html"): OpenApiResponse(
        OpenApiTypes.STR, description="For a browser: a page saying the link is not valid."
    ),
}


class EmailUnsubscribeThrottle(AnonRateThrottle):
    """Links that are not genuine are limited per client address: a guesser (or a flood) gets
    ``NOTIFICATIONS_UNSUBSCRIBE_RATE`` a minute. A genuine link, which only we can sign, is
    limited per account instead (the same rate): a mail provider sends the one-click
    unsubscribes of all its users from a few addresses (RFC 8058), and a per-address limit
    would refuse real reps as soon as more than that many of them unsubscribed in one minute."""

    scope = "notifications_unsubscribe"

    def get_rate(self) -> str:
        return str(getattr(settings, "NOTIFICATIONS_UNSUBSCRIBE_RATE", "60/min"))

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        account = _signed_account(request)
        if account is not None:
            return self.cache_format % {"scope": self.scope, "ident": f"account-{account}"}
        return super().get_cache_key(request, view)


def _signed_account(request: Request) -> str | None:
    # The query string only: a mail provider's one-click POST keeps the token in the link's
    # URL (its body is "List-Unsubscribe=One-Click"); the confirmation page's form posts it in
    # the body from the rep's own browser, which the per-address limit suits.
    token = request.query_params.get("token")
    if not token or len(token) > 1000:
        return None
    return services.email_unsubscribe_signed_id(token=token)


class EmailUnsubscribeApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    throttle_classes = [EmailUnsubscribeThrottle]
    # RFC 8058: one-click POSTs are multipart/form-data or x-www-form-urlencoded.
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    renderer_classes = [JSONRenderer, UnsubscribePageRenderer]
    page_locale: str | None = None
    page_token: str = ""

    def _token(self, request: Request, body: dict[str, Any] | None = None) -> str:
        query = EmailUnsubscribeQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        token = (body or {}).get("token") or query.validated_data.get("token") or ""
        self.page_token = token
        return token

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        accepted = getattr(request, "accepted_renderer", None)
        if accepted is not None and accepted.format == "html":
            if response.status_code < 300 or response.status_code == 400:
                response.content_type = "text/html; charset=utf-8"
            else:
                # Anything but "this link is not valid" is for programs: problem+json.
                response.accepted_renderer = JSONRenderer()
                response.accepted_media_type = "application/json"
        # The token is in the URL: never pass it on, never cache it, never index it.
        response["Referrer-Policy"] = "no-referrer"
        response["Cache-Control"] = "no-store"
        response["X-Robots-Tag"] = "noindex"
        response["Content-Security-Policy"] = (
            "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
        return response

    @extend_schema(
        parameters=[EmailUnsubscribeQuerySerializer],
        responses=_UNSUBSCRIBE_RESPONSES,
        summary="Check an unsubscribe link from the weekly e-mail (changes nothing)",
        description=(
            "Opened from the e-mail: browsers get a page with a button; the change needs a "
            "POST, so mail scanners that open links do not unsubscribe anyone."
        ),
    )
    def get(self, request: Request) -> Response:
        token = self._token(request)
        user = services.email_unsubscribe_user(token=token)
        self.page_locale = user.locale
        prefs = selectors.preferences_get(user=user)
        return Response({"email_digest": prefs.email_digest, "unsubscribed": False})

    @extend_schema(
        parameters=[EmailUnsubscribeQuerySerializer],
        request={
            "application/x-www-form-urlencoded": EmailUnsubscribeBodySerializer,
            "multipart/form-data": EmailUnsubscribeBodySerializer,
            "application/json": EmailUnsubscribeBodySerializer,
        },
        responses=_UNSUBSCRIBE_RESPONSES,
        summary="Unsubscribe from the weekly e-mail (RFC 8058 one-click; idempotent)",
    )
    def post(self, request: Request) -> Response:
        body = EmailUnsubscribeBodySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        token = self._token(request, body.validated_data)
        user = services.email_unsubscribe(token=token)
        self.page_locale = user.locale
        return Response({"email_digest": False, "unsubscribed": True})
