"""Every coaching read, always from one user's side: the rep who shares or the coach who reads.

A coach's querysets admit only approved summaries of grants that are accepted by that coach,
not revoked and not expired; anything else is DoesNotExist (a 404), the same as an id that
does not exist at all.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.coaching import constants
from apps.coaching.models import AccessLogEntry, ShareGrant, Summary
from apps.coaching.sections import DayRow
from apps.core.time import zone
from apps.insights.models import DayFeature

# Weekly summaries are drafted once this local hour on Monday has passed (see below).
DRAFT_AFTER_LOCAL_HOUR = 6

# --- the rep's side ---------------------------------------------------------------------------


def grant_list(*, rep: Any) -> QuerySet[ShareGrant]:
    return ShareGrant.objects.filter(rep=rep).select_related("coach").order_by("-created_at", "-id")


def grant_get(*, rep: Any, grant_id: uuid.UUID) -> ShareGrant:
    return grant_list(rep=rep).get(pk=grant_id)


def summary_list(
    *, rep: Any, status: str | None = None, grant_id: uuid.UUID | None = None
) -> QuerySet[Summary]:
    queryset = Summary.objects.filter(grant__rep=rep).select_related("grant")
    if status:
        queryset = queryset.filter(status=status)
    if grant_id:
        queryset = queryset.filter(grant_id=grant_id)
    return queryset


def summary_get(*, rep: Any, summary_id: uuid.UUID) -> Summary:
    return summary_list(rep=rep).get(pk=summary_id)


def access_log_list(*, rep: Any, grant_id: uuid.UUID | None = None) -> QuerySet[AccessLogEntry]:
    queryset = AccessLogEntry.objects.filter(grant__rep=rep).select_related("coach", "summary")
    if grant_id:
        queryset = queryset.filter(grant_id=grant_id)
    return queryset


def active_grant_exists(*, rep: Any, coach_email: str, now: dt.datetime) -> bool:
    """A live share to this address (accepted, or with an invitation still open)."""
    live = ShareGrant.objects.filter(
        rep=rep, coach_email__iexact=coach_email, revoked_at__isnull=True, expires_at__gt=now
    )
    return (
        live.filter(accepted_at__isnull=False).exists()
        or live.filter(invitation_expires_at__gt=now).exists()
    )


# --- the coach's side -------------------------------------------------------------------------


def _live_to(coach: Any, now: dt.datetime | None, through: str = "") -> Q:
    """A share to this coach that is live: accepted, not revoked, not expired (``through``: the
    path from the model queried to its grant)."""
    return Q(
        **{
            f"{through}coach": coach,
            f"{through}accepted_at__isnull": False,
            f"{through}revoked_at__isnull": True,
            f"{through}expires_at__gt": now or timezone.now(),
        }
    )


def live_shares_to(*, coach: Any, now: dt.datetime | None = None) -> QuerySet[ShareGrant]:
    """The shares this user coaches through now."""
    return ShareGrant.objects.filter(_live_to(coach, now))


def coach_summary_list(*, coach: Any, now: dt.datetime | None = None) -> QuerySet[Summary]:
    """Approved summaries of live grants to this coach, nothing else (DESIGN.md §2.3)."""
    return Summary.objects.filter(
        _live_to(coach, now, through="grant__"), status=Summary.Status.APPROVED
    ).select_related("grant", "grant__rep")


def coach_summary_get(*, coach: Any, summary_id: uuid.UUID) -> Summary:
    return coach_summary_list(coach=coach).get(pk=summary_id)


# --- for the weekly job -----------------------------------------------------------------------


def last_complete_week(*, tz_name: str, day_boundary_hour: int, now: dt.datetime) -> dt.date:
    """Monday of the last ISO week that is over for the rep.

    A week counts as over from Monday 06:00 in the rep's zone, after the nightly feature run
    (05:00 local) has filled in Sunday.
    """
    local = now.astimezone(zone(tz_name))
    shift = dt.timedelta(hours=max(DRAFT_AFTER_LOCAL_HOUR, day_boundary_hour))
    today = (local - shift).date()
    return today - dt.timedelta(days=today.weekday() + 7)


def live_grants(*, now: dt.datetime) -> QuerySet[ShareGrant]:
    """Accepted by the coach, not revoked, not expired: the grants summaries are made for."""
    return ShareGrant.objects.filter(
        accepted_at__isnull=False, revoked_at__isnull=True, expires_at__gt=now
    )


def grant_ids_due_for_summary(*, now: dt.datetime) -> list[str]:
    """Live, accepted grants whose last complete week has no summary yet (two queries)."""
    live = live_grants(now=now)
    weeks = {
        pk: last_complete_week(tz_name=tz_name, day_boundary_hour=boundary, now=now)
        for pk, tz_name, boundary in live.values_list(
            "pk", "rep__timezone", "rep__day_boundary_hour"
        )
    }
    if not weeks:
        return []
    done = set(
        Summary.objects.filter(grant__in=live, week_start__gte=min(weeks.values())).values_list(
            "grant_id", "week_start"
        )
    )
    return sorted(str(pk) for pk, week in weeks.items() if (pk, week) not in done)


def day_rows_for_reps(
    *, rep_ids: list[Any], date_from: dt.date, date_to: dt.date
) -> dict[Any, list[DayRow]]:
    """The day-feature columns a summary may use, for many reps in one query.

    Only energy, sleep length/bedtime (for a regularity category) and meeting counts are read:
    never drinks, meals or any other lifestyle column.
    """
    rows: dict[Any, list[DayRow]] = defaultdict(list)
    for uid, day, energy, sleep, bedtime, held, qualified in (
        DayFeature.objects.filter(
            user_id__in=rep_ids, local_date__gte=date_from, local_date__lte=date_to
        )
        .order_by("local_date")
        .values_list(
            "user_id",
            "local_date",
            "energy_mean",
            "sleep_minutes",
            "bedtime_minutes",
            "meetings_held",
            "qualified_meetings",
        )
    ):
        rows[uid].append(DayRow(day, energy, sleep, bedtime, held, qualified))
    return rows


def week_label(week_start: dt.date) -> str:
    year, week, _ = week_start.isocalendar()
    return f"{year}-W{week:02d}"


def grant_to_dict(grant: ShareGrant, now: dt.datetime | None = None) -> dict[str, Any]:
    """The rep's view of a grant."""
    return {
        "id": str(grant.pk),
        "coach_email": grant.coach_email,
        "coach_name": grant.coach.display_name if grant.coach else None,
        "scopes": list(grant.scopes),
        "insight_ids": list(grant.insight_ids),
        "status": grant.status_at(now or timezone.now()),
        "expires_at": grant.expires_at,
        "invitation_expires_at": grant.invitation_expires_at,
        "accepted_at": grant.accepted_at,
        "revoked_at": grant.revoked_at,
        "warnings": list(grant.warnings),
        "created_at": grant.created_at,
    }


