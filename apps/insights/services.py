"""Every write of derived data: day features, insights and progress.

Idempotent by construction: features are upserted per (user, day); insights are keyed by a
fingerprint, so re-running a night changes nothing and a finding that has not changed
materially is never delivered twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import operator
import time
from collections.abc import Iterable
from functools import reduce
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.accounts.models import User
from apps.core.time import local_date
from apps.insights import engine
from apps.insights.features import merge_day, to_arrays
from apps.insights.messages import message_params
from apps.insights.models import (
    FEATURE_COLUMNS,
    DayFeature,
    Insight,
    InsightProgress,
    StaleDay,
)
from apps.journal.aggregates import daily_journal_aggregates
from apps.notifications.services import notify_new_insights_bulk

logger = logging.getLogger(__name__)

HISTORY_DAYS = 365
STALE_BATCH = 500
ENGINE_BATCH = 500


def _work_aggregates(
    user_ids: list[Any], date_from: dt.date, date_to: dt.date
) -> dict[tuple[Any, dt.date], dict[str, Any]]:
    try:
        from apps.performance.selectors import daily_quality_for_users
    except ImportError:  # the sales app is optional for the journal-only insights
        return {}
    return daily_quality_for_users(user_ids=user_ids, date_from=date_from, date_to=date_to)


def day_features_rebuild(*, user_ids: list[Any], date_from: dt.date, date_to: dt.date) -> int:
    """Recompute every feature row of these users in the range (a fixed number of queries)."""
    journal = daily_journal_aggregates(user_ids=user_ids, date_from=date_from, date_to=date_to)
    work = _work_aggregates(user_ids, date_from, date_to)
    keys = set(journal) | set(work)
    rows = [
        DayFeature(
            user_id=uid,
            local_date=day,
            **merge_day(journal.get((uid, day)), work.get((uid, day)), day),
        )
        for uid, day in sorted(keys, key=lambda k: (str(k[0]), k[1]))
    ]
    with transaction.atomic():
        # Days that no longer have any entry lose their row.
        stale = DayFeature.objects.filter(
            user_id__in=user_ids, local_date__gte=date_from, local_date__lte=date_to
        )
        if keys:
            kept = {(str(uid), day) for uid, day in keys}
            stale_ids = [
                pk
                for pk, uid, day in stale.values_list("pk", "user_id", "local_date")
                if (str(uid), day) not in kept
            ]
            DayFeature.objects.filter(pk__in=stale_ids).delete()
        else:
            stale.delete()
        if rows:
            DayFeature.objects.bulk_create(
                rows,
                batch_size=2000,
                update_conflicts=True,
                unique_fields=["user", "local_date"],
                update_fields=[*FEATURE_COLUMNS, "working_day", "updated_at"],
            )
    return len(rows)


def day_features_refresh(*, user_id: Any, dates: Iterable[dt.date]) -> int:
    """Recompute the given days of one user (each day alone: they are usually few)."""
    total = 0
    for day in sorted(set(dates)):
        total += day_features_rebuild(user_ids=[user_id], date_from=day, date_to=day)
    return total


def stale_days_refresh(*, limit: int = STALE_BATCH) -> int:
    """Recompute the oldest marked days (up to ``limit``); the number of days done.

    Marks are read without a lock and deleted afterwards only if nobody re-marked them
    meanwhile (same ``marked_at``): a change committed during the recomputation keeps its mark
    and is picked up by the next run. Writers are never blocked by this job.
    """
    oldest_first = StaleDay.objects.order_by("marked_at")
    marks = list(oldest_first.values_list("pk", "user_id", "local_date", "marked_at")[:limit])
    # Grouped by day: most marks are today's and yesterday's, so a batch of hundreds of reps
    # is a handful of rebuilds with a fixed number of queries each.
    by_day: dict[dt.date, list[Any]] = {}
    for _pk, user_id, day, _marked in marks:
        by_day.setdefault(day, []).append(user_id)
    for day, user_ids in sorted(by_day.items()):
        day_features_rebuild(user_ids=user_ids, date_from=day, date_to=day)
    if marks and connection.vendor != "postgresql":
        done = [Q(pk=pk, marked_at=marked_at) for pk, _user_id, _day, marked_at in marks]
        StaleDay.objects.filter(reduce(operator.or_, done)).delete()
    elif marks:
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM insights_staleday AS s "
                "USING unnest(%s::bigint[], %s::timestamptz[]) AS done(id, marked_at) "
                "WHERE s.id = done.id AND s.marked_at = done.marked_at",
                [[m[0] for m in marks], [m[3] for m in marks]],
            )
    return len(marks)


def stale_days_drain(*, max_seconds: float) -> int:
    """Batches of ``stale_days_refresh`` until none is left or ``max_seconds`` have passed (so
    periodic runs do not pile up; the rest waits for the next run)."""
    deadline = time.monotonic() + max_seconds
    total = 0
    while time.monotonic() < deadline:
        done = stale_days_refresh()
        total += done
        if done < STALE_BATCH:
            break
    return total


def fingerprint(user_id: Any, finding: engine.Finding) -> str:
    # A change of less than half a unit (or 10 % of a share/value) is not material.
    effect = finding.mean_high - finding.mean_low
    scale = max(abs(finding.mean_low), 1.0)
    bucket = (
        round(effect / (0.1 * scale)) if finding.outcome in ("deal_value",) else round(effect * 2)
    )
    raw = f"{user_id}|{finding.construct}|{finding.outcome}|{finding.direction}|{bucket}"
    return hashlib.sha256(raw.encode()).hexdigest()


def insights_compute(
    *, user_ids: list[Any], as_of: dt.date | None = None, days: int = HISTORY_DAYS
) -> dict[str, int]:
    """Run the engine for a batch of reps and store findings and progress. Idempotent."""
    users = list(User.objects.filter(pk__in=user_ids).only("pk", "timezone", "day_boundary_hour"))
    if not users:
        return {"reps": 0, "findings": 0, "new": 0}
    counts = {"reps": len(users), "findings": 0, "new": 0}
    # Each rep's own local day: a chunk can hold zones that are on different dates right now.
    now = timezone.now()
    by_day: dict[dt.date, list[User]] = {}
    for user in users:
        by_day.setdefault(as_of or local_date(user, now), []).append(user)
    for day, group in sorted(by_day.items()):
        for start in range(0, len(group), ENGINE_BATCH):
            counts_batch = _compute_batch(group[start : start + ENGINE_BATCH], day, days)
            for key in ("findings", "new"):
                counts[key] += counts_batch[key]
    return counts


def _compute_batch(users: list[User], day: dt.date, days: int) -> dict[str, int]:
    # Compute up to yesterday: today is not over yet.
    last = day - dt.timedelta(days=1)
    first = last - dt.timedelta(days=days - 1)
    index = {user.pk: i for i, user in enumerate(users)}
    day_features_rebuild(user_ids=list(index), date_from=first, date_to=last)
    rows = [
        (index[uid], local_day, values)
        for uid, local_day, values in _feature_rows(list(index), first, last)
    ]
    features, weekday, working = to_arrays(rows, len(users), last, days)
    result = engine.run_engine(features, weekday, working)
    return _store(users, result, day)


def _feature_rows(
    user_ids: list[Any], first: dt.date, last: dt.date
) -> Iterable[tuple[Any, dt.date, dict[str, Any]]]:
    columns = ("user_id", "local_date", "working_day", *FEATURE_COLUMNS)
    for row in DayFeature.objects.filter(
        user_id__in=user_ids, local_date__gte=first, local_date__lte=last
    ).values_list(*columns):
        yield row[0], row[1], dict(zip(columns[2:], row[2:], strict=True))


def _store(users: list[User], result: engine.EngineResult, day: dt.date) -> dict[str, int]:
    new = 0
    new_by_user: dict[Any, list[Any]] = {}
    with transaction.atomic():
        by_user: dict[int, list[engine.Finding]] = {}
        for finding in result.findings:
            by_user.setdefault(finding.rep_index, []).append(finding)
        for rep_index, user in enumerate(users):
            findings = by_user.get(rep_index, [])
            fingerprints = {fingerprint(user.pk, f): f for f in findings}
            existing = set(
                Insight.objects.filter(user=user, fingerprint__in=list(fingerprints)).values_list(
                    "fingerprint", flat=True
                )
            )
            to_create = [
                _insight(user, fp, finding, day)
                for fp, finding in fingerprints.items()
                if fp not in existing
            ]
            Insight.objects.bulk_create(to_create, ignore_conflicts=True)
            new += len(to_create)
            if to_create:
                new_by_user[user.pk] = [insight.pk for insight in to_create]
            # A finding that is no longer supported stops being current (kept for the rep).
            Insight.objects.filter(user=user, current=True).exclude(
                fingerprint__in=list(fingerprints)
            ).update(current=False)
            Insight.objects.filter(user=user, fingerprint__in=list(fingerprints)).update(
                current=True
            )
        progress = [
            InsightProgress(
                user=users[p.rep_index],
                construct=p.construct,
                outcome=p.outcome,
                days_logged=p.days_logged,
                days_needed=p.days_needed,
            )
            for p in result.progress
        ]
        if progress:
            InsightProgress.objects.bulk_create(
                progress,
                batch_size=2000,
                update_conflicts=True,
                unique_fields=["user", "construct", "outcome"],
                update_fields=["days_logged", "days_needed", "updated_at"],
            )
        if new_by_user:
            # One inbox row per rep per run, pushed after commit (or when quiet hours end).
            notify_new_insights_bulk(insight_ids_by_user=new_by_user)
    return {"findings": len(result.findings), "new": new}


def _insight(user: User, fp: str, finding: engine.Finding, day: dt.date) -> Insight:
    return Insight(
        user=user,
        construct=finding.construct,
        factor=finding.factor,
        outcome=finding.outcome,
        lag=finding.lag,
        direction=finding.direction,
        mean_high=finding.mean_high,
        mean_low=finding.mean_low,
        n_high=finding.n_high,
        n_low=finding.n_low,
        diff_ci_low=finding.diff_low_ci,
        diff_ci_high=finding.diff_high_ci,
        q_value=finding.q_value,
        rho=finding.rho,
        split_label=finding.split_label,
        threshold=finding.threshold,
        message_key="pattern",
        params=message_params(
            factor=finding.factor,
            lag=finding.lag,
            outcome=finding.outcome,
            threshold=finding.threshold,
            finding=finding,
        ),
        fingerprint=fp,
        computed_on=day,
    )


def insight_set_status(*, insight: Insight, status: str) -> Insight:
    if insight.status != status:
        insight.status = status
        insight.save(update_fields=["status", "updated_at"])
    return insight


def insight_set_feedback(*, insight: Insight, feedback: str) -> Insight:
    if insight.feedback != feedback:
        insight.feedback = feedback
        insight.save(update_fields=["feedback", "updated_at"])
    return insight


def users_due_for_nightly(*, now: dt.datetime, local_hour: int = 5) -> list[str]:
    """Reps whose local clock reads ``local_hour`` now (DST-aware, per zone)."""
    from zoneinfo import ZoneInfo

    due_zones = []
    for tz_name in (
        User.objects.filter(is_active=True).values_list("timezone", flat=True).distinct()
    ):
        try:
            if now.astimezone(ZoneInfo(tz_name)).hour == local_hour:
                due_zones.append(tz_name)
        except (KeyError, ValueError):
            continue
    return [
        str(pk)
        for pk in User.objects.filter(is_active=True, timezone__in=due_zones)
        .order_by("pk")
        .values_list("pk", flat=True)
    ]


def day_features_purge_before(*, cutoff_date: dt.date, except_user_ids: set[Any]) -> int:
    """Retention: day rows older than the cutoff go, except for reps who chose to keep them."""
    return (
        DayFeature.objects.filter(local_date__lt=cutoff_date)
        .exclude(user_id__in=except_user_ids)
        .delete()[0]
    )
