"""Accounts services: the writes behind the API, tested at the service boundary."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts import selectors, services
from apps.accounts.models import ApiToken, Invitation, Membership, Role, Team, User
from apps.core.errors import ApplicationError
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

STRONG = "violet-kayak-mountain-42"


# --- users ---------------------------------------------------------------------------------


def test_user_create_normalises_the_email_and_hashes_the_password():
    user = services.user_create(email="  Noor@Example.COM ", password=STRONG, display_name="Noor")
    assert user.email == "noor@example.com"
    assert user.password != STRONG
    assert user.check_password(STRONG)
    assert (user.timezone, user.locale, user.day_boundary_hour) == ("Europe/Amsterdam", "en", 4)


def test_user_create_duplicate_email_is_a_409_whatever_the_case():
    services.user_create(email="noor@example.com", password=STRONG)
    with pytest.raises(ApplicationError) as caught:
        services.user_create(email="NOOR@example.com", password=STRONG)
    assert caught.value.status_code == 409
    assert "email" in caught.value.errors
    assert User.objects.count() == 1


def test_user_create_inside_a_transaction_survives_a_duplicate():
    # The IntegrityError is contained in a savepoint, so the caller's transaction stays usable.
    services.user_create(email="noor@example.com", password=STRONG)
    with transaction.atomic():
        with pytest.raises(ApplicationError):
            services.user_create(email="noor@example.com", password=STRONG)
        assert User.objects.count() == 1


@pytest.mark.parametrize("password", ["short", "12345678901234", "noor@example.com"])
def test_user_create_refuses_weak_passwords(password):
    with pytest.raises(ApplicationError) as caught:
        services.user_create(email="noor@example.com", password=password)
    assert set(caught.value.errors) == {"password"}
    assert not User.objects.exists()


def test_user_create_refuses_an_unknown_timezone():
    with pytest.raises(ApplicationError) as caught:
        services.user_create(email="noor@example.com", password=STRONG, timezone="Moon/Base")
    assert set(caught.value.errors) == {"timezone"}
    assert not User.objects.exists()


def test_user_update_writes_only_what_changed(user):
    with CaptureQueriesContext(connection) as queries:
        services.user_update(user=user, locale="nl", timezone=user.timezone)
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1
    assert '"locale"' in updates[0]
    assert '"timezone"' not in updates[0]
    assert User.objects.get(pk=user.pk).locale == "nl"


def test_user_update_without_changes_writes_nothing(user, django_assert_num_queries):
    with django_assert_num_queries(0):
        services.user_update(user=user, locale=user.locale, display_name=user.display_name)


def test_user_update_bad_timezone_changes_nothing(user):
    with pytest.raises(ApplicationError):
        services.user_update(user=user, display_name="New", timezone="Europe/Atlantis")
    fresh = User.objects.get(pk=user.pk)
    assert (fresh.display_name, fresh.timezone) == (user.display_name, "Europe/Amsterdam")
    assert user.display_name != "New"  # the in-memory object was not touched either


# --- passwords -----------------------------------------------------------------------------


def test_password_change_errors_name_the_input_fields(user):
    with pytest.raises(ApplicationError) as wrong_old:
        services.password_change(user=user, old_password="nope", new_password=STRONG)
    assert set(wrong_old.value.errors) == {"old_password"}
    with pytest.raises(ApplicationError) as weak:
        services.password_change(
            user=user, old_password="correct horse battery", new_password="abc"
        )
    assert set(weak.value.errors) == {"new_password"}
    assert User.objects.get(pk=user.pk).check_password("correct horse battery")


def test_password_reset_mail_is_not_sent_when_the_transaction_rolls_back(
    user, django_capture_on_commit_callbacks, tasks_inline
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                services.password_reset_request(email=user.email)
                raise RuntimeError("the surrounding work failed")
        except RuntimeError:
            pass
    assert callbacks == []
    assert mail.outbox == []


def test_password_reset_request_does_the_same_for_known_and_unknown_addresses(
    user, django_capture_on_commit_callbacks, monkeypatch
):
    # The request only queues the task, the same way for every address: the look-up runs in
    # the worker, so not even the response time tells whether an account exists.
    queued: list[tuple[str, tuple]] = []
    monkeypatch.setattr(
        "apps.core.tasks.app.send_task", lambda name, args=(), **kw: queued.append((name, args))
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.password_reset_request(email="nobody@example.com")
        services.password_reset_request(email=user.email)
    assert queued == [
        ("apps.accounts.tasks.password_reset_mail", ("nobody@example.com",)),
        ("apps.accounts.tasks.password_reset_mail", (user.email,)),
    ]
    assert mail.outbox == []


def test_password_reset_send_mails_only_an_active_account(user):
    assert services.password_reset_send(email="nobody@example.com") is False
    assert mail.outbox == []
    assert services.password_reset_send(email=user.email.upper()) is True
    assert [m.to for m in mail.outbox] == [[user.email]]


def test_password_reset_link_expires(
    user, django_capture_on_commit_callbacks, settings, tasks_inline
):
    settings.PASSWORD_RESET_TIMEOUT = 60 * 60
    start = timezone.now()
    with time_machine.travel(start, tick=False), django_capture_on_commit_callbacks(execute=True):
        services.password_reset_request(email=user.email)
    body = mail.outbox[0].body
    uid = body.split("uid=")[1].split("&")[0]
    token = body.split("token=")[1].split()[0]
    late = time_machine.travel(start + dt.timedelta(hours=1, seconds=1), tick=False)
    with late, pytest.raises(ApplicationError) as caught:
        services.password_reset_confirm(uid=uid, token=token, new_password=STRONG)
    assert set(caught.value.errors) == {"token"}
    with time_machine.travel(start + dt.timedelta(minutes=59), tick=False):
        assert services.password_reset_confirm(uid=uid, token=token, new_password=STRONG) == user


# --- API tokens ----------------------------------------------------------------------------


def test_api_token_lookup_by_secret(user):
    token, raw = services.api_token_create(user=user, name="ci")
    assert selectors.api_token_for_secret(raw) == token
    assert selectors.api_token_for_secret(raw + "x") is None
    services.api_token_revoke(token=token)
    assert selectors.api_token_for_secret(raw) is None


def test_api_tokens_are_unique(user):
    raws = {services.api_token_create(user=user, name=f"t{i}")[1] for i in range(20)}
    assert len(raws) == 20


def test_last_used_at_is_written_at_most_once_a_minute(user, django_assert_num_queries):
    token, _raw = services.api_token_create(user=user, name="ci")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        services.api_token_touch(token=token)
    assert ApiToken.objects.get(pk=token.pk).last_used_at == start

    soon = time_machine.travel(start + dt.timedelta(seconds=30), tick=False)
    with soon, django_assert_num_queries(0):
        services.api_token_touch(token=token)
    assert ApiToken.objects.get(pk=token.pk).last_used_at == start

    later = start + dt.timedelta(minutes=2)
    with time_machine.travel(later, tick=False):
        services.api_token_touch(token=token)
    assert ApiToken.objects.get(pk=token.pk).last_used_at == later


def test_revoking_twice_keeps_the_first_revocation_time(user):
    token, _raw = services.api_token_create(user=user, name="ci")
    first = timezone.now()
    with time_machine.travel(first, tick=False):
        services.api_token_revoke(token=token)
    with time_machine.travel(first + dt.timedelta(days=1), tick=False):
        services.api_token_revoke(token=ApiToken.objects.get(pk=token.pk))
    assert ApiToken.objects.get(pk=token.pk).revoked_at == first


# --- teams and invitations -----------------------------------------------------------------


def test_team_create_makes_the_creator_org_admin(user):
    team = services.team_create(name="North", creator=user)
    assert list(team.memberships.values_list("user", "role")) == [(user.pk, Role.ORG_ADMIN)]
    assert selectors.team_get_admin(user=user, team_id=str(team.pk)) == team
    assert selectors.user_is_org_admin(user=user)


def test_team_get_admin_refuses_other_roles(user):
    team = TeamFactory()
    MembershipFactory(team=team, user=user, role=Role.COACH)
    with pytest.raises(Team.DoesNotExist):
        selectors.team_get_admin(user=user, team_id=str(team.pk))


def test_team_list_shows_each_team_once(user):
    team = TeamFactory(name="North")
    MembershipFactory(team=team, user=user, role=Role.REP)
    MembershipFactory(team=team, user=user, role=Role.COACH)
    MembershipFactory(team=TeamFactory(name="Elsewhere"))
    assert list(selectors.team_list(user=user)) == [team]


def _invite(team: Team, admin: User, callbacks: Any, **kwargs: Any) -> tuple[Invitation, str]:
    with callbacks(execute=True):
        return services.invitation_create(
            team=team,
            email=kwargs.get("email", "New@Example.com"),
            role=kwargs.get("role", Role.REP),
            invited_by=admin,
        )


def test_invitation_mail_goes_out_only_after_commit(user, django_capture_on_commit_callbacks):
    team = services.team_create(name="North", creator=user)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        invitation, raw = services.invitation_create(
            team=team, email="New@Example.com", role=Role.COACH, invited_by=user
        )
    assert mail.outbox == []
    assert len(callbacks) == 1
    callbacks[0]()
    assert mail.outbox[0].to == ["new@example.com"]
    assert raw in mail.outbox[0].body
    assert invitation.token_hash != raw
    expected_expiry = invitation.created_at + dt.timedelta(hours=72)
    assert abs(invitation.expires_at - expected_expiry) < dt.timedelta(seconds=5)


def test_invitation_accept_by_a_new_person(user, django_capture_on_commit_callbacks):
    team = services.team_create(name="North", creator=user)
    invitation, raw = _invite(team, user, django_capture_on_commit_callbacks, role=Role.COACH)
    newcomer = services.invitation_accept(token=raw, password=STRONG, display_name="Noor")
    assert (newcomer.email, newcomer.display_name) == ("new@example.com", "Noor")
    assert selectors.user_roles(user=newcomer) == ["coach"]
    invitation.refresh_from_db()
    assert invitation.accepted_by == newcomer


def test_invitation_accept_is_single_use(user, django_capture_on_commit_callbacks):
    team = services.team_create(name="North", creator=user)
    _invitation, raw = _invite(team, user, django_capture_on_commit_callbacks)
    services.invitation_accept(token=raw, password=STRONG)
    with pytest.raises(ApplicationError) as caught:
        services.invitation_accept(token=raw, password=STRONG)
    assert caught.value.code == "invitation-used"
    assert User.objects.filter(email="new@example.com").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_acceptance_creates_one_account(django_capture_on_commit_callbacks):
    admin = UserFactory()
    team = services.team_create(name="North", creator=admin)
    _invitation, raw = _invite(team, admin, django_capture_on_commit_callbacks)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def accept() -> None:
        try:
            barrier.wait(timeout=5)
            services.invitation_accept(token=raw, password=STRONG)
            outcomes.append("accepted")
        except ApplicationError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=accept) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(outcomes) == ["accepted", "invitation-used"]
    assert User.objects.filter(email="new@example.com").count() == 1
    assert Membership.objects.filter(team=team, role=Role.REP).count() == 1
