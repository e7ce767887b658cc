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
from apps.core.time import local_date, zone
from apps.insights import engine
from apps.insights.features import main_currencies, merge_day, rows_in_window, to_arrays
from apps.insights.messages import MONEY_OUTCOMES, SHARE_OUTCOMES, message_params
from apps.insights.models import (
    DAY_COLUMNS,
    FEATURE_COLUMNS,
    DayFeature,
    Insight,
    InsightProgress,
    StaleDay,
)
from apps.journal.aggregates import daily_journal_aggregates
from apps.notifications.schedule import floor_to_hour, occurrences_in_window
from apps.notifications.services import notify_new_insights_bulk
from apps.privacy.models import Category
from apps.privacy.selectors import consented_categories_by_user

logger = logging.getLogger(__name__)

HISTORY_DAYS = 365
STALE_BATCH = 500
ENGINE_BATCH = 500
# The rep's local hour of the nightly run (apps.insights.tasks dispatches it).
NIGHTLY_LOCAL_HOUR = 5


#: The day columns each consent category fills (apps.journal.aggregates). What is derived
#: from a category: these columns, and every insight and progress row whose construct is the
#: category or whose outcome is one of them (energy: the energy outcomes).
CATEGORY_COLUMNS: dict[str, tuple[str, ...]] = {
    category: tuple(
        column
        for column in FEATURE_COLUMNS
        if engine.CONSTRUCTS.get(column) == category
        or (category == Category.ENERGY and column in engine.ENERGY_OUTCOMES)
    )
    for category in Category.values
}
_COLUMN_CATEGORY = {
    column: category for category, columns in CATEGORY_COLUMNS.items() for column in columns
}


def _derived_from(categories: Iterable[str]) -> Q:
    """Insights and progress rows derived from any of these categories (none: no row)."""
    return reduce(
        operator.or_,
        (Q(construct=c) | Q(outcome__in=CATEGORY_COLUMNS[c]) for c in categories),
        Q(pk__in=[]),
    )


def _categories_of(construct: str, outcome: str) -> set[str]:
    categories = {construct} if construct in CATEGORY_COLUMNS else set()
    if outcome in _COLUMN_CATEGORY:
        categories.add(_COLUMN_CATEGORY[outcome])
    return categories


def derived_delete_for_category(*, user: Any, category: str) -> int:
    """Consent withdrawn (privacy.services.consent_withdraw, in its transaction): no insight,
    progress row or day value derived from the category stays stored (DESIGN.md §2.4). The
    number of insight and progress rows deleted."""
    columns = CATEGORY_COLUMNS[category]
    with transaction.atomic():
        derived = _derived_from([category])
        count = Insight.objects.filter(derived, user=user).delete()[0]
        count += InsightProgress.objects.filter(derived, user=user).delete()[0]
        # Every day row, days without entries too (aggregates kept past retention).
        with_values = reduce(operator.or_, (Q(**{f"{c}__isnull": False}) for c in columns))
        DayFeature.objects.filter(with_values, user=user).update(
            **dict.fromkeys(columns), updated_at=timezone.now()
        )
    return count


def _work_aggregates(
    user_ids: list[Any], date_from: dt.date, date_to: dt.date
) -> dict[tuple[Any, dt.date], dict[str, Any]]:
    try:
        from apps.performance.selectors import daily_quality_for_users
    except ImportError:  # the sales app is optional for the journal-only insights
        return {}
    return daily_quality_for_users(user_ids=user_ids, date_from=date_from, date_to=date_to)


