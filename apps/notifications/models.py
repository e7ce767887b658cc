"""Private delivery: the inbox row, its per-channel deliveries, push subscriptions and the
rep's delivery preferences.

Every notification is an inbox row first; channels (Web Push, e-mail) are deliveries of that
row with their own state, so nothing is lost when a channel fails. Rows carry message keys and
parameters, never rendered health data: the words are made in the rep's language when read or
sent.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models

from apps.core.crypto import EncryptedTextField
from apps.core.models import BaseModel

DEFAULT_QUIET_START = dt.time(21, 0)
DEFAULT_QUIET_END = dt.time(7, 30)
DEFAULT_REMINDER_TIME = dt.time(17, 0)


class Notification(BaseModel):
    class Kind(models.TextChoices):
        INSIGHT = "insight"
        REMINDER = "reminder"
        DIGEST = "digest"
        SYSTEM = "system"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    title_key = models.CharField(max_length=64)
    # Plain ids and counts only (e.g. insight ids); the words are rendered when read or sent.
    params = models.JSONField(default=dict, blank=True)
    # Optional free text (system notices); encrypted at rest like journal notes.
    body = EncryptedTextField(blank=True, default="")
    link = models.CharField(max_length=200, blank=True, default="")
    # Urgent notifications are not held by quiet hours.
    urgent = models.BooleanField(default=False)
    # The same event never makes a second row (retried task, re-run dispatcher).
    fingerprint = models.CharField(max_length=64)
    read_at = models.DateTimeField(null=True, blank=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "fingerprint"], name="uniq_notification_fp")
        ]
        indexes = [models.Index(fields=["user", "-created_at", "-id"], name="notification_inbox")]

    def __str__(self) -> str:
        # Never the text: a str() may end up in a log line.
        return f"notification {self.pk} ({self.kind})"


class Delivery(models.Model):
    """One channel of one notification. Sent at most once: the fingerprint is unique, and a
    worker claims the row (PENDING -> SENDING under a row lock) before it talks to anyone."""

    class Channel(models.TextChoices):
        PUSH = "push"
        EMAIL = "email"

    class State(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        SKIPPED = "skipped"
        FAILED = "failed"

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    fingerprint = models.CharField(max_length=64, unique=True)
    # Not before this instant: the scheduled local time, or the end of quiet hours.
    due_at = models.DateTimeField()
    # Held by quiet hours: when it was due before that. Changed quiet hours move it again.
    held_from = models.DateTimeField(null=True, blank=True)
    # After a transient failure: the sweeper leaves the row alone until then (backoff).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When a task for this row was last queued; the sweeper re-queues only after it expired.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    # A short machine code ("sent", "gone", "http-503", "checked-in" ...), never message text.
    outcome = models.CharField(max_length=32, blank=True, default="")
    # Push: subscriptions that already accepted this message (a retry skips them).
    done_subscriptions = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "channel"], name="uniq_delivery_channel"
            )
        ]
        indexes = [
            models.Index(
                fields=["due_at"],
                condition=models.Q(state="pending"),
                name="delivery_pending_due",
            ),
            models.Index(
                fields=["claimed_at"],
                condition=models.Q(state="sending"),
                name="delivery_sending_claim",
            ),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.channel}, {self.state})"


class PushSubscription(BaseModel):
    """A browser's Web Push subscription: the push service URL and the browser's keys."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.TextField()
    # The endpoint identifies one browser; it belongs to whoever subscribed it last.
    endpoint_hash = models.CharField(max_length=64, unique=True)
    p256dh = models.CharField(max_length=100)
    auth = models.CharField(max_length=32)
    user_agent = models.CharField(max_length=200, blank=True, default="")
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"], name="push_sub_user")]

    def __str__(self) -> str:
        return f"push subscription {self.pk}"


class NotificationPreferences(models.Model):
    """Per rep; a rep without a row has the defaults (nothing opt-in is on)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="notification_preferences",
    )
    push_enabled = models.BooleanField(default=True)
    # Off: the lock screen says only "A new insight is ready".
    push_detailed = models.BooleanField(default=False)
    email_digest = models.BooleanField(default=False)
    reminder_enabled = models.BooleanField(default=False)
    reminder_time = models.TimeField(default=DEFAULT_REMINDER_TIME)
    quiet_hours_enabled = models.BooleanField(default=True)
    quiet_hours_start = models.TimeField(default=DEFAULT_QUIET_START)
    quiet_hours_end = models.TimeField(default=DEFAULT_QUIET_END)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "notification preferences"
        indexes = [
            models.Index(
                fields=["reminder_time"],
                condition=models.Q(reminder_enabled=True),
                name="prefs_reminder_on",
            ),
        ]

    def __str__(self) -> str:
        return f"notification preferences of {self.user_id}"


class DispatchState(models.Model):
    """How far an hourly dispatcher got: the start of the last UTC hour window it fully
    dispatched, so a run after an outage catches up the hours it missed. One row per
    dispatcher, locked for the whole run; no user, no per-rep data."""

    name = models.CharField(max_length=64, primary_key=True)
    last_window_start = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"dispatch state {self.name}"
