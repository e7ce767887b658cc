"""Accounts objects for the privacy sweep."""

from __future__ import annotations

from apps.accounts.models import User
from apps.accounts.services import api_token_create, invitation_create, team_create
from tests.sweep_types import SweepCase


def _token(owner: User) -> list[SweepCase]:
    token, _raw = api_token_create(user=owner, name="script")
    return [SweepCase(params={"token_id": str(token.pk)}, secret_ids=[str(token.pk)])]


def _team(owner: User) -> list[SweepCase]:
    team = team_create(name="Owner's team", creator=owner)
    invitation, _raw = invitation_create(
        team=team, email="invitee@example.com", role="rep", invited_by=owner
    )
    return [
        SweepCase(
            params={"team_id": str(team.pk)},
            body={"email": "attacker@example.com", "role": "org_admin"},
            secret_ids=[str(invitation.pk)],
        )
    ]


SWEEP = {
    "/api/v1/auth/tokens/{token_id}": _token,
    "/api/v1/teams/{team_id}/invitations": _team,
}