def day_features_rebuild(*, user_ids: list[Any], date_from: dt.date, date_to: dt.date) -> int:
    """Recompute every feature row of these users in the range (a fixed number of queries).

    Only categories the rep consents to are used, read and held in the transaction that
    stores the rows: entries a rep kept after withdrawing consent stay out of the features
    and so of the insights, also when the withdrawal comes while this runs.
    """
    aggregates = daily_journal_aggregates(user_ids=user_ids, date_from=date_from, date_to=date_to)
    work = _work_aggregates(user_ids, date_from, date_to)
    with transaction.atomic():
        granted = consented_categories_by_user(user_ids=user_ids, hold=True)
        journal: dict[tuple[Any, dt.date], dict[str, float | None]] = {}
        for (uid, day), values in aggregates.items():
            held = granted.get(str(uid), set())
            allowed = {k: v for k, v in values.items() if _COLUMN_CATEGORY.get(k, "") in held}
            # A day with entries of withheld categories only has no journal row.
            if allowed or not values:
                journal[(uid, day)] = allowed
        keys = set(journal) | set(work)
        rows = [
            DayFeature(
                user_id=uid,
                local_date=day,
                **merge_day(journal.get((uid, day)), work.get((uid, day)), day),
            )
            for uid, day in sorted(keys, key=lambda k: (str(k[0]), k[1]))
        ]
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
                update_fields=[*DAY_COLUMNS, "working_day", "updated_at"],
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


# Percentage points of a share outcome (stored as 0..1) that make a finding a new one.
SHARE_BUCKET_POINTS = 5


def fingerprint(user_id: Any, finding: engine.Finding, currency: str | None = None) -> str:
    """Same rep, construct, outcome, direction and rounded effect (and, for money, currency):
    the same finding.

    The effect is rounded on the scale the rep reads: half a unit for ratings and counts,
    ``SHARE_BUCKET_POINTS`` percentage points for shares (0..1; half a unit would hide any
    change up to 50 points), 10 % of the low-group mean for money. A money finding in another
    currency is another finding (other days, other deals); without a currency (none known) the
    fingerprint is the one money findings had before 2026-12-07.
    """
    effect = finding.mean_high - finding.mean_low
    if finding.outcome in MONEY_OUTCOMES:
        bucket = round(effect / (0.1 * max(abs(finding.mean_low), 1.0)))
    elif finding.outcome in SHARE_OUTCOMES:
        bucket = round(effect * 100 / SHARE_BUCKET_POINTS)
    else:
        bucket = round(effect * 2)
    raw = f"{user_id}|{finding.construct}|{finding.outcome}|{finding.direction}|{bucket}"
    if currency and finding.outcome in MONEY_OUTCOMES:
        raw += f"|{currency}"
    return hashlib.sha256(raw.encode()).hexdigest()


def insights_compute(
    *,
    user_ids: list[Any],
    as_of: dt.date | None = None,
    days: int = HISTORY_DAYS,
    window_start: dt.datetime | None = None,
) -> dict[str, int]:
    """Run the engine for a batch of reps and store findings and progress. Idempotent.

    ``window_start`` is the nightly dispatch hour: each rep's day is then the local day of
    their nightly hour in that window, whenever this batch actually runs.
    """
    # Their consents are read where what is derived from them is stored (_store).
    users = list(User.objects.filter(pk__in=user_ids).only("pk", "timezone", "day_boundary_hour"))
    if not users:
        return {"reps": 0, "findings": 0, "new": 0}
    counts = {"reps": len(users), "findings": 0, "new": 0}
    # Each rep's own local day: a chunk can hold zones that are on different dates right now.
    now = timezone.now()
    by_day: dict[dt.date, list[User]] = {}
    for user in users:
        instant = _nightly_instant(user, window_start) if window_start is not None else None
        by_day.setdefault(as_of or local_date(user, instant or now), []).append(user)
    for day, group in sorted(by_day.items()):
        for start in range(0, len(group), ENGINE_BATCH):
            counts_batch = _compute_batch(group[start : start + ENGINE_BATCH], day, days)
            for key in ("findings", "new"):
                counts[key] += counts_batch[key]
    return counts


