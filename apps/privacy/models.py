"""Consent ledger (append-only history + current state per category) and the access log."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.core.models import BaseModel


class Category(models.TextChoices):
    SLEEP = "sleep", "Sleep"
    FOOD = "food", "Food"
    EXERCISE = "exercise", "Exercise"
    ALCOHOL = "alcohol", "Alcohol"
    ENERGY = "energy", "Energy"
    ACTIVITIES = "activities", "Social and leisure activities"


# Bump when the wording a rep agrees to changes; a grant records the version it was given for.
CONSENT_TEXT_VERSION = 1


class ConsentEvent(BaseModel):
    """One grant or withdrawal, never edited: the history a rep (or a regulator) can inspect."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consent_events"
    )
    category = models.CharField(max_length=16, choices=Category.choices)
    granted = models.BooleanField()
    text_version = models.PositiveSmallIntegerField()

    class Meta:
        indexes = [models.Index(fields=["user", "category", "-created_at"])]


class ConsentState(BaseModel):
    """The current answer per category, so a write checks consent with one indexed lookup."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consent_states"
    )
    category = models.CharField(max_length=16, choices=Category.choices)
    granted = models.BooleanField(default=False)
    text_version = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "category"], name="uniq_consent_state")
        ]


class DataExport(BaseModel):
    """A requested export: built by a Celery job, downloadable through a signed link."""

    class Status(models.TextChoices):
        PENDING = "pending"
        READY = "ready"
        FAILED = "failed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="data_exports"
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    file_name = models.CharField(max_length=200, blank=True, default="")
    size_bytes = models.PositiveBigIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)


class PrivacyPreference(BaseModel):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="privacy_preference"
    )
    # Whether day-level aggregates may outlive the raw entries they came from (retention).
    keep_aggregates = models.BooleanField(default=False)
