"""The data migration that takes coaches reached through a share out of the reps' teams."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps
from django.utils import timezone

from apps.accounts.models import Invitation, Membership, Role
from tests.coaching.helpers import share
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("apps.coaching.migrations.0002_share_coaches_leave_reps_teams")


def test_coaches_made_members_by_a_share_leave_the_team_and_every_other_membership_stays():
    team, other_team = TeamFactory(), TeamFactory()
    rep = UserFactory()
    MembershipFactory(team=team, user=rep, role=Role.REP)
    MembershipFactory(team=team, role=Role.ORG_ADMIN)
    # What accepting a share did until 2026-12-08: the coach joined the rep's first team.
    by_share = UserFactory()
    share(rep, by_share)
    MembershipFactory(team=team, user=by_share, role=Role.COACH)
    MembershipFactory(team=other_team, user=by_share, role=Role.REP)
    # The team's own coach, invited by its admin, whom the rep also shares with.
    invited = UserFactory(email="Team.Coach@example.com")
    share(rep, invited)
    MembershipFactory(team=team, user=invited, role=Role.COACH)
    Invitation.objects.create(
        team=team,
        email="team.coach@example.com",
        role=Role.COACH,
        token_hash="a" * 64,
        expires_at=timezone.now() + dt.timedelta(days=1),
        accepted_at=timezone.now(),
    )
    # A coach of the team no rep shares with, and one a rep of another team shares with.
    unshared = MembershipFactory(team=team, role=Role.COACH).user
    elsewhere = UserFactory()
    share(rep, elsewhere)
    MembershipFactory(team=other_team, user=elsewhere, role=Role.COACH)
    before = Membership.objects.count()

    migration.forward(apps, None)

    assert Membership.objects.count() == before - 1
    assert not Membership.objects.filter(team=team, user=by_share).exists()
    assert Membership.objects.filter(team=other_team, user=by_share, role=Role.REP).exists()
    for kept in (invited, unshared):
        assert Membership.objects.filter(team=team, user=kept, role=Role.COACH).exists()
    assert Membership.objects.filter(team=other_team, user=elsewhere, role=Role.COACH).exists()