def _compute_batch(users: list[User], day: dt.date, days: int) -> dict[str, int]:
    """``users`` as ``insights_compute`` reads them."""
    # Compute up to yesterday: today is not over yet.
    last = day - dt.timedelta(days=1)
    first = last - dt.timedelta(days=days - 1)
    index = {user.pk: i for i, user in enumerate(users)}
    day_features_rebuild(user_ids=list(index), date_from=first, date_to=last)
    rows = rows_in_window(
        (
            (index[uid], local_day, values)
            for uid, local_day, values in _feature_rows(list(index), first, last)
        ),
        last,
        days,
    )
    # The currency each rep's deal values are compared in is the one their money findings name.
    currencies = main_currencies(rows)
    features, weekday, working = to_arrays(rows, len(users), last, days, currencies=currencies)
    result = engine.run_engine(features, weekday, working)
    return _store(users, result, day, currencies)


def _feature_rows(
    user_ids: list[Any], first: dt.date, last: dt.date
) -> Iterable[tuple[Any, dt.date, dict[str, Any]]]:
    # The currency comes along so to_arrays can keep each rep's deal values in one currency.
    columns = ("user_id", "local_date", "working_day", *DAY_COLUMNS)
    for row in DayFeature.objects.filter(
        user_id__in=user_ids, local_date__gte=first, local_date__lte=last
    ).values_list(*columns):
        yield row[0], row[1], dict(zip(columns[2:], row[2:], strict=True))


# The fields a finding found again takes from tonight's run.
REFRESHED_FIELDS = [
    "factor",
    "lag",
    "mean_high",
    "mean_low",
    "n_high",
    "n_low",
    "diff_ci_low",
    "diff_ci_high",
    "q_value",
    "rho",
    "split_label",
    "threshold",
    "params",
    "fingerprint",  # a money finding stored before its currency gets its fingerprint with it
    "computed_on",
    "updated_at",
]


def _store(
    users: list[User],
    result: engine.EngineResult,
    day: dt.date,
    currencies: dict[int, str],
) -> dict[str, int]:
    new = 0
    new_by_user: dict[Any, list[Any]] = {}
    to_refresh: list[Insight] = []
    now = timezone.now()

    def consented(rep_index: int, construct: str, outcome: str) -> bool:
        held = consents.get(str(users[rep_index].pk), set())
        return _categories_of(construct, outcome) <= held

    with transaction.atomic():
        # Read (and held) here, not with the reps: a withdrawal committed while the engine ran
        # must not see the category's findings stored after it deleted them.
        consents = consented_categories_by_user(user_ids=[user.pk for user in users], hold=True)
        # Nothing derived from a category without consent is kept (one query for the batch).
        withheld = [
            Q(user_id=user.pk) & _derived_from(sorted(CATEGORY_COLUMNS.keys() - held))
            for user in users
            if CATEGORY_COLUMNS.keys() - (held := consents.get(str(user.pk), set()))
        ]
        if withheld:
            Insight.objects.filter(reduce(operator.or_, withheld)).delete()
        by_user: dict[int, list[engine.Finding]] = {}
        for finding in result.findings:
            if consented(finding.rep_index, finding.construct, finding.outcome):
                by_user.setdefault(finding.rep_index, []).append(finding)
        for rep_index, user in enumerate(users):
            findings = by_user.get(rep_index, [])
            currency = currencies.get(rep_index)
            fingerprints = {fingerprint(user.pk, f, currency): f for f in findings}
            # A money finding stored before insights named their currency has the fingerprint
            # without one; found again, it is the same finding (refreshed, not sent again).
            legacy = {
                fp: fingerprint(user.pk, f)
                for fp, f in fingerprints.items()
                if currency and f.outcome in MONEY_OUTCOMES
            }
            stored = {
                fp: (pk, computed_on)
                for fp, pk, computed_on in Insight.objects.filter(
                    user=user, fingerprint__in=[*fingerprints, *legacy.values()]
                ).values_list("fingerprint", "pk", "computed_on")
            }
            adopted = [
                legacy[fp] for fp in fingerprints if fp not in stored and legacy.get(fp) in stored
            ]
            existing = {
                fp: stored[fp] if fp in stored else stored[legacy[fp]]
                for fp in fingerprints
                if fp in stored or legacy.get(fp) in stored
            }
            to_create = [
                _insight(user, fp, finding, day, currency)
                for fp, finding in fingerprints.items()
                if fp not in existing
            ]
            # Found again: tonight's figures replace the old ones (the rep reads what the data
            # say now); status and feedback stay, and nothing is sent again. A backfill of an
            # earlier day never overwrites newer figures.
            to_refresh.extend(
                _insight(user, fp, finding, day, currency, id=existing[fp][0], updated_at=now)
                for fp, finding in fingerprints.items()
                if fp in existing and existing[fp][1] <= day
            )
            Insight.objects.bulk_create(to_create, ignore_conflicts=True)
            new += len(to_create)
            if to_create:
                new_by_user[user.pk] = [insight.pk for insight in to_create]
            # A finding that is no longer supported stops being current (kept for the rep).
            Insight.objects.filter(user=user, current=True).exclude(
                fingerprint__in=[*fingerprints, *adopted]
            ).update(current=False)
            Insight.objects.filter(user=user, fingerprint__in=[*fingerprints, *adopted]).update(
                current=True
            )
        if to_refresh:
            Insight.objects.bulk_update(to_refresh, REFRESHED_FIELDS, batch_size=500)
        progress = [
            InsightProgress(
                user=users[p.rep_index],
                construct=p.construct,
                outcome=p.outcome,
                days_logged=p.days_logged,
                days_needed=p.days_needed,
            )
            for p in result.progress
            if consented(p.rep_index, p.construct, p.outcome)
        ]
        # A group the engine no longer reports (more logging cannot unlock it) loses its row.
        shown = {(str(p.user.pk), p.construct, p.outcome) for p in progress}
        gone = [
            pk
            for pk, user_id, construct, outcome in InsightProgress.objects.filter(
                user__in=users
            ).values_list("pk", "user_id", "construct", "outcome")
            if (str(user_id), construct, outcome) not in shown
        ]
        if gone:
            InsightProgress.objects.filter(pk__in=gone).delete()
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


