"""Accounts over HTTP: sessions, settings, passwords, API tokens, teams and invitations."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken, Invitation, Membership, Role, Team, User
from apps.accounts.services import api_token_create
from apps.core.throttles import LoginThrottle
from tests.core.problems import assert_problem
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # what UserFactory sets
NEW_PASSWORD = "violet-kayak-mountain-42"

LOGIN = "/api/v1/auth/login"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/auth/me"
CSRF = "/api/v1/auth/csrf"
PASSWORD_CHANGE = "/api/v1/auth/password/change"
RESET = "/api/v1/auth/password/reset"
RESET_CONFIRM = "/api/v1/auth/password/reset/confirm"
TOKENS = "/api/v1/auth/tokens"
TEAMS = "/api/v1/teams"
ACCEPT = "/api/v1/invitations/accept"


def invitations_url(team: Team | str) -> str:
    team_id = team.pk if isinstance(team, Team) else team
    return f"/api/v1/teams/{team_id}/invitations"


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def last_mail_match(pattern: str) -> re.Match[str]:
    assert mail.outbox, "no mail was sent"
    match = re.search(pattern, mail.outbox[-1].body)
    assert match is not None, mail.outbox[-1].body
    return match


def slow_login_rate(monkeypatch: pytest.MonkeyPatch, rate: str = "3/min") -> None:
    # DRF copies DEFAULT_THROTTLE_RATES onto the class at import, so patch the class.
    monkeypatch.setattr(
        LoginThrottle, "THROTTLE_RATES", {**LoginThrottle.THROTTLE_RATES, "login": rate}
    )


# --- session login / logout / me --------------------------------------------------------------


def test_login_starts_a_session_and_returns_me(user):
    client = APIClient()
    response = client.post(LOGIN, {"email": user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "id": str(user.pk),
        "email": user.email,
        "display_name": user.display_name,
        "timezone": "Europe/Amsterdam",
        "locale": "en",
        "day_boundary_hour": 4,
        "roles": [],
    }
    assert response.cookies["sessionid"]["httponly"]
    assert client.get(ME).json()["email"] == user.email
    user.refresh_from_db()
    assert user.last_login is not None


def test_login_email_is_case_insensitive(user):
    response = APIClient().post(
        LOGIN, {"email": user.email.upper(), "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content


def test_logout_ends_the_session(api):
    assert api.get(ME).status_code == 200
    assert api.post(LOGOUT).status_code == 204
    assert_problem(api.get(ME), 401)


def test_me_needs_authentication(db):
    assert_problem(APIClient().get(ME), 401, code="not-authenticated")


def test_wrong_password_and_unknown_email_look_the_same(user):
    wrong_password = APIClient().post(
        LOGIN, {"email": user.email, "password": "not the password"}, format="json"
    )
    unknown_email = APIClient().post(
        LOGIN, {"email": "nobody@example.com", "password": "not the password"}, format="json"
    )
    user.is_active = False
    user.save(update_fields=["is_active"])
    inactive = APIClient().post(LOGIN, {"email": user.email, "password": PASSWORD}, format="json")

    body = assert_problem(wrong_password, 400, code="login-failed")
    assert body["detail"] == "E-mail address or password is wrong."
    for other in (unknown_email, inactive):
        assert other.status_code == wrong_password.status_code
        assert other.content == wrong_password.content
        assert other["Content-Type"] == wrong_password["Content-Type"]
        assert "sessionid" not in other.cookies


def test_login_with_missing_fields_names_them(db):
    body = assert_problem(APIClient().post(LOGIN, {}, format="json"), 400)
    assert set(body["errors"]) == {"email", "password"}


def test_login_throttle_gives_429_with_retry_after(fresh_throttle_window, user, monkeypatch):
    slow_login_rate(monkeypatch, "3/min")
    client = APIClient()
    for _ in range(3):
        response = client.post(LOGIN, {"email": user.email, "password": "guess"}, format="json")
        assert_problem(response, 400, code="login-failed")
    # Even the right password is refused now: the guesser learns nothing.
    response = client.post(LOGIN, {"email": user.email, "password": PASSWORD}, format="json")
    assert_problem(response, 429, code="throttled")
    assert 0 < int(response["Retry-After"]) <= 60
    assert "sessionid" not in response.cookies


def test_login_throttle_also_applies_to_a_signed_in_client(
    fresh_throttle_window, user, other_user, monkeypatch
):
    # Signing in with one's own account must not lift the limit on guessing someone else's.
    slow_login_rate(monkeypatch, "3/min")
    client = APIClient()
    client.force_login(other_user)
    for _ in range(3):
        response = client.post(LOGIN, {"email": user.email, "password": "guess"}, format="json")
        assert_problem(response, 400)
    response = client.post(LOGIN, {"email": user.email, "password": "guess"}, format="json")
    assert_problem(response, 429)


def test_login_throttle_window_passes(user, monkeypatch):
    slow_login_rate(monkeypatch, "2/min")
    client = APIClient()
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        for _ in range(2):
            client.post(LOGIN, {"email": user.email, "password": "guess"}, format="json")
        assert client.post(LOGIN, {}, format="json").status_code == 429
        traveller.shift(dt.timedelta(seconds=61))
        response = client.post(LOGIN, {"email": user.email, "password": PASSWORD}, format="json")
        assert response.status_code == 200, response.content


def test_login_requires_csrf_token(user):
    client = APIClient(enforce_csrf_checks=True)
    credentials = {"email": user.email, "password": PASSWORD}

    body = assert_problem(client.post(LOGIN, credentials, format="json"), 403)
    assert "CSRF" in body["detail"]
    assert client.get(ME).status_code == 401

    token = client.get(CSRF).json()["csrf_token"]
    assert client.cookies["csrftoken"].value
    response = client.post(LOGIN, credentials, format="json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200, response.content
    assert client.get(ME).json()["email"] == user.email


def test_login_with_a_stray_authorization_header_still_requires_csrf(user):
    client = APIClient(enforce_csrf_checks=True)
    response = client.post(
        LOGIN,
        {"email": user.email, "password": PASSWORD},
        format="json",
        HTTP_AUTHORIZATION="Basic Zm9vOmJhcg==",
    )
    assert_problem(response, 403)


def test_logout_requires_csrf_token_for_a_session(user):
    client = APIClient(enforce_csrf_checks=True)
    token = client.get(CSRF).json()["csrf_token"]
    client.post(
        LOGIN, {"email": user.email, "password": PASSWORD}, format="json", HTTP_X_CSRFTOKEN=token
    )
    assert_problem(client.post(LOGOUT), 403)
    assert client.get(ME).status_code == 200
    # Login rotates the CSRF token, so fetch the new one.
    fresh = client.get(CSRF).json()["csrf_token"]
    assert client.post(LOGOUT, HTTP_X_CSRFTOKEN=fresh).status_code == 204
    assert client.get(ME).status_code == 401


def test_me_lists_roles(api, user):
    MembershipFactory(user=user, role=Role.COACH)
    MembershipFactory(user=user, role=Role.REP)
    MembershipFactory(user=user, role=Role.REP)
    assert api.get(ME).json()["roles"] == ["coach", "rep"]


# --- settings (PATCH me) ---------------------------------------------------------------------


def test_patch_me_updates_settings(api, user):
    response = api.patch(
        ME,
        {
            "display_name": "Sam",
            "timezone": "America/New_York",
            "locale": "nl",
            "day_boundary_hour": 0,
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["display_name"], body["timezone"], body["locale"], body["day_boundary_hour"]) == (
        "Sam",
        "America/New_York",
        "nl",
        0,
    )
    user.refresh_from_db()
    assert (user.display_name, user.timezone, user.locale, user.day_boundary_hour) == (
        "Sam",
        "America/New_York",
        "nl",
        0,
    )


def test_patch_me_with_one_field_leaves_the_others(api, user):
    response = api.patch(ME, {"locale": "nl"}, format="json")
    assert response.status_code == 200
    user.refresh_from_db()
    assert (user.locale, user.timezone, user.day_boundary_hour) == ("nl", "Europe/Amsterdam", 4)


def test_patch_me_bad_timezone_is_400_and_nothing_changes(api, user):
    response = api.patch(
        ME, {"timezone": "Europe/Atlantis", "display_name": "Changed"}, format="json"
    )
    body = assert_problem(response, 400, fields=["timezone"])
    assert set(body["errors"]) == {"timezone"}
    fresh = User.objects.get(pk=user.pk)
    assert (fresh.timezone, fresh.display_name) == ("Europe/Amsterdam", user.display_name)


@pytest.mark.parametrize("hour", [13, -1, 24])
def test_patch_me_day_boundary_out_of_range_is_400(api, user, hour):
    body = assert_problem(api.patch(ME, {"day_boundary_hour": hour}, format="json"), 400)
    assert set(body["errors"]) == {"day_boundary_hour"}
    user.refresh_from_db()
    assert user.day_boundary_hour == 4


def test_patch_me_unknown_locale_is_400(api, user):
    assert_problem(api.patch(ME, {"locale": "de"}, format="json"), 400, fields=["locale"])
    user.refresh_from_db()
    assert user.locale == "en"


@pytest.mark.parametrize("field", ["email", "roles", "id", "is_staff"])
def test_patch_me_cannot_touch_read_only_fields(api, user, field):
    value: Any = {"email": "new@example.com", "roles": ["org_admin"], "id": "x", "is_staff": True}[
        field
    ]
    body = assert_problem(api.patch(ME, {field: value}, format="json"), 400)
    assert body["errors"] == {field: ["Unknown field."]}
    fresh = User.objects.get(pk=user.pk)
    assert (fresh.email, fresh.is_staff) == (user.email, False)
    assert not Membership.objects.filter(user=user).exists()


# --- password change ---------------------------------------------------------------------------


def test_password_change_wrong_old_password(api, user):
    response = api.post(
        PASSWORD_CHANGE,
        {"old_password": "nope", "new_password": NEW_PASSWORD},
        format="json",
    )
    assert_problem(response, 400, fields=["old_password"])
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


@pytest.mark.parametrize("weak", ["short", "1234567890123", "password1234"])
def test_password_change_weak_new_password_names_new_password(api, user, weak):
    response = api.post(
        PASSWORD_CHANGE, {"old_password": PASSWORD, "new_password": weak}, format="json"
    )
    body = assert_problem(response, 400, fields=["new_password"])
    assert set(body["errors"]) == {"new_password"}
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_password_change_similar_to_email_is_refused(api, user):
    response = api.post(
        PASSWORD_CHANGE,
        {"old_password": PASSWORD, "new_password": user.email},
        format="json",
    )
    assert_problem(response, 400, fields=["new_password"])


def test_password_change_keeps_this_session_and_ends_the_others(user, make_client):
    this_session = make_client(user)
    other_session = make_client(user)
    assert other_session.get(ME).status_code == 200

    response = this_session.post(
        PASSWORD_CHANGE, {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 204, response.content

    assert this_session.get(ME).status_code == 200
    assert_problem(other_session.get(ME), 401)
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    old = APIClient().post(LOGIN, {"email": user.email, "password": PASSWORD}, format="json")
    assert old.status_code == 400
    new = APIClient().post(LOGIN, {"email": user.email, "password": NEW_PASSWORD}, format="json")
    assert new.status_code == 200


def test_password_change_with_a_token_creates_no_session(api, user):
    raw = api.post(TOKENS, {"name": "ci"}, format="json").json()["token"]
    sessions = Session.objects.count()
    response = bearer(raw).post(
        PASSWORD_CHANGE, {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 204, response.content
    assert "sessionid" not in response.cookies
    assert Session.objects.count() == sessions
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_signing_in_again_replaces_the_session(user, other_user, make_client):
    client = make_client(other_user)
    old_key = client.cookies["sessionid"].value
    response = client.post(LOGIN, {"email": user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    assert client.cookies["sessionid"].value != old_key
    assert client.get(ME).json()["email"] == user.email


def test_password_change_needs_authentication(db):
    response = APIClient().post(
        PASSWORD_CHANGE, {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json"
    )
    assert_problem(response, 401)


# --- password reset ----------------------------------------------------------------------------


def test_password_reset_same_answer_for_known_and_unknown_email(
    user, django_capture_on_commit_callbacks, tasks_inline
):
    with django_capture_on_commit_callbacks(execute=True):
        unknown = APIClient().post(RESET, {"email": "nobody@example.com"}, format="json")
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        known = APIClient().post(RESET, {"email": user.email.upper()}, format="json")

    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]
    assert "/reset?uid=" in mail.outbox[0].body


def test_password_reset_sends_nothing_for_an_inactive_account(
    user, django_capture_on_commit_callbacks, tasks_inline
):
    user.is_active = False
    user.save(update_fields=["is_active"])
    with django_capture_on_commit_callbacks(execute=True):
        response = APIClient().post(RESET, {"email": user.email}, format="json")
    assert response.status_code == 202
    assert mail.outbox == []


def _reset_link(user: User, callbacks: Any) -> tuple[str, str]:
    with callbacks(execute=True):
        APIClient().post(RESET, {"email": user.email}, format="json")
    match = last_mail_match(r"uid=([\w-]+)&token=([\w-]+)")
    return match.group(1), match.group(2)


def test_password_reset_confirm_sets_the_password(
    user, django_capture_on_commit_callbacks, tasks_inline
):
    uid, token = _reset_link(user, django_capture_on_commit_callbacks)
    response = APIClient().post(
        RESET_CONFIRM, {"uid": uid, "token": token, "new_password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 204, response.content
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)

    # The link is single use: the token depends on the password hash.
    again = APIClient().post(
        RESET_CONFIRM,
        {"uid": uid, "token": token, "new_password": "another-" + NEW_PASSWORD},
        format="json",
    )
    assert_problem(again, 400, fields=["token"])
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_password_reset_confirm_ends_existing_sessions(
    user, make_client, django_capture_on_commit_callbacks, tasks_inline
):
    signed_in = make_client(user)
    uid, token = _reset_link(user, django_capture_on_commit_callbacks)
    APIClient().post(
        RESET_CONFIRM, {"uid": uid, "token": token, "new_password": NEW_PASSWORD}, format="json"
    )
    assert_problem(signed_in.get(ME), 401)


def test_password_reset_confirm_revokes_api_tokens(
    user, django_capture_on_commit_callbacks, tasks_inline
):
    """A reset is account recovery: a token whoever held the account made must stop working
    (before, it still read the whole export)."""
    _token, raw = api_token_create(user=user, name="made by an intruder")
    bearer = APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert bearer.get(ME).status_code == 200
    uid, token = _reset_link(user, django_capture_on_commit_callbacks)
    APIClient().post(
        RESET_CONFIRM, {"uid": uid, "token": token, "new_password": NEW_PASSWORD}, format="json"
    )
    assert_problem(bearer.get(ME), 401)
    assert not ApiToken.objects.filter(user=user, revoked_at__isnull=True).exists()


def test_an_account_added_in_admin_with_capitals_can_sign_in_and_is_not_doubled():
    from django.test import Client

    operator = UserFactory(is_staff=True, is_superuser=True)
    admin = Client()
    admin.force_login(operator)
    form = {"email": "Bob.Smith@Example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    assert admin.post("/admin/accounts/user/add/", form).status_code == 302
    assert User.objects.filter(email="bob.smith@example.com").exists()
    signed_in = APIClient().post(
        "/api/v1/auth/login", {"email": "Bob.Smith@Example.com", "password": NEW_PASSWORD}
    )
    assert signed_in.status_code == 200, signed_in.content
    form["email"] = "bob.smith@EXAMPLE.com"
    again = admin.post("/admin/accounts/user/add/", form)
    assert again.status_code == 200  # the form shows the error
    assert User.objects.filter(email__iexact="bob.smith@example.com").count() == 1


@pytest.mark.parametrize(
    "case", ["bad-token", "bad-uid", "garbage-uid", "other-users-token"], ids=str
)
def test_password_reset_confirm_bad_link_is_400(
    user, other_user, django_capture_on_commit_callbacks, case, tasks_inline
):
    uid, token = _reset_link(user, django_capture_on_commit_callbacks)
    other_uid, _other_token = _reset_link(other_user, django_capture_on_commit_callbacks)
    payload = {
        "bad-token": {"uid": uid, "token": "abc-123"},
        "bad-uid": {"uid": "MTIz", "token": token},
        "garbage-uid": {"uid": "!!!", "token": token},
        "other-users-token": {"uid": other_uid, "token": token},
    }[case]
    response = APIClient().post(
        RESET_CONFIRM, {**payload, "new_password": NEW_PASSWORD}, format="json"
    )
    body = assert_problem(response, 400, fields=["token"])
    assert body["detail"] == "This reset link is invalid or has expired."
    for person in (user, other_user):
        person.refresh_from_db()
        assert person.check_password(PASSWORD)


def test_password_reset_confirm_weak_password_names_new_password(
    user, django_capture_on_commit_callbacks, tasks_inline
):
    uid, token = _reset_link(user, django_capture_on_commit_callbacks)
    response = APIClient().post(
        RESET_CONFIRM, {"uid": uid, "token": token, "new_password": "123"}, format="json"
    )
    body = assert_problem(response, 400, fields=["new_password"])
    assert set(body["errors"]) == {"new_password"}
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


# --- API tokens -------------------------------------------------------------------------------


def test_token_is_shown_once_and_never_listed(api, user):
    response = api.post(TOKENS, {"name": "CRM script"}, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    raw = created["token"]
    assert raw.startswith("et_")
    assert len(raw) >= 40
    assert created["name"] == "CRM script"
    assert created["prefix"] == raw[:10]
    assert created["last_used_at"] is None
    assert created["revoked_at"] is None

    listed = api.get(TOKENS).json()
    assert listed == [{key: value for key, value in created.items() if key != "token"}]
    assert raw not in api.get(TOKENS).content.decode()


def test_token_is_stored_only_as_a_sha256_hash(api):
    raw = api.post(TOKENS, {"name": "ci"}, format="json").json()["token"]
    row = ApiToken.objects.values().get()
    assert row["token_hash"] == hashlib.sha256(raw.encode()).hexdigest()
    for column, value in row.items():
        assert raw not in str(value), column


def test_bearer_token_authenticates_and_records_last_use(api, user):
    created = api.post(TOKENS, {"name": "ci"}, format="json").json()
    response = bearer(created["token"]).get(ME)
    assert response.status_code == 200, response.content
    assert response.json()["email"] == user.email
    token = ApiToken.objects.get(pk=created["id"])
    assert token.last_used_at is not None
    assert timezone.now() - token.last_used_at < dt.timedelta(minutes=1)


def test_token_keyword_also_works(api, user):
    raw = api.post(TOKENS, {"name": "ci"}, format="json").json()["token"]
    response = APIClient().get(ME, HTTP_AUTHORIZATION=f"Token {raw}")
    assert response.json()["email"] == user.email


def test_bearer_requests_need_no_csrf_token(api):
    raw = api.post(TOKENS, {"name": "ci"}, format="json").json()["token"]
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.patch(ME, {"locale": "nl"}, format="json").status_code == 200


def test_revoked_token_is_refused(api):
    created = api.post(TOKENS, {"name": "ci"}, format="json").json()
    script = bearer(created["token"])
    assert script.get(ME).status_code == 200

    assert api.delete(f"{TOKENS}/{created['id']}").status_code == 204
    body = assert_problem(script.get(ME), 401)
    assert body["detail"] == "Invalid or revoked token."
    listed = api.get(TOKENS).json()
    assert listed[0]["revoked_at"] is not None
    # Revoking again is harmless.
    assert api.delete(f"{TOKENS}/{created['id']}").status_code == 204


@pytest.mark.parametrize(
    "header",
    [
        "Bearer et_not-a-real-token",
        "Bearer not-even-prefixed",
        "Bearer",
        "Bearer et_a et_b",
        "Token ",
    ],
)
def test_bad_bearer_headers_are_401_problems(db, header):
    response = APIClient().get(ME, HTTP_AUTHORIZATION=header)
    assert_problem(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_token_of_a_deactivated_user_is_refused(api, user):
    raw = api.post(TOKENS, {"name": "ci"}, format="json").json()["token"]
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert_problem(bearer(raw).get(ME), 401)


def test_another_users_token_cannot_be_revoked_or_seen(api, other_user, make_client):
    theirs = make_client(other_user).post(TOKENS, {"name": "theirs"}, format="json").json()
    body = assert_problem(api.delete(f"{TOKENS}/{theirs['id']}"), 404)
    assert theirs["id"] not in str(body)
    assert api.get(TOKENS).json() == []
    assert ApiToken.objects.get(pk=theirs["id"]).revoked_at is None
    assert bearer(theirs["token"]).get(ME).status_code == 200


def test_unknown_token_id_is_404(api):
    assert_problem(api.delete(f"{TOKENS}/00000000-0000-0000-0000-000000000000"), 404)


def test_token_list_is_newest_first(api):
    for name in ("first", "second", "third"):
        api.post(TOKENS, {"name": name}, format="json")
    assert [token["name"] for token in api.get(TOKENS).json()] == ["third", "second", "first"]


def test_token_name_is_required_and_bounded(api):
    assert_problem(api.post(TOKENS, {"name": ""}, format="json"), 400, fields=["name"])
    assert_problem(api.post(TOKENS, {"name": "x" * 81}, format="json"), 400, fields=["name"])
    assert not ApiToken.objects.exists()


# --- teams and invitations ---------------------------------------------------------------------


def test_team_creator_becomes_org_admin(api, user, other_user, make_client):
    response = api.post(TEAMS, {"name": "North"}, format="json")
    assert response.status_code == 201, response.content
    team = response.json()
    assert team["name"] == "North"
    assert team["qualified_min_bant"] == 3
    assert list(Membership.objects.filter(team_id=team["id"]).values_list("user", "role")) == [
        (user.pk, Role.ORG_ADMIN)
    ]
    assert api.get(TEAMS).json() == [team]
    assert api.get(ME).json()["roles"] == ["org_admin"]
    assert make_client(other_user).get(TEAMS).json() == []


@pytest.fixture
def team(api: APIClient) -> Team:
    response = api.post(TEAMS, {"name": "North"}, format="json")
    return Team.objects.get(pk=response.json()["id"])


def _invite(
    api: APIClient,
    team: Team,
    callbacks: Any,
    email: str = "New.Rep@Example.com",
    role: str = "coach",
) -> tuple[dict[str, Any], str]:
    with callbacks(execute=True):
        response = api.post(invitations_url(team), {"email": email, "role": role}, format="json")
    assert response.status_code == 201, response.content
    return response.json(), last_mail_match(r"invite\?token=([\w-]+)").group(1)


def test_org_admin_invites_and_the_mail_carries_the_only_copy_of_the_token(
    api, team, django_capture_on_commit_callbacks
):
    invitation, raw = _invite(api, team, django_capture_on_commit_callbacks)
    assert invitation["email"] == "new.rep@example.com"
    assert invitation["role"] == "coach"
    assert invitation["accepted_at"] is None
    assert "token" not in invitation
    assert mail.outbox[-1].to == ["new.rep@example.com"]
    assert "North" in mail.outbox[-1].subject

    row = Invitation.objects.values().get()
    assert row["token_hash"] == hashlib.sha256(raw.encode()).hexdigest()
    for column, value in row.items():
        assert raw not in str(value), column

    listed = api.get(invitations_url(team)).json()
    assert listed == [invitation]


def test_invitation_with_unknown_role_is_400(api, team):
    response = api.post(
        invitations_url(team), {"email": "a@example.com", "role": "ceo"}, format="json"
    )
    assert_problem(response, 400, fields=["role"])
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("relation", ["stranger", "rep", "coach"])
def test_only_the_org_admin_reaches_the_invitations(
    api, team, other_user, make_client, relation, django_capture_on_commit_callbacks
):
    _invite(api, team, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    if relation != "stranger":
        MembershipFactory(team=team, user=other_user, role=relation)
    client = make_client(other_user)

    listed = client.get(invitations_url(team))
    assert_problem(listed, 404)
    assert "new.rep@example.com" not in listed.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(
            invitations_url(team),
            {"email": "friend@example.com", "role": "org_admin"},
            format="json",
        )
    assert_problem(created, 404)
    assert Invitation.objects.count() == 1
    assert mail.outbox == []


def test_admin_of_one_team_cannot_reach_another_team(api, other_user, make_client):
    theirs = TeamFactory()
    MembershipFactory(team=theirs, user=other_user, role=Role.ORG_ADMIN)
    api.post(TEAMS, {"name": "Mine"}, format="json")
    assert_problem(api.get(invitations_url(theirs)), 404)
    assert_problem(api.get(invitations_url("00000000-0000-0000-0000-000000000000")), 404)


def test_accepting_creates_the_account_signs_in_and_adds_the_membership(
    api, team, django_capture_on_commit_callbacks
):
    invitation, raw = _invite(api, team, django_capture_on_commit_callbacks)
    newcomer = APIClient()
    response = newcomer.post(
        ACCEPT, {"token": raw, "password": NEW_PASSWORD, "display_name": "Noor"}, format="json"
    )
    assert response.status_code == 200, response.content
    me = response.json()
    assert (me["email"], me["display_name"], me["roles"]) == (
        "new.rep@example.com",
        "Noor",
        ["coach"],
    )

    created = User.objects.get(email="new.rep@example.com")
    assert created.check_password(NEW_PASSWORD)
    assert Membership.objects.get(user=created).team == team
    assert newcomer.get(ME).json()["id"] == str(created.pk)
    accepted = Invitation.objects.get(pk=invitation["id"])
    assert accepted.accepted_by == created
    assert accepted.accepted_at is not None


def test_accepting_twice_is_refused(api, team, django_capture_on_commit_callbacks):
    _invitation, raw = _invite(api, team, django_capture_on_commit_callbacks)
    APIClient().post(ACCEPT, {"token": raw, "password": NEW_PASSWORD}, format="json")
    users = User.objects.count()
    memberships = Membership.objects.count()

    response = APIClient().post(
        ACCEPT, {"token": raw, "password": "other-" + NEW_PASSWORD}, format="json"
    )
    assert_problem(
        response, 400, fields=["token"], detail="already been used", code="invitation-used"
    )
    assert (User.objects.count(), Membership.objects.count()) == (users, memberships)
    assert User.objects.get(email="new.rep@example.com").check_password(NEW_PASSWORD)


def test_expired_invitation_is_refused_and_writes_nothing(
    api, team, django_capture_on_commit_callbacks
):
    invitation, raw = _invite(api, team, django_capture_on_commit_callbacks)
    users = User.objects.count()
    with time_machine.travel(timezone.now() + dt.timedelta(hours=72, seconds=1), tick=False):
        response = APIClient().post(ACCEPT, {"token": raw, "password": NEW_PASSWORD}, format="json")
    assert_problem(response, 400, fields=["token"], detail="expired", code="invitation-expired")
    assert User.objects.count() == users
    assert Invitation.objects.get(pk=invitation["id"]).accepted_at is None


def test_invitation_is_still_valid_just_before_expiry(
    api, team, django_capture_on_commit_callbacks
):
    _invitation, raw = _invite(api, team, django_capture_on_commit_callbacks)
    with time_machine.travel(timezone.now() + dt.timedelta(hours=71, minutes=59), tick=False):
        response = APIClient().post(ACCEPT, {"token": raw, "password": NEW_PASSWORD}, format="json")
    assert response.status_code == 200, response.content


def test_expired_via_expires_at_in_the_past(api, team, django_capture_on_commit_callbacks):
    invitation, raw = _invite(api, team, django_capture_on_commit_callbacks)
    Invitation.objects.filter(pk=invitation["id"]).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    response = APIClient().post(ACCEPT, {"token": raw, "password": NEW_PASSWORD}, format="json")
    assert_problem(response, 400, detail="expired")
    assert not User.objects.filter(email="new.rep@example.com").exists()


def test_unknown_invitation_token_is_400(db, user):
    users = User.objects.count()
    response = APIClient().post(
        ACCEPT, {"token": "made-up", "password": NEW_PASSWORD}, format="json"
    )
    assert_problem(response, 400, fields=["token"], detail="not valid")
    assert User.objects.count() == users


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"password": "123"}, "password"), ({}, "password"), ({"password": ""}, "password")],
    ids=["weak", "missing", "blank"],
)
def test_accept_without_a_usable_password_writes_nothing(
    api, team, django_capture_on_commit_callbacks, payload, field
):
    invitation, raw = _invite(api, team, django_capture_on_commit_callbacks)
    users = User.objects.count()
    client = APIClient()
    response = client.post(ACCEPT, {"token": raw, **payload}, format="json")
    assert_problem(response, 400, fields=[field])
    assert User.objects.count() == users
    assert Invitation.objects.get(pk=invitation["id"]).accepted_at is None
    assert client.get(ME).status_code == 401


def test_accept_for_an_existing_address_while_signed_out_is_409_and_writes_nothing(
    api, team, django_capture_on_commit_callbacks
):
    existing = UserFactory(email="new.rep@example.com")
    invitation, raw = _invite(api, team, django_capture_on_commit_callbacks)
    response = APIClient().post(ACCEPT, {"token": raw, "password": NEW_PASSWORD}, format="json")
    assert_problem(response, 409, fields=["email"])
    existing.refresh_from_db()
    assert existing.check_password(PASSWORD)
    assert not Membership.objects.filter(user=existing).exists()
    assert Invitation.objects.get(pk=invitation["id"]).accepted_at is None


def test_signed_in_invitee_accepts_without_a_password(
    api, team, make_client, django_capture_on_commit_callbacks
):
    existing = UserFactory(email="new.rep@example.com")
    _invitation, raw = _invite(api, team, django_capture_on_commit_callbacks, role="rep")
    users = User.objects.count()
    response = make_client(existing).post(ACCEPT, {"token": raw}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["roles"] == ["rep"]
    assert User.objects.count() == users
    assert Membership.objects.filter(user=existing, team=team, role=Role.REP).exists()


def test_signed_in_user_cannot_take_someone_elses_invitation(
    api, team, other_user, make_client, django_capture_on_commit_callbacks
):
    invitation, raw = _invite(api, team, django_capture_on_commit_callbacks)
    response = make_client(other_user).post(ACCEPT, {"token": raw}, format="json")
    assert_problem(response, 403)
    assert not Membership.objects.filter(user=other_user).exists()
    assert Invitation.objects.get(pk=invitation["id"]).accepted_at is None


def test_invitee_with_an_api_token_accepts_without_csrf(
    api, team, django_capture_on_commit_callbacks
):
    existing = UserFactory(email="new.rep@example.com")
    _invitation, raw = _invite(api, team, django_capture_on_commit_callbacks)
    _token, secret = api_token_create(user=existing, name="ci")
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = client.post(ACCEPT, {"token": raw}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["email"] == "new.rep@example.com"
    assert "sessionid" not in response.cookies


def test_invitation_role_defaults_to_rep(api, team):
    response = api.post(invitations_url(team), {"email": "a@example.com"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["role"] == "rep"


def test_accept_requires_csrf_for_browsers(api, team, django_capture_on_commit_callbacks):
    _invitation, raw = _invite(api, team, django_capture_on_commit_callbacks)
    client = APIClient(enforce_csrf_checks=True)
    assert_problem(
        client.post(ACCEPT, {"token": raw, "password": NEW_PASSWORD}, format="json"), 403
    )
    assert not User.objects.filter(email="new.rep@example.com").exists()
    token = client.get(CSRF).json()["csrf_token"]
    response = client.post(
        ACCEPT, {"token": raw, "password": NEW_PASSWORD}, format="json", HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 200, response.content


# --- query counts ------------------------------------------------------------------------------


def test_me_uses_a_constant_small_number_of_queries(api, user, django_assert_max_num_queries):
    for _ in range(5):
        MembershipFactory(user=user)
    api.get(ME)  # warm the session cache
    with django_assert_max_num_queries(3):
        assert api.get(ME).status_code == 200


def test_me_with_a_token_uses_a_constant_small_number_of_queries(
    api, django_assert_max_num_queries
):
    raw = api.post(TOKENS, {"name": "ci"}, format="json").json()["token"]
    script = bearer(raw)
    script.get(ME)  # first use writes last_used_at
    with django_assert_max_num_queries(2):
        assert script.get(ME).status_code == 200


@pytest.mark.parametrize("count", [1, 20])
def test_token_list_query_count_does_not_grow(api, count, django_assert_max_num_queries):
    for index in range(count):
        api.post(TOKENS, {"name": f"t{index}"}, format="json")
    api.get(TOKENS)
    with django_assert_max_num_queries(2):
        assert len(api.get(TOKENS).json()) == count


# --- the mail server is down -------------------------------------------------------------------


class BrokenMailServer(BaseEmailBackend):
    """The outside world failing: every send raises, as smtplib does when the server is down."""

    def send_messages(self, email_messages: Any) -> int:
        raise ConnectionRefusedError("mail server is down")


BROKEN_MAIL = "tests.accounts.test_apis.BrokenMailServer"


@pytest.mark.django_db(transaction=True)
def test_reset_answer_does_not_reveal_accounts_when_mail_fails(settings, caplog, tasks_inline):
    # transaction=True: outside a test transaction on_commit runs at once, as in production.
    settings.EMAIL_BACKEND = BROKEN_MAIL
    user = UserFactory()
    client = APIClient(raise_request_exception=False)
    known = client.post(RESET, {"email": user.email}, format="json")
    unknown = client.post(RESET, {"email": "nobody@example.com"}, format="json")
    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content
    # The failure happened in the task (run inline here) and was logged, not raised.
    assert "password reset mail not sent (ConnectionRefusedError)" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_invitation_is_kept_when_its_mail_fails(settings):
    settings.EMAIL_BACKEND = BROKEN_MAIL
    admin = UserFactory()
    client = APIClient(raise_request_exception=False)
    client.force_login(admin)
    team_id = client.post(TEAMS, {"name": "North"}, format="json").json()["id"]
    response = client.post(
        invitations_url(team_id), {"email": "new@example.com", "role": "rep"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert Invitation.objects.filter(pk=response.json()["id"]).exists()


def test_a_name_longer_than_documented_is_refused_even_with_spaces_around(api):
    # Found by schemathesis: DRF trims before it counts, so " " + 120 characters passed a
    # documented maxLength of 120.
    response = api.post(TEAMS, {"name": "\u00a0" + "x" * 120}, format="json")

    body = assert_problem(response, 400)
    assert list(body["errors"]) == ["name"]
    assert api.post(TEAMS, {"name": " " + "x" * 119}, format="json").status_code == 201


def test_invitations_are_not_made_in_admin():
    """Made there, an invitation has no token (and a second one collided: a 500)."""
    from django.test import Client

    operator = UserFactory(is_staff=True, is_superuser=True)
    admin = Client()
    admin.force_login(operator)
    assert admin.get("/admin/accounts/invitation/add/").status_code == 403
