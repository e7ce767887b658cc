from django.urls import path

from apps.accounts import apis

urlpatterns = [
    path("auth/csrf", apis.CsrfApi.as_view(), name="auth-csrf"),
    path("auth/login", apis.LoginApi.as_view(), name="auth-login"),
    path("auth/logout", apis.LogoutApi.as_view(), name="auth-logout"),
    path("auth/me", apis.MeApi.as_view(), name="auth-me"),
    path("auth/password/change", apis.PasswordChangeApi.as_view(), name="password-change"),
    path("auth/password/reset", apis.PasswordResetApi.as_view(), name="password-reset"),
    path(
        "auth/password/reset/confirm",
        apis.PasswordResetConfirmApi.as_view(),
        name="password-reset-confirm",
    ),
    path("auth/tokens", apis.ApiTokenListApi.as_view(), name="api-tokens"),
    path("auth/tokens/<id:token_id>", apis.ApiTokenDetailApi.as_view(), name="api-token"),
    path("teams", apis.TeamListApi.as_view(), name="teams"),
    path(
        "teams/<id:team_id>/invitations",
        apis.TeamInvitationApi.as_view(),
        name="team-invitations",
    ),
    path("invitations/accept", apis.InvitationAcceptApi.as_view(), name="invitation-accept"),
]
