"""Share grants over HTTP: inviting a coach, the plain-words warnings, bad input, the coach's
acceptance and revocation."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import pytest
from django.core import mail
from rest_framework.test import APIClient

from apps.accounts.models import Membership, Role
from apps.coaching.models import ShareGrant
from tests.coaching.helpers import ALL_SCOPES, NOW, make_insight, share
from tests.core.problems import assert_problem
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

GRANTS = "/api/v1/coaching/grants"
ACCEPT = "/api/v1/coaching/invitations/accept"


def grant_body(coach_email: str, **extra: Any) -> dict[str, Any]:
    return {"coach_email": coach_email, "scopes": ["energy_trend"], **extra}


def invitation_token() -> str:
    assert mail.outbox, "no invitation mail was sent"
    match = re.search(r"coach-invite\?token=(\S+)", mail.outbox[-1].body)
    assert match is not None, mail.outbox[-1].body
    return match.group(1)


def test_rep_invites_a_coach_by_email(api, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            GRANTS,
            {
                "coach_email": "  Coach@Example.com ",
                "scopes": ["sales_quality_trend", "energy_trend", "personal_note"],
            },
            format="json",
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["coach_email"] == "coach@example.com"
    # Scopes in their fixed order, whatever order the rep sent.
    assert body["scopes"] == ["energy_trend", "sales_quality_trend", "personal_note"]
    assert body["status"] == "pending"
    assert body["warnings"] == []
    assert body["coach_name"] is None
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert expires - NOW == pytest.approx(dt.timedelta(days=90), abs=dt.timedelta(seconds=5))
    # One e-mail to the coach, naming the rep and no lifestyle data; the token is only there.
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["coach@example.com"]
    assert user.email in mail.outbox[0].body
    token = invitation_token()
    assert token not in response.content.decode()
    assert api.get(GRANTS).json()[0]["id"] == body["id"]


def test_expiry_can_be_chosen_up_to_a_year(api):
    response = api.post(GRANTS, grant_body("c@example.com", expires_in_days=365), format="json")
    assert response.status_code == 201
    expires = dt.datetime.fromisoformat(response.json()["expires_at"])
    assert (expires - NOW).days == 365
    too_long = api.post(GRANTS, grant_body("d@example.com", expires_in_days=366), format="json")
    assert_problem(too_long, 400, fields=["expires_in_days"])


def test_line_manager_gets_a_plain_warning(api, user):
    manager = UserFactory(email="boss@example.com")
    team = TeamFactory()
    MembershipFactory(team=team, user=user, role=Role.REP, manager=manager)
    MembershipFactory(team=team, user=manager, role=Role.REP)
    response = api.post(GRANTS, grant_body("BOSS@example.com"), format="json")
    assert response.status_code == 201, response.content
    warnings = response.json()["warnings"]
    assert [w["code"] for w in warnings] == ["line_manager"]
    assert "boss@example.com is your line manager" in warnings[0]["message"]
    assert "withdraw" in warnings[0]["message"]
    # The warning stays with the grant, so the rep sees it again later.
    grant_id = response.json()["id"]
    assert api.get(f"{GRANTS}/{grant_id}").json()["warnings"] == warnings


def test_org_admin_of_the_reps_team_gets_a_plain_warning(api, user):
    admin = UserFactory(email="admin@example.com")
    team = TeamFactory()
    MembershipFactory(team=team, user=user, role=Role.REP)
    MembershipFactory(team=team, user=admin, role=Role.ORG_ADMIN)
    response = api.post(GRANTS, grant_body("admin@example.com"), format="json")
    assert response.status_code == 201
    assert [w["code"] for w in response.json()["warnings"]] == ["org_admin"]
    assert "organisation admin of your team" in response.json()["warnings"][0]["message"]


def test_org_admin_of_another_team_is_not_flagged(api, user):
    admin = UserFactory(email="elsewhere@example.com")
    MembershipFactory(user=user, role=Role.REP)
    MembershipFactory(user=admin, role=Role.ORG_ADMIN)  # a different team
    response = api.post(GRANTS, grant_body(admin.email), format="json")
    assert response.status_code == 201
    assert response.json()["warnings"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"coach_email": "c@example.com", "scopes": ["raw_entries"]}, "scopes.0"),
        ({"coach_email": "c@example.com", "scopes": ["alcohol_amounts"]}, "scopes.0"),
        ({"coach_email": "c@example.com", "scopes": []}, "scopes"),
        ({"coach_email": "c@example.com"}, "scopes"),
        ({"coach_email": "not-an-email", "scopes": ["energy_trend"]}, "coach_email"),
        ({"coach_email": "c@example.com", "scopes": "energy_trend"}, "scopes"),
        ({"coach_email": "c@example.com", "scopes": ["energy_trend"], "notes": True}, "notes"),
        ({"coach_email": "c@example.com", "scopes": ["chosen_insights"]}, "insight_ids"),
        (
            {
                "coach_email": "c@example.com",
                "scopes": ["energy_trend"],
                "insight_ids": [str(uuid.uuid4())],
            },
            "insight_ids",
        ),
        (
            {"coach_email": "c@example.com", "scopes": ["energy_trend"], "expires_in_days": 0},
            "expires_in_days",
        ),
    ],
)
def test_bad_input_is_a_400_and_writes_nothing(api, body, field):
    response = api.post(GRANTS, body, format="json")
    assert_problem(response, 400, fields=[field])
    assert not ShareGrant.objects.exists()
    assert not mail.outbox


def test_sharing_with_yourself_is_refused(api, user):
    response = api.post(GRANTS, grant_body(user.email.upper()), format="json")
    assert_problem(response, 400, fields=["coach_email"], detail="yourself")
    assert not ShareGrant.objects.exists()


def test_chosen_insights_must_be_the_reps_own(api, user, other_user):
    mine = make_insight(user)
    theirs = make_insight(other_user)
    body = grant_body("c@example.com", scopes=["chosen_insights"])
    response = api.post(
        GRANTS, {**body, "insight_ids": [str(mine.pk), str(theirs.pk)]}, format="json"
    )
    problem = assert_problem(response, 400, fields=["insight_ids"])
    assert str(theirs.pk) in problem["errors"]["insight_ids"][0]
    # Someone else's insight is described like a made-up id: nothing about it leaks.
    assert other_user.email not in response.content.decode()
    assert not ShareGrant.objects.exists()

    ok = api.post(GRANTS, {**body, "insight_ids": [str(mine.pk)]}, format="json")
    assert ok.status_code == 201, ok.content
    assert ok.json()["insight_ids"] == [str(mine.pk)]


def test_insights_about_alcohol_cannot_be_shared(api, user):
    drinks = make_insight(user, factor="drinks", construct="alcohol", lag=1, threshold=3)
    response = api.post(
        GRANTS,
        grant_body("c@example.com", scopes=["chosen_insights"], insight_ids=[str(drinks.pk)]),
        format="json",
    )
    assert_problem(response, 400, fields=["insight_ids"], detail="alcohol")
    assert not ShareGrant.objects.exists()


def test_a_second_live_share_with_the_same_coach_is_a_conflict(api):
    assert api.post(GRANTS, grant_body("c@example.com"), format="json").status_code == 201
    again = api.post(GRANTS, grant_body("C@example.com"), format="json")
    assert_problem(again, 409, fields=["coach_email"])
    assert ShareGrant.objects.count() == 1


def test_after_revoking_the_rep_can_share_again(api, user):
    first = api.post(GRANTS, grant_body("c@example.com"), format="json").json()
    revoked = api.post(f"{GRANTS}/{first['id']}/revoke")
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    assert api.post(GRANTS, grant_body("c@example.com"), format="json").status_code == 201


# --- the coach's acceptance -------------------------------------------------------------------


def test_new_coach_creates_an_account_and_gets_the_coach_role(
    user, make_client, django_capture_on_commit_callbacks
):
    team = TeamFactory()
    MembershipFactory(team=team, user=user, role=Role.REP)
    with django_capture_on_commit_callbacks(execute=True):
        make_client(user).post(GRANTS, grant_body("newcoach@example.com"), format="json")
    anonymous = APIClient()
    response = anonymous.post(
        ACCEPT,
        {
            "token": invitation_token(),
            "password": "violet-kayak-mountain-42",
            "display_name": "Coach Carla",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["rep_email"] == user.email
    assert response.json()["scopes"] == ["energy_trend"]
    # The role is the share's: the coach joins no team of the rep's employer.
    assert not Membership.objects.filter(user__email="newcoach@example.com").exists()
    assert team.memberships.count() == 1
    # Signed in straight away, and the rep now sees who accepted.
    me = anonymous.get("/api/v1/auth/me").json()
    assert me["email"] == "newcoach@example.com"
    assert me["roles"] == ["coach"]
    assert anonymous.get("/api/v1/teams").json() == []
    grant = make_client(user).get(GRANTS).json()[0]
    assert (grant["status"], grant["coach_name"]) == ("active", "Coach Carla")


def test_existing_account_accepts_when_signed_in_and_keeps_its_coach_role(
    user, make_client, django_capture_on_commit_callbacks
):
    coach = UserFactory()
    MembershipFactory(user=coach, role=Role.COACH)
    with django_capture_on_commit_callbacks(execute=True):
        make_client(user).post(GRANTS, grant_body(coach.email), format="json")
    token = invitation_token()
    signed_out = APIClient().post(ACCEPT, {"token": token}, format="json")
    assert_problem(signed_out, 400, code="sign-in-required")
    response = make_client(coach).post(ACCEPT, {"token": token}, format="json")
    assert response.status_code == 200, response.content
    assert Membership.objects.filter(user=coach).count() == 1  # no extra membership
    used = make_client(coach).post(ACCEPT, {"token": token}, format="json")
    assert_problem(used, 400, code="invitation-used")


def test_invitation_for_someone_else_is_refused(
    user, other_user, make_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        make_client(user).post(GRANTS, grant_body("coach@example.com"), format="json")
    response = make_client(other_user).post(ACCEPT, {"token": invitation_token()}, format="json")
    assert_problem(response, 403)
    assert ShareGrant.objects.get().coach is None


def test_expired_and_withdrawn_invitations_are_clear_400s(
    user, make_client, clock, django_capture_on_commit_callbacks
):
    coach = UserFactory()
    rep_api = make_client(user)
    with django_capture_on_commit_callbacks(execute=True):
        first = rep_api.post(GRANTS, grant_body(coach.email), format="json").json()
    withdrawn_token = invitation_token()
    rep_api.post(f"{GRANTS}/{first['id']}/revoke")
    response = make_client(coach).post(ACCEPT, {"token": withdrawn_token}, format="json")
    assert_problem(response, 400, code="invitation-withdrawn")

    with django_capture_on_commit_callbacks(execute=True):
        rep_api.post(GRANTS, grant_body(coach.email), format="json")
    late_token = invitation_token()
    clock.move_to(NOW + dt.timedelta(hours=73))
    response = make_client(coach).post(ACCEPT, {"token": late_token}, format="json")
    assert_problem(response, 400, code="invitation-expired")
    assert rep_api.get(GRANTS).json()[0]["status"] == "invitation_expired"

    unknown = make_client(coach).post(ACCEPT, {"token": "made-up"}, format="json")
    assert_problem(unknown, 400, fields=["token"])
    assert not ShareGrant.objects.filter(accepted_at__isnull=False).exists()


def test_grant_detail_and_revoke_are_404_for_anyone_else(user, make_client):
    grant = share(user)
    coach_api = make_client(grant.coach)
    for response in (
        coach_api.get(f"{GRANTS}/{grant.pk}"),
        coach_api.post(f"{GRANTS}/{grant.pk}/revoke"),
        make_client(UserFactory()).post(f"{GRANTS}/{grant.pk}/revoke"),
    ):
        assert_problem(response, 404)
    grant.refresh_from_db()
    assert grant.revoked_at is None


def test_every_scope_at_once(api, user):
    insight = make_insight(user)
    response = api.post(
        GRANTS,
        grant_body("c@example.com", scopes=ALL_SCOPES, insight_ids=[str(insight.pk)]),
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["scopes"] == ALL_SCOPES


def test_the_employer_never_sees_who_coaches_a_rep_and_the_role_ends_with_the_share(
    user, make_client, django_capture_on_commit_callbacks
):
    """Accepting a share made the coach a member of the rep's team (shown to the org admin,
    in the Django admin's team page, and to the coach as a team) and withdrawing left it."""
    team = TeamFactory()
    MembershipFactory(team=team, user=user, role=Role.REP)
    admin = UserFactory(is_staff=True, is_superuser=True)
    MembershipFactory(team=team, user=admin, role=Role.ORG_ADMIN)
    coach = UserFactory(email="therapist@clinic.example")
    grant = share(user, coach)
    coach_api = make_client(coach)
    assert coach_api.get("/api/v1/auth/me").json()["roles"] == ["coach"]

    team_page = make_client(admin).get(f"/admin/accounts/team/{team.pk}/change/")
    assert team_page.status_code == 200
    assert coach.email not in team_page.content.decode()
    assert coach_api.get("/api/v1/teams").json() == []

    revoked = make_client(user).post(f"{GRANTS}/{grant.pk}/revoke")

    assert revoked.status_code == 200, revoked.content
    assert coach_api.get("/api/v1/auth/me").json()["roles"] == []
    assert list(team.memberships.values_list("role", flat=True).order_by("role")) == [
        Role.ORG_ADMIN,
        Role.REP,
    ]
