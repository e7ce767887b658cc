"""Coaching shares: a rep's grant to one coach, the weekly summaries drafted under it, and the
log of every coach read. A coach only ever reads approved summaries of a live grant."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models

from apps.coaching import constants
from apps.core.crypto import EncryptedTextField
from apps.core.models import BaseModel


class ShareGrant(BaseModel):
    """One rep shares the chosen scopes with one coach until ``expires_at`` or revocation."""

    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coaching_grants_given"
    )
    # Empty until the invited coach accepts with the single-use link sent to ``coach_email``.
    coach = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="coaching_grants_received",
    )
    coach_email = models.EmailField()
    scopes = models.JSONField(default=list)
    # Ids of the rep's own insights, checked when the grant is made (chosen_insights scope).
    insight_ids = models.JSONField(default=list, blank=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Only a SHA-256 of the invitation token is stored; the token is in the e-mail link only.
    invitation_token_hash = models.CharField(max_length=64, unique=True)
    invitation_expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    # Plain-language warnings shown when the grant was made (line manager, org admin).
    warnings = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(coach=models.F("rep")), name="coaching_grant_not_self"
            )
        ]
        indexes = [
            models.Index(fields=["rep", "-created_at"], name="coaching_grant_rep"),
            models.Index(fields=["coach", "revoked_at"], name="coaching_grant_coach"),
        ]

    def __str__(self) -> str:
        return f"share {self.pk}"

    def status_at(self, now: dt.datetime) -> str:
        if self.revoked_at is not None:
            return constants.REVOKED
        if self.expires_at <= now:
            return constants.EXPIRED
        if self.accepted_at is None:
            if self.invitation_expires_at <= now:
                return constants.INVITATION_EXPIRED
            return constants.PENDING
        return constants.ACTIVE


class Summary(BaseModel):
    """One ISO week of scoped aggregates under a grant; the coach sees it once approved."""

    class Status(models.TextChoices):
        DRAFT = constants.DRAFT, "Draft"
        APPROVED = constants.APPROVED, "Approved"
        EXPIRED = constants.DRAFT_EXPIRED, "Expired draft"

    grant = models.ForeignKey(ShareGrant, on_delete=models.CASCADE, related_name="summaries")
    week_start = models.DateField(help_text="Monday of the ISO week, in the rep's local days.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    # {scope: section} for the section scopes of the grant; a removed part is gone for good.
    sections = models.JSONField(default=dict, blank=True)
    note = EncryptedTextField(blank=True, default="")
    draft_expires_at = models.DateTimeField()
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["grant", "week_start"], name="uniq_summary_week")
        ]
        indexes = [models.Index(fields=["status", "draft_expires_at"], name="coaching_summary_exp")]

    def __str__(self) -> str:
        return f"summary {self.pk} ({self.week_start})"


class AccessLogEntry(BaseModel):
    """A coach read one summary (in a list or opened it); the rep sees every row."""

    class Action(models.TextChoices):
        LIST = constants.READ_LIST, "Listed"
        DETAIL = constants.READ_DETAIL, "Opened"

    grant = models.ForeignKey(ShareGrant, on_delete=models.CASCADE, related_name="access_log")
    summary = models.ForeignKey(Summary, on_delete=models.CASCADE, related_name="access_log")
    coach = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=8, choices=Action.choices)

    class Meta:
        indexes = [models.Index(fields=["grant", "-created_at"], name="coaching_log_grant")]

    def __str__(self) -> str:
        return f"coach read {self.summary_id} ({self.action})"
