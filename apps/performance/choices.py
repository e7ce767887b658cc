"""Enumerations of the performance app, shared by models, services and serializers (which
must not import models)."""

from __future__ import annotations

from django.db import models


class Source(models.TextChoices):
    MANUAL = "manual", "Typed by the rep"
    CSV = "csv", "CSV import"
    WEBHOOK = "webhook", "CRM webhook"


# When several sources give a day's call figures, the first one here wins (no double counting):
# CRM-recorded calls are the system of record, the rep's typed totals are the fallback.
CALL_SOURCE_PRECEDENCE: tuple[str, ...] = (Source.WEBHOOK, Source.CSV, Source.MANUAL)


class MeetingStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled (no result yet)"
    HELD = "held", "Held"
    NO_SHOW = "no_show", "No-show"
    CANCELLED = "cancelled", "Cancelled"
    RESCHEDULED = "rescheduled", "Rescheduled"


class ImportFormat(models.TextChoices):
    HUBSPOT_CALLS = "hubspot_calls", "HubSpot calls export"
    HUBSPOT_MEETINGS = "hubspot_meetings", "HubSpot meetings export"
    SALESFORCE_TASKS = "salesforce_tasks", "Salesforce Task report (calls)"
    SALESFORCE_EVENTS = "salesforce_events", "Salesforce Event report (meetings)"
    ENERGYTRACK = "energytrack", "energytrack CSV"


class ImportMode(models.TextChoices):
    ALL_OR_NOTHING = "all_or_nothing", "Import only if every row is valid"
    VALID_ROWS_ONLY = "valid_rows_only", "Import the valid rows, report the others"


class ImportStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class WebhookEventStatus(models.TextChoices):
    PENDING = "pending"
    PROCESSED = "processed"
    FAILED = "failed"


# A meeting is qualified when it was held and its BANT score reaches the rep's team rule.
DEFAULT_QUALIFIED_MIN_BANT = 3
