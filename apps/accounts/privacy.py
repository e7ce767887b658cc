from __future__ import annotations

from typing import Any

from apps.accounts.models import ApiToken, Invitation, Membership, User
from apps.privacy.registry import PrivacyHandler, register


def export_user(user: Any) -> dict[str, Any]:
    return {
        "profile": User.objects.filter(pk=user.pk)
        .values("email", "display_name", "timezone", "locale", "day_boundary_hour", "date_joined")
        .get(),
        "memberships": list(
            Membership.objects.filter(user=user).values("team__name", "role", "created_at")
        ),
        "api_tokens": list(
            ApiToken.objects.filter(user=user).values(
                "name", "prefix", "created_at", "last_used_at", "revoked_at"
            )
        ),
    }


def erase_user(user: Any) -> int:
    count = ApiToken.objects.filter(user=user).delete()[0]
    count += Membership.objects.filter(user=user).delete()[0]
    # Invitations are the team's records; only the link to the person goes.
    Invitation.objects.filter(invited_by=user).update(invited_by=None)
    Invitation.objects.filter(accepted_by=user).update(accepted_by=None)
    count += Invitation.objects.filter(email__iexact=user.email).delete()[0]
    Membership.objects.filter(manager=user).update(manager=None)
    count += User.objects.filter(pk=user.pk).delete()[0]
    return count


register(
    PrivacyHandler(
        app_label="accounts",
        models=(User, Membership, ApiToken, Invitation),
        export_user=export_user,
        erase_user=erase_user,
    )
)
