"""Every write about people, teams and credentials."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from apps.accounts.models import ApiToken, Invitation, Membership, Role, Team, User
from apps.core.crypto import hash_secret
from apps.core.errors import ApplicationError
from apps.core.tasks import enqueue_on_commit
from apps.core.time import is_valid_timezone

TOKEN_PREFIX = "et_"  # noqa: S105 - a public marker, not a secret
# last_used_at is written at most this often, so token requests do not all become writes.
TOKEN_TOUCH_INTERVAL = dt.timedelta(minutes=1)


def _validate_password(password: str, user: User | None = None, *, field: str = "password") -> None:
    # ``field`` is the input field the password came in, so the error names what to fix.
    try:
        password_validation.validate_password(password, user)
    except DjangoValidationError as exc:
        raise ApplicationError(
            "The password is not strong enough.",
            errors={field: list(exc.messages)},
        ) from exc


def user_update(*, user: User, **fields: Any) -> User:
    if "timezone" in fields and not is_valid_timezone(fields["timezone"]):
        raise ApplicationError(
            "Unknown time zone.",
            errors={"timezone": ["Use an IANA time zone name such as Europe/Amsterdam."]},
        )
    changed = []
    for name, value in fields.items():
        if getattr(user, name) != value:
            setattr(user, name, value)
            changed.append(name)
    if changed:
        user.save(update_fields=changed)
    return user


def user_create(*, email: str, password: str, display_name: str = "", **fields: Any) -> User:
    email = email.strip().lower()
    candidate = User(email=email, display_name=display_name)
    _validate_password(password, candidate)
    if "timezone" in fields and not is_valid_timezone(fields["timezone"]):
        raise ApplicationError("Unknown time zone.", errors={"timezone": ["Unknown time zone."]})
    try:
        with transaction.atomic():
            return User.objects.create_user(
                email=email, password=password, display_name=display_name, **fields
            )
    except IntegrityError as exc:
        raise ApplicationError(
            "An account with this e-mail address already exists.",
            status_code=409,
            code="conflict",
            errors={"email": ["Already registered; sign in instead."]},
        ) from exc


def password_change(*, user: User, old_password: str, new_password: str) -> None:
    if not user.check_password(old_password):
        raise ApplicationError(
            "The current password is wrong.", errors={"old_password": ["Wrong password."]}
        )
    _validate_password(new_password, user, field="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password"])


def password_reset_request(*, email: str) -> None:
    """Always the same from the caller's point of view, in answer and in time: the look-up and
    the mail happen in a Celery task for every address, known or not (no account enumeration,
    not even by response time). Sent after commit; a broker that is down is logged."""
    enqueue_on_commit("apps.accounts.tasks.password_reset_mail", email.strip(), ignore_result=True)


def password_reset_send(*, email: str) -> bool:
    """The reset mail, if an active account has this address (Celery)."""
    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is None:
        return False
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    link = f"{settings.FRONTEND_BASE_URL}/app/#/reset?uid={uid}&token={token}"
    send_mail(
        "energytrack password reset",
        f"Use this link to choose a new password (valid for a few days):\n{link}\n",
        None,
        [user.email],
    )
    return True


def password_reset_confirm(*, uid: str, token: str, new_password: str) -> User:
    invalid = ApplicationError(
        "This reset link is invalid or has expired.", errors={"token": ["Invalid or expired."]}
    )
    try:
        user = User.objects.get(pk=force_str(urlsafe_base64_decode(uid)), is_active=True)
    except (User.DoesNotExist, ValueError, TypeError, OverflowError, DjangoValidationError):
        raise invalid from None
    if not default_token_generator.check_token(user, token):
        raise invalid
    _validate_password(new_password, user, field="new_password")
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        # A reset is account recovery: whoever held the account may have made API tokens,
        # which a password does not guard. Sessions end with the password hash already.
        ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
    return user


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=raw[:10], token_hash=hash_secret(raw)
    )
    return token, raw


def api_token_revoke(*, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


def api_token_touch(*, token: ApiToken) -> None:
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > TOKEN_TOUCH_INTERVAL:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


def team_create(*, name: str, creator: User) -> Team:
    with transaction.atomic():
        team = Team.objects.create(name=name)
        Membership.objects.create(team=team, user=creator, role=Role.ORG_ADMIN)
    return team


def invitation_create(
    *, team: Team, email: str, role: str, invited_by: User
) -> tuple[Invitation, str]:
    raw = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        team=team,
        email=email.strip().lower(),
        role=role,
        invited_by=invited_by,
        token_hash=hash_secret(raw),
        expires_at=timezone.now() + dt.timedelta(hours=settings.INVITATION_TTL_HOURS),
    )
    link = f"{settings.FRONTEND_BASE_URL}/app/#/invite?token={raw}"
    # robust: the invitation is already committed; a failed mail is logged, not a 500.
    transaction.on_commit(
        lambda: send_mail(
            f"You are invited to {team.name} on energytrack",
            f"Accept the invitation here (valid {settings.INVITATION_TTL_HOURS} hours):\n{link}\n",
            None,
            [invitation.email],
        ),
        robust=True,
    )
    return invitation, raw


def invitation_accept(
    *, token: str, password: str | None = None, display_name: str = "", user: User | None = None
) -> User:
    """Single use: the row is locked, checked and marked accepted in one transaction."""
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update()
            .select_related("team")
            .filter(token_hash=hash_secret(token))
            .first()
        )
        if invitation is None:
            raise ApplicationError(
                "This invitation link is not valid.", errors={"token": ["Unknown invitation."]}
            )
        if invitation.accepted_at is not None:
            raise ApplicationError(
                "This invitation has already been used.",
                code="invitation-used",
                errors={"token": ["Already used; sign in instead."]},
            )
        if invitation.expires_at <= timezone.now():
            raise ApplicationError(
                "This invitation has expired; ask for a new one.",
                code="invitation-expired",
                errors={"token": ["Expired."]},
            )
        if user is None or not user.is_authenticated:
            if not password:
                raise ApplicationError(
                    "Choose a password to create your account.",
                    errors={"password": ["This field is required."]},
                )
            user = user_create(email=invitation.email, password=password, display_name=display_name)
        elif user.email.lower() != invitation.email:
            raise ApplicationError(
                "This invitation is for another e-mail address.",
                status_code=403,
                code="forbidden",
            )
        _membership, joined = Membership.objects.get_or_create(
            team=invitation.team, user=user, role=invitation.role
        )
        if joined:
            # The rep's qualification rule is the strictest of their teams': it may change.
            from apps.performance.services import meetings_requalify_later

            meetings_requalify_later(user_ids=[user.pk])
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
    return user
