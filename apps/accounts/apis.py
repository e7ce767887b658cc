"""HTTP for accounts: parse, call one service or selector, shape the output."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.middleware.csrf import get_token
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import selectors, services
from apps.accounts.models import ApiToken, User
from apps.accounts.serializers import (
    ApiTokenCreatedSerializer,
    ApiTokenCreateSerializer,
    ApiTokenSerializer,
    CsrfSerializer,
    InvitationAcceptSerializer,
    InvitationCreateSerializer,
    InvitationSerializer,
    LoginSerializer,
    MeSerializer,
    MeUpdateSerializer,
    PasswordChangeSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetSerializer,
    TeamCreateSerializer,
    TeamSerializer,
)
from apps.core.errors import ApplicationError
from apps.core.throttles import AccountLoginThrottle, LoginThrottle, PasswordResetThrottle


def _me(user: User) -> dict[str, Any]:
    data = MeSerializer(user).data
    data["roles"] = selectors.user_roles(user=user)
    return dict(data)


def _enforce_csrf(request: Request) -> None:
    # Login and invitation acceptance create a session, so they get CSRF protection too
    # (login CSRF), even though DRF only enforces it for already authenticated sessions.
    # Only a request that really authenticated with an API token is exempt; any other
    # Authorization header proves nothing about where the request came from.
    if not isinstance(request.auth, ApiToken):
        SessionAuthentication().enforce_csrf(request)


class CsrfApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=CsrfSerializer, summary="Get a CSRF token (sets the csrftoken cookie)")
    def get(self, request: Request) -> Response:
        return Response({"csrf_token": get_token(request)})


class LoginApi(APIView):
    permission_classes = [AllowAny]
    # No authentication here: LoginThrottle (an anonymous-rate throttle) skips authenticated
    # requests, so a signed-in client could otherwise guess other people's passwords freely.
    # CSRF is enforced explicitly below; login() replaces any current session.
    authentication_classes: list[type] = []
    throttle_classes = [LoginThrottle, AccountLoginThrottle]

    @extend_schema(request=LoginSerializer, responses=MeSerializer, summary="Sign in (session)")
    def post(self, request: Request) -> Response:
        _enforce_csrf(request)
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(
            request,
            username=serializer.validated_data["email"].lower(),
            password=serializer.validated_data["password"],
        )
        if user is None:
            # Same answer for an unknown e-mail and a wrong password (no enumeration).
            raise ApplicationError(
                "E-mail address or password is wrong.", status_code=400, code="login-failed"
            )
        login(request._request, user)
        return Response(_me(user))


class LogoutApi(APIView):
    @extend_schema(request=None, responses={204: None}, summary="Sign out")
    def post(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    @extend_schema(responses=MeSerializer, summary="The signed-in user")
    def get(self, request: Request) -> Response:
        return Response(_me(selectors.request_user(request)))

    @extend_schema(request=MeUpdateSerializer, responses=MeSerializer, summary="Update settings")
    def patch(self, request: Request) -> Response:
        serializer = MeUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_update(
            user=selectors.request_user(request), **serializer.validated_data
        )
        return Response(_me(user))


class PasswordChangeApi(APIView):
    # The old password is checked here: an API token or a borrowed session must not turn
    # into unlimited guesses at it, so this shares the login limit.
    throttle_classes = [LoginThrottle]

    @extend_schema(request=PasswordChangeSerializer, responses={204: None})
    def post(self, request: Request) -> Response:
        serializer = PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = selectors.request_user(request)
        services.password_change(user=user, **serializer.validated_data)
        if not isinstance(request.auth, ApiToken):
            # Keep this session alive; every other session of the user is invalidated by the
            # hash. A token request has no session to keep (and must not be given one).
            update_session_auth_hash(request._request, user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    throttle_classes = [PasswordResetThrottle]

    @extend_schema(
        request=PasswordResetSerializer,
        responses={202: OpenApiResponse(description="Sent if the account exists")},
    )
    def post(self, request: Request) -> Response:
        serializer = PasswordResetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_reset_request(email=serializer.validated_data["email"])
        return Response(
            {"detail": "If an account exists for this address, a reset link is on its way."},
            status=status.HTTP_202_ACCEPTED,
        )


class PasswordResetConfirmApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    throttle_classes = [PasswordResetThrottle]

    @extend_schema(request=PasswordResetConfirmSerializer, responses={204: None})
    def post(self, request: Request) -> Response:
        serializer = PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_reset_confirm(**serializer.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiTokenListApi(APIView):
    # Managing tokens needs the signed-in person: a leaked token cannot mint its replacement.
    authentication_classes = [SessionAuthentication]

    @extend_schema(responses=ApiTokenSerializer(many=True), summary="My API tokens")
    def get(self, request: Request) -> Response:
        tokens = selectors.api_token_list(user=selectors.request_user(request))
        return Response(ApiTokenSerializer(tokens, many=True).data)

    @extend_schema(
        request=ApiTokenCreateSerializer,
        responses={201: ApiTokenCreatedSerializer},
        summary="Create an API token (the secret is shown once)",
    )
    def post(self, request: Request) -> Response:
        serializer = ApiTokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, raw = services.api_token_create(
            user=selectors.request_user(request), **serializer.validated_data
        )
        data = dict(ApiTokenSerializer(token).data)
        data["token"] = raw
        return Response(data, status=status.HTTP_201_CREATED)


class ApiTokenDetailApi(APIView):
    authentication_classes = [SessionAuthentication]

    @extend_schema(request=None, responses={204: None}, summary="Revoke an API token")
    def delete(self, request: Request, token_id: str) -> Response:
        token = (
            selectors.api_token_list(user=selectors.request_user(request))
            .filter(pk=token_id)
            .first()
        )
        if token is None:
            raise ApiToken.DoesNotExist
        services.api_token_revoke(token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamListApi(APIView):
    @extend_schema(responses=TeamSerializer(many=True), summary="Teams I belong to")
    def get(self, request: Request) -> Response:
        return Response(
            TeamSerializer(
                selectors.team_list(user=selectors.request_user(request)), many=True
            ).data
        )

    @extend_schema(request=TeamCreateSerializer, responses={201: TeamSerializer})
    def post(self, request: Request) -> Response:
        serializer = TeamCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        team = services.team_create(
            creator=selectors.request_user(request), **serializer.validated_data
        )
        return Response(TeamSerializer(team).data, status=status.HTTP_201_CREATED)


class TeamInvitationApi(APIView):
    @extend_schema(responses=InvitationSerializer(many=True), summary="Invitations (org admin)")
    def get(self, request: Request, team_id: str) -> Response:
        team = selectors.team_get_admin(user=selectors.request_user(request), team_id=team_id)
        return Response(InvitationSerializer(selectors.invitation_list(team=team), many=True).data)

    @extend_schema(request=InvitationCreateSerializer, responses={201: InvitationSerializer})
    def post(self, request: Request, team_id: str) -> Response:
        team = selectors.team_get_admin(user=selectors.request_user(request), team_id=team_id)
        serializer = InvitationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation, _raw = services.invitation_create(
            team=team,
            invited_by=selectors.request_user(request),
            **serializer.validated_data,
        )
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)


class InvitationAcceptApi(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [LoginThrottle]

    @extend_schema(request=InvitationAcceptSerializer, responses={200: MeSerializer})
    def post(self, request: Request) -> Response:
        _enforce_csrf(request)
        serializer = InvitationAcceptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        current = request.user if isinstance(request.user, User) else None
        user = services.invitation_accept(user=current, **serializer.validated_data)
        if current is None:
            login(request._request, user, backend="django.contrib.auth.backends.ModelBackend")
        return Response(_me(user))