def _insight(
    user: User,
    fp: str,
    finding: engine.Finding,
    day: dt.date,
    currency: str | None,
    **extra: Any,
) -> Insight:
    return Insight(
        **extra,
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
            currency=currency,
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


def users_due_for_nightly(*, now: dt.datetime, local_hour: int = NIGHTLY_LOCAL_HOUR) -> list[str]:
    """Reps whose local ``local_hour``:00 happens in the hour window that contains ``now``
    (DST-aware, per zone).

    The window is [floor_to_hour(now), +1 h), not the wall clock when the task runs: a dispatch
    that starts late (up to the 50-minute expiry) still picks every zone, half- and
    quarter-hour ones included, and consecutive windows never overlap, so each rep is
    selected exactly once per local day.
    """
    start = floor_to_hour(now)
    end = start + dt.timedelta(hours=1)
    wall_time = dt.time(local_hour)
    due_zones = []
    for tz_name in (
        User.objects.filter(is_active=True).values_list("timezone", flat=True).distinct()
    ):
        if any(occurrences_in_window(start=start, end=end, tz=zone(tz_name), wall_time=wall_time)):
            due_zones.append(tz_name)
    if not due_zones:
        return []
    return [
        str(pk)
        for pk in User.objects.filter(is_active=True, timezone__in=due_zones)
        .order_by("pk")
        .values_list("pk", flat=True)
    ]


def _nightly_instant(
    user: User, window_start: dt.datetime, local_hour: int = NIGHTLY_LOCAL_HOUR
) -> dt.datetime | None:
    """The instant of the rep's local nightly hour inside the dispatch window, if any."""
    for _day, instant in occurrences_in_window(
        start=window_start,
        end=window_start + dt.timedelta(hours=1),
        tz=zone(user.timezone),
        wall_time=dt.time(local_hour),
    ):
        return instant
    return None


def day_features_purge_before(*, cutoff_date: dt.date, except_user_ids: set[Any]) -> int:
    """Retention: day rows older than the cutoff go, except for reps who chose to keep them."""
    return (
        DayFeature.objects.filter(local_date__lt=cutoff_date)
        .exclude(user_id__in=except_user_ids)
        .delete()[0]
    )
