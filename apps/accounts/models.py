"""People, teams and credentials. Nothing here is lifestyle data."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone as django_timezone

from apps.core.models import BaseModel


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    class Locale(models.TextChoices):
        EN = "en", "English"
        NL = "nl", "Nederlands"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    display_name = models.CharField(max_length=120, blank=True)
    timezone = models.CharField(max_length=64, default="Europe/Amsterdam")
    locale = models.CharField(max_length=2, choices=Locale.choices, default=Locale.EN)
    # Instants before this local hour count for the previous day (a 01:30 drink is "last night").
    day_boundary_hour = models.PositiveSmallIntegerField(
        default=4, validators=[MaxValueValidator(12)]
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=django_timezone.now)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(day_boundary_hour__lte=12), name="user_day_boundary_lte_12"
            )
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Sign-in looks the address up lowercased: an address stored as typed elsewhere (the
        # admin's forms) could never sign in, and its case variant would be a second account.
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)


class Team(BaseModel):
    name = models.CharField(max_length=120)
    # Qualification rule for meetings (issue: configurable per team): held and BANT >= this.
    qualified_min_bant = models.PositiveSmallIntegerField(
        default=3, validators=[MaxValueValidator(4)]
    )

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    REP = "rep", "Sales rep"
    COACH = "coach", "Coach"
    ORG_ADMIN = "org_admin", "Organisation admin"


class Membership(BaseModel):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.REP)
    # The line manager of a rep, when known: sharing with them triggers a plain warning.
    manager = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="managed_memberships"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user", "role"], name="uniq_membership_role")
        ]


class Invitation(BaseModel):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.REP)
    invited_by = models.ForeignKey(
        User, null=True, on_delete=models.SET_NULL, related_name="sent_invitations"
    )
    # Only a SHA-256 of the token is stored; the token itself is in the e-mail link only.
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )


class ApiToken(BaseModel):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
