"""Lifestyle self-reports. Health-related data (GDPR art. 9): owner-only, never in admin.

Every entry has a client-generated UUID (offline retries are safe), the instant it happened,
the IANA zone the rep was in then, and the local day derived from both (DESIGN.md §4).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models

from apps.core.crypto import EncryptedTextField
from apps.privacy.models import Category


class JournalEntry(models.Model):
    id = models.UUIDField(primary_key=True)
    # No index of its own: both composite indexes below start with the user, and every write
    # would maintain a third copy of it.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    occurred_at = models.DateTimeField()
    tz = models.CharField(max_length=64)
    local_date = models.DateField()
    note = EncryptedTextField(blank=True, default="")
    # Last-write-wins by the phone's clock: an older edit arriving late never overwrites.
    client_updated_at = models.DateTimeField()
    # Hash of the last applied request and its result: a retried request replays the answer.
    request_hash = models.CharField(max_length=64, default="")
    last_result = models.CharField(max_length=10, default="created")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    CATEGORY: str = ""
    KIND: str = ""

    objects: ClassVar[models.Manager[Any]] = models.Manager()

    class Meta:
        abstract = True
        indexes = [
            models.Index(fields=["user", "local_date"], name="%(class)s_user_day"),
            models.Index(fields=["user", "-occurred_at", "-id"], name="%(class)s_user_time"),
        ]

    def __str__(self) -> str:
        # Never the values: a str() may end up in a log line.
        return f"{self.KIND} entry {self.pk} on {self.local_date}"


class SleepEntry(JournalEntry):
    """A night's sleep; ``occurred_at`` is the wake time and the entry belongs to that day."""

    CATEGORY = Category.SLEEP
    KIND = "sleep"
    bedtime = models.DateTimeField(null=True, blank=True)
    duration_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    quality = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta(JournalEntry.Meta):
        constraints = [
            models.CheckConstraint(
                condition=models.Q(duration_minutes__lte=16 * 60), name="sleep_max_16h"
            ),
            models.CheckConstraint(
                condition=models.Q(quality__gte=1, quality__lte=5) | models.Q(quality__isnull=True),
                name="sleep_quality_1_5",
            ),
        ]


class MealEntry(JournalEntry):
    class MealType(models.TextChoices):
        BREAKFAST = "breakfast"
        LUNCH = "lunch"
        DINNER = "dinner"
        SNACK = "snack"

    class Heaviness(models.TextChoices):
        LIGHT = "light"
        NORMAL = "normal"
        HEAVY = "heavy"

    CATEGORY = Category.FOOD
    KIND = "meal"
    meal_type = models.CharField(max_length=10, choices=MealType.choices, blank=True, default="")
    heaviness = models.CharField(max_length=6, choices=Heaviness.choices, blank=True, default="")
    tags = models.JSONField(default=list, blank=True)

    class Meta(JournalEntry.Meta):
        pass


class ExerciseEntry(JournalEntry):
    class Intensity(models.TextChoices):
        LIGHT = "light"
        MODERATE = "moderate"
        VIGOROUS = "vigorous"

    CATEGORY = Category.EXERCISE
    KIND = "exercise"
    exercise_type = models.CharField(max_length=40, blank=True, default="")
    duration_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    intensity = models.CharField(max_length=8, choices=Intensity.choices, blank=True, default="")

    class Meta(JournalEntry.Meta):
        pass


class AlcoholEntry(JournalEntry):
    class Context(models.TextChoices):
        DINNER = "dinner"
        SOCIAL = "social"
        GOING_OUT = "going_out"
        OTHER = "other"

    CATEGORY = Category.ALCOHOL
    KIND = "alcohol"
    standard_drinks = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    context = models.CharField(max_length=10, choices=Context.choices, blank=True, default="")

    class Meta(JournalEntry.Meta):
        constraints = [
            models.CheckConstraint(
                condition=models.Q(standard_drinks__gte=0) | models.Q(standard_drinks__isnull=True),
                name="alcohol_non_negative",
            )
        ]


class EnergyCheckin(JournalEntry):
    CATEGORY = Category.ENERGY
    KIND = "energy"
    level = models.PositiveSmallIntegerField(null=True, blank=True)
    focus = models.PositiveSmallIntegerField(null=True, blank=True)
    mood = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta(JournalEntry.Meta):
        constraints = [
            models.CheckConstraint(
                condition=models.Q(level__gte=1, level__lte=9) | models.Q(level__isnull=True),
                name="energy_level_1_9",
            )
        ]


class ActivityEntry(JournalEntry):
    class Effect(models.TextChoices):
        GAVE = "gave"
        NEUTRAL = "neutral"
        DRAINED = "drained"

    CATEGORY = Category.ACTIVITIES
    KIND = "activity"
    what = models.CharField(max_length=80, blank=True, default="")
    duration_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    effect = models.CharField(max_length=8, choices=Effect.choices, blank=True, default="")

    class Meta(JournalEntry.Meta):
        pass


class JournalState(models.Model):
    """One row per rep who ever wrote: the lock every journal write takes, and a version.

    Every write transaction starts by bumping ``version`` (which takes this row's lock until
    commit), so one rep's concurrent retries run one after the other; the version names the
    state of the whole journal, so a cached day view is valid exactly while it is unchanged.
    It also counts the rep's writes for the write limit. Holds nothing about the rep's life:
    erased with the account, not exported.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    version = models.BigIntegerField(default=0)
    # The rep's journal writes in the current fixed window (``core.throttles.WriteWindow``):
    # counted by the statement that bumps the version, so the limit costs no round trip.
    write_window = models.BigIntegerField(db_default=0)
    writes_in_window = models.IntegerField(db_default=0)

    def __str__(self) -> str:
        return f"journal state {self.user_id} v{self.version}"


class DeletedEntry(models.Model):
    """An entry the rep deleted: its kind, id and when, nothing of what it held.

    Last write wins for deletions too: an edit of the entry made before the deletion that
    arrives later (a second phone, a retry from an offline queue) would otherwise bring it back.
    Such an edit is answered "stale"; an edit made after the deletion creates the entry again.
    Erased with the account, exported, purged with the entries by retention.
    """

    # The unique constraint's index starts with the user: it serves the erasure's cascade.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=16)
    entry_id = models.UUIDField()
    deleted_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "entry_id"], name="uniq_deleted_entry")
        ]

    def __str__(self) -> str:
        return f"deleted {self.kind} {self.entry_id}"


class DeletedKind(models.Model):
    """Every entry of one kind the rep had, deleted at once: a consent withdrawal with deletion.

    The withdrawal deletes the kind's ``DeletedEntry`` rows with its entries (nothing of the
    category stays), so after a new grant an edit made before the withdrawal, arriving later
    from a phone's queue, would have nothing to lose against and would store its entry again.
    This one row per kind says when: an entry of the kind made (``client_updated_at``) at or
    before ``deleted_at`` is answered "stale" and not stored. Erased with the account, exported,
    purged by retention like ``DeletedEntry``.
    """

    # The unique constraint's index starts with the user: it serves the erasure's cascade.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=16)
    deleted_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="uniq_deleted_kind")]

    def __str__(self) -> str:
        return f"deleted every {self.kind}"


ENTRY_MODELS: dict[str, type[JournalEntry]] = {
    model.KIND: model
    for model in (SleepEntry, MealEntry, ExerciseEntry, AlcoholEntry, EnergyCheckin, ActivityEntry)
}
