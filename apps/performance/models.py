"""Sales results of a rep: day call figures, individual CRM calls, meetings with BANT quality,
CSV import jobs and CRM webhook connections.

These are *sales* figures (the employer has them in its CRM anyway, DESIGN.md §2.2); nothing
here is lifestyle data and nothing here reads the journal.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.db import models

from apps.core.crypto import EncryptedTextField
from apps.performance.choices import (
    ImportFormat,
    ImportMode,
    ImportStatus,
    MeetingStatus,
    Source,
    WebhookEventStatus,
)

EXTERNAL_ID_MAX = 128


def _brought_by_team() -> models.ForeignKey[Any, Any]:
    """The team whose CSV import or CRM connection brought a call or meeting; null for the
    rep's own (typed, or the rep's own import). Set once, at insert: another team importing
    the same activity updates its values, never its team. SET_NULL: the figures are the rep's
    and outlive a deleted team (they then count as the rep's own)."""
    return models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        # Indexed in each model's Meta, partially (most rows have none), built concurrently.
        db_index=False,
    )


class DailyCallStats(models.Model):
    """A rep's call figures for one local day from one source.

    Manual rows are typed by the rep (client UUID, idempotent PUT). CSV and webhook rows are
    derived: recomputed from :class:`Call` rows whenever an import touches that day. One row per
    (user, day, source); the daily metrics take one source per day (``CALL_SOURCE_PRECEDENCE``).
    """

    id = models.UUIDField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    local_date = models.DateField()
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.MANUAL)
    calls_made = models.PositiveIntegerField(default=0)
    connected = models.PositiveIntegerField(default=0)
    # Connected calls longer than two minutes.
    conversations = models.PositiveIntegerField(default=0)
    talk_minutes = models.PositiveIntegerField(default=0)
    client_updated_at = models.DateTimeField()
    request_hash = models.CharField(max_length=64, default="")
    last_result = models.CharField(max_length=10, default="created")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[models.Manager[Any]] = models.Manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "local_date", "source"], name="callstats_one_per_day_source"
            ),
            models.CheckConstraint(
                condition=models.Q(connected__lte=models.F("calls_made")),
                name="callstats_connected_lte_made",
            ),
            models.CheckConstraint(
                condition=models.Q(conversations__lte=models.F("connected")),
                name="callstats_conversations_lte_connected",
            ),
        ]
        indexes = [models.Index(fields=["user", "-local_date", "-id"], name="callstats_user_day")]

    def __str__(self) -> str:
        return f"call stats {self.pk} on {self.local_date} ({self.source})"


