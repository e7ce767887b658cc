"""The accounts part of export and erasure (DESIGN.md §2.6)."""

from __future__ import annotations

import json

import pytest
from django.core.serializers.json import DjangoJSONEncoder

from apps.accounts import privacy, services
from apps.accounts.models import ApiToken, Invitation, Membership, Role, Team, User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_export_has_the_profile_memberships_and_tokens_but_no_secrets(user):
    services.user_update(user=user, locale="nl", day_boundary_hour=2)
    team = services.team_create(name="North", creator=user)
    _token, raw = services.api_token_create(user=user, name="ci")

    exported = privacy.export_user(user)
    text = json.dumps(exported, cls=DjangoJSONEncoder)

    assert exported["profile"]["email"] == user.email
    assert (exported["profile"]["locale"], exported["profile"]["day_boundary_hour"]) == ("nl", 2)
    assert [(m["team__name"], m["role"]) for m in exported["memberships"]] == [
        (team.name, Role.ORG_ADMIN)
    ]
    assert [t["name"] for t in exported["api_tokens"]] == ["ci"]
    assert raw not in text
    assert ApiToken.objects.get().token_hash not in text
    assert "password" not in text


def test_erase_removes_the_person_but_keeps_the_teams_records(
    user, other_user, django_capture_on_commit_callbacks
):
    team = services.team_create(name="North", creator=other_user)
    services.team_create(name="Mine", creator=user)
    with django_capture_on_commit_callbacks(execute=True):
        sent, _ = services.invitation_create(
            team=team, email="someone@example.com", role=Role.REP, invited_by=user
        )
        _received, raw = services.invitation_create(
            team=team, email=user.email, role=Role.COACH, invited_by=other_user
        )
    services.invitation_accept(token=raw, password=None, user=user)
    services.api_token_create(user=user, name="ci")

    assert privacy.erase_user(user) > 0

    assert not User.objects.filter(pk=user.pk).exists()
    assert not ApiToken.objects.exists()
    assert not Membership.objects.filter(user_id=user.pk).exists()
    assert not Invitation.objects.filter(email=user.email).exists()
    sent.refresh_from_db()
    assert sent.invited_by is None
    # Other people's data is untouched.
    assert Team.objects.filter(pk=team.pk).exists()
    assert Membership.objects.filter(user=other_user, team=team, role=Role.ORG_ADMIN).exists()
    assert User.objects.filter(pk=other_user.pk).exists()


def test_erase_of_one_user_leaves_another_users_tokens():
    first, second = UserFactory(), UserFactory()
    services.api_token_create(user=first, name="a")
    services.api_token_create(user=second, name="b")
    privacy.erase_user(first)
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["b"]
