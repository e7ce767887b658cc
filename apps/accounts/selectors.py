"""Every read about people and teams, always from the point of view of one user."""

from __future__ import annotations

from typing import Any

from django.db.models import CharField, QuerySet, Value
from django.utils.functional import SimpleLazyObject

from apps.accounts.models import ApiToken, Invitation, Membership, Role, Team, User
from apps.core.crypto import hash_secret


def api_token_for_secret(raw: str) -> ApiToken | None:
    return (
        ApiToken.objects.select_related("user")
        .filter(token_hash=hash_secret(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )


def api_token_list(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def team_list(*, user: User) -> QuerySet[Team]:
    return Team.objects.filter(memberships__user=user).distinct().order_by("name")


def team_get_admin(*, user: User, team_id: str) -> Team:
    """The team if ``user`` administers it; otherwise Team.DoesNotExist (a 404)."""
    return (
        Team.objects.filter(pk=team_id, memberships__user=user, memberships__role=Role.ORG_ADMIN)
        .distinct()
        .get()
    )


def invitation_list(*, team: Team) -> QuerySet[Invitation]:
    return Invitation.objects.filter(team=team).order_by("-created_at")


def user_roles(*, user: User) -> list[str]:
    """The user's roles in teams, and "coach" while a rep shares with them. That role is the
    share's own, not a membership of the rep's team: the employer never sees who coaches whom."""
    from apps.coaching.selectors import live_shares_to

    in_teams = Membership.objects.filter(user=user).values_list("role", flat=True)
    sharing = (
        live_shares_to(coach=user)
        .annotate(role=Value(Role.COACH.value, output_field=CharField()))
        .values_list("role", flat=True)
    )
    # One query: the /me answer's count stays what it was.
    return sorted(set(in_teams.union(sharing)))


def user_is_org_admin(*, user: User) -> bool:
    return Membership.objects.filter(user=user, role=Role.ORG_ADMIN).exists()


def request_user(request: Any) -> User:
    """The authenticated user of a DRF request, typed (permissions already ran)."""
    user = request.user
    if not isinstance(user, User):
        raise TypeError("request_user() needs an authenticated request")
    # Session authentication hands over Django's lazy proxy; the services use the user many
    # times per request (a 100-entry sync sets it on every row), each time through the proxy.
    if type(user) is SimpleLazyObject:
        user = user._wrapped
    return user


def user_exists(*, pk: Any) -> bool:
    """Read afresh: whether the account is still there (not erased since a request began)."""
    return User.objects.filter(pk=pk).exists()