class Call(models.Model):
    """One call from a CRM (CSV or webhook); the source of derived :class:`DailyCallStats`."""

    # uuid5 of (user, source, external_id): a re-import addresses the same row.
    id = models.UUIDField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=8, choices=Source.choices)
    external_id = models.CharField(max_length=EXTERNAL_ID_MAX)
    occurred_at = models.DateTimeField()
    tz = models.CharField(max_length=64)
    local_date = models.DateField()
    duration_seconds = models.PositiveIntegerField(default=0)
    connected = models.BooleanField(default=False)
    # The CRM's outcome, normalised to a short label ("connected", "no answer", ...).
    disposition = models.CharField(max_length=64, blank=True, default="")
    team = _brought_by_team()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[models.Manager[Any]] = models.Manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "source", "external_id"], name="call_unique_external_id"
            )
        ]
        indexes = [
            models.Index(fields=["user", "local_date", "source"], name="call_user_day"),
            # A deleted team's rows are found by it (SET_NULL).
            models.Index(fields=["team"], name="call_team", condition=models.Q(team__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"call {self.pk} on {self.local_date} ({self.source})"


class Meeting(models.Model):
    """A sales meeting and its quality: the four BANT flags, decision-maker presence, value."""

    id = models.UUIDField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    occurred_at = models.DateTimeField()
    tz = models.CharField(max_length=64)
    local_date = models.DateField()
    status = models.CharField(max_length=12, choices=MeetingStatus.choices)
    decision_maker_present = models.BooleanField(default=False)
    budget = models.BooleanField(default=False)
    authority = models.BooleanField(default=False)
    need = models.BooleanField(default=False)
    timeline = models.BooleanField(default=False)
    # Derived by services: number of BANT flags set, and the team rule (held and score >= min).
    bant_score = models.PositiveSmallIntegerField(default=0)
    qualified = models.BooleanField(default=False)
    deal_value_cents = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3, blank=True, default="")
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.MANUAL)
    external_id = models.CharField(max_length=EXTERNAL_ID_MAX, blank=True, default="")
    team = _brought_by_team()
    client_updated_at = models.DateTimeField()
    request_hash = models.CharField(max_length=64, default="")
    last_result = models.CharField(max_length=10, default="created")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[models.Manager[Any]] = models.Manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "source", "external_id"],
                condition=~models.Q(external_id=""),
                name="meeting_unique_external_id",
            ),
            models.CheckConstraint(
                condition=models.Q(bant_score__lte=4), name="meeting_bant_score_0_4"
            ),
            models.CheckConstraint(
                condition=models.Q(deal_value_cents__gte=0), name="meeting_deal_value_non_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(source=Source.MANUAL) | ~models.Q(external_id=""),
                name="meeting_imported_has_external_id",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "local_date"], name="meeting_user_day"),
            models.Index(fields=["user", "-occurred_at", "-id"], name="meeting_user_time"),
            models.Index(
                fields=["team"], name="meeting_team", condition=models.Q(team__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"meeting {self.pk} on {self.local_date} ({self.status})"


class ImportJob(models.Model):
    """One uploaded CSV file and what became of it (progress, counts, a capped row report)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    # Set when an org admin imports for the reps of a team; null for a rep's own import.
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    format = models.CharField(max_length=20, choices=ImportFormat.choices)
    mode = models.CharField(max_length=16, choices=ImportMode.choices)
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=ImportStatus.choices)
    phase = models.CharField(max_length=12, blank=True, default="")
    options = models.JSONField(default=dict, blank=True)
    file_name = models.CharField(max_length=255, blank=True, default="")
    # Relative to MEDIA_ROOT; emptied once the job has finished and the file is deleted.
    file_path = models.CharField(max_length=255, blank=True, default="")
    file_size = models.BigIntegerField(default=0)
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    report = models.JSONField(default=list, blank=True)
    report_truncated = models.BooleanField(default=False)
    unknown_reps = models.JSONField(default=list, blank=True)
    detail = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[models.Manager[Any]] = models.Manager()

    class Meta:
        indexes = [
            models.Index(fields=["created_by", "-created_at"], name="importjob_owner_time"),
            models.Index(fields=["status", "updated_at"], name="importjob_status"),
        ]

    def __str__(self) -> str:
        return f"import {self.pk} ({self.format}, {self.status})"


class CrmConnection(models.Model):
    """A CRM pushing activities of one team's reps; authenticated only by an HMAC secret."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=80)
    # Needed in clear for HMAC, so encrypted (not hashed) at rest.
    secret = EncryptedTextField()
    # After a rotation the old secret may stay valid for a short grace period.
    previous_secret = EncryptedTextField(blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    # Bumped by every rotation: a webhook request verified with cached secrets records its
    # event only if this still matches (see services.webhook_receive).
    secret_version = models.PositiveIntegerField(default=1)
    last_event_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[models.Manager[Any]] = models.Manager()

    def __str__(self) -> str:
        return f"CRM connection {self.name}"


class WebhookEvent(models.Model):
    """One accepted webhook delivery. The unique event id is the replay protection."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Indexed by the unique constraint (connection, event_id): no index of its own.
    connection = models.ForeignKey(
        CrmConnection, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    event_id = models.CharField(max_length=200)
    status = models.CharField(
        max_length=10, choices=WebhookEventStatus.choices, default=WebhookEventStatus.PENDING
    )
    # The activities as received; emptied once processed (only the outcome is kept).
    payload = models.JSONField(default=list, blank=True)
    result = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[models.Manager[Any]] = models.Manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "event_id"], name="webhook_event_once")
        ]
        indexes = [
            models.Index(fields=["status", "received_at"], name="webhook_event_status"),
            # What a drain reads: a connection's pending events, oldest first. Only pending rows
            # are in it, so it stays small however long processed deliveries are kept.
            models.Index(
                fields=["connection", "received_at", "id"],
                name="webhook_event_pending",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"webhook event {self.event_id} ({self.status})"