def _sections_out(summary: Summary, *, for_coach: bool) -> dict[str, Any]:
    sections = {
        name: value for name, value in summary.sections.items() if name in summary.grant.scopes
    }
    if for_coach and constants.CHOSEN_INSIGHTS in sections:
        # The coach needs the words, not the rep's object ids.
        sections[constants.CHOSEN_INSIGHTS] = [
            {"message": item["message"]} for item in sections[constants.CHOSEN_INSIGHTS]
        ]
    return sections


def _note_out(summary: Summary) -> str | None:
    if constants.PERSONAL_NOTE not in summary.grant.scopes:
        return None
    return summary.note


def summary_to_dict(summary: Summary, now: dt.datetime | None = None) -> dict[str, Any]:
    """The rep's preview: exactly what the coach would see once approved, plus its state."""
    grant = summary.grant
    now = now or timezone.now()
    grant_status = grant.status_at(now)
    return {
        "id": str(summary.pk),
        "grant_id": str(grant.pk),
        "coach_email": grant.coach_email,
        "week": week_label(summary.week_start),
        "week_start": summary.week_start,
        "week_end": summary.week_start + dt.timedelta(days=6),
        "status": summary.status,
        "sections": _sections_out(summary, for_coach=False),
        "note": _note_out(summary),
        "draft_expires_at": summary.draft_expires_at,
        "approved_at": summary.approved_at,
        "visible_to_coach": summary.status == Summary.Status.APPROVED
        and grant_status == constants.ACTIVE,
        "created_at": summary.created_at,
    }


def coach_summary_to_dict(summary: Summary) -> dict[str, Any]:
    """The coach's view: the approved parts and who shared them, nothing about the grant's
    other settings."""
    rep = summary.grant.rep
    return {
        "id": str(summary.pk),
        "rep_name": rep.display_name,
        "rep_email": rep.email,
        "week": week_label(summary.week_start),
        "week_start": summary.week_start,
        "week_end": summary.week_start + dt.timedelta(days=6),
        "sections": _sections_out(summary, for_coach=True),
        "note": _note_out(summary),
        "approved_at": summary.approved_at,
    }


def access_log_to_dict(entry: AccessLogEntry) -> dict[str, Any]:
    return {
        "id": str(entry.pk),
        "read_at": entry.created_at,
        "action": entry.action,
        "coach_email": entry.coach.email,
        "coach_name": entry.coach.display_name,
        "grant_id": str(entry.grant_id),
        "summary_id": str(entry.summary_id),
        "week": week_label(entry.summary.week_start),
    }
