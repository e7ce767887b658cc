"""Every notification read, scoped to the owner, and the schedule queries of the dispatcher.

Output dicts carry rendered words in the rep's language; rows never hold rendered text.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.db.models import Q, QuerySet

from apps.core.time import zone
from apps.notifications import messages
from apps.notifications.models import (
    Delivery,
    Notification,
    NotificationPreferences,
    PushSubscription,
)
from apps.notifications.schedule import local_instant, occurrences_in_window

#: The weekly digest goes out on the rep's local Monday at 08:00.
DIGEST_WEEKDAY = 0
DIGEST_LOCAL_TIME = dt.time(8, 0)


def preferences_get(*, user: Any) -> NotificationPreferences:
    """The rep's preferences; an unsaved row with the defaults if they never changed any."""
    found = NotificationPreferences.objects.filter(user=user).first()
    return found if found is not None else NotificationPreferences(user=user)


def preferences_for_users(*, user_ids: Iterable[Any]) -> dict[str, NotificationPreferences]:
    """Preferences by user id (as str); users without a row get an unsaved default row."""
    ids = [str(pk) for pk in user_ids]
    found = {str(p.user_id): p for p in NotificationPreferences.objects.filter(user_id__in=ids)}
    return {pk: found.get(pk) or NotificationPreferences(user_id=pk) for pk in ids}


def preferences_to_dict(prefs: NotificationPreferences) -> dict[str, Any]:
    return {
        "push_enabled": prefs.push_enabled,
        "push_detailed": prefs.push_detailed,
        "email_digest": prefs.email_digest,
        "reminder_enabled": prefs.reminder_enabled,
        "reminder_time": prefs.reminder_time.strftime("%H:%M"),
        "quiet_hours_enabled": prefs.quiet_hours_enabled,
        "quiet_hours_start": prefs.quiet_hours_start.strftime("%H:%M"),
        "quiet_hours_end": prefs.quiet_hours_end.strftime("%H:%M"),
    }


# --- inbox -----------------------------------------------------------------------------------


def notification_list(
    *,
    user: Any,
    unread_only: bool = False,
    include_dismissed: bool = False,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[Notification]:
    queryset = Notification.objects.filter(user=user).prefetch_related("deliveries")
    if not include_dismissed:
        queryset = queryset.filter(dismissed_at__isnull=True)
    if unread_only:
        queryset = queryset.filter(read_at__isnull=True)
    tz = zone(user.timezone)
    if date_from:
        queryset = queryset.filter(created_at__gte=local_instant(date_from, dt.time(0), tz))
    if date_to:
        next_day = date_to + dt.timedelta(days=1)
        queryset = queryset.filter(created_at__lt=local_instant(next_day, dt.time(0), tz))
    return queryset


def notification_get(*, user: Any, notification_id: Any) -> Notification:
    return Notification.objects.prefetch_related("deliveries").get(user=user, pk=notification_id)


def unread_count(*, user: Any) -> int:
    return Notification.objects.filter(
        user=user, read_at__isnull=True, dismissed_at__isnull=True
    ).count()


def insight_messages(*, user: Any, insight_ids: Iterable[str], locale: str) -> dict[str, str]:
    """The sentence of each of the rep's insights, by id (one query; missing ids are left out:
    an insight the rep dismissed or erased is not quoted any more)."""
    ids = sorted(set(insight_ids))
    if not ids:
        return {}
    from apps.insights.selectors import insight_list, insight_to_dict

    insights = insight_list(user=user, include_old=True).filter(pk__in=ids)
    return {str(i.pk): insight_to_dict(i, locale)["message"] for i in insights}


def insight_owners(*, insight_ids: Iterable[str]) -> dict[str, str]:
    """Insight id -> owner id, for ids that exist (one query)."""
    ids = sorted(set(insight_ids))
    if not ids:
        return {}
    from apps.insights.models import Insight

    return {
        str(pk): str(user_id)
        for pk, user_id in Insight.objects.filter(pk__in=ids).values_list("pk", "user_id")
    }


def _single_insight_id(notification: Notification) -> str | None:
    if notification.title_key != messages.INSIGHT_NEW:
        return None
    ids = notification.params.get("insight_ids") or []
    return str(ids[0]) if len(ids) == 1 else None


def notification_details(*, notifications: Iterable[Notification]) -> dict[Any, str]:
    """Notification id -> the sentence of the one insight it announces, for notifications of
    many reps, each in its rep's language, in one query (a batch of detailed pushes). Only a
    rep's own insights, by the rule of ``insight_list(include_old=True)``: a dismissed one is
    not quoted."""
    wanted = {
        n.pk: (str(n.user_id), insight_id, n.user.locale)
        for n in notifications
        if (insight_id := _single_insight_id(n)) is not None
    }
    if not wanted:
        return {}
    from apps.insights.models import Insight
    from apps.insights.selectors import insight_to_dict

    insights = {
        str(i.pk): i
        for i in Insight.objects.filter(
            user_id__in={user_id for user_id, _, _ in wanted.values()},
            pk__in={insight_id for _, insight_id, _ in wanted.values()},
        ).exclude(status=Insight.Status.DISMISSED)
    }
    details = {}
    for pk, (user_id, insight_id, locale) in wanted.items():
        insight = insights.get(insight_id)
        if insight is not None and str(insight.user_id) == user_id:
            details[pk] = insight_to_dict(insight, locale)["message"]
    return details


def _delivery_to_dict(delivery: Delivery) -> dict[str, Any]:
    return {
        "channel": delivery.channel,
        "state": delivery.state,
        "due_at": delivery.due_at,
        "sent_at": delivery.sent_at,
        "attempts": delivery.attempts,
    }


def notifications_to_dicts(
    notifications: Iterable[Notification], *, user: Any
) -> list[dict[str, Any]]:
    """Inbox rows in the rep's language; the insight sentences of a page in one query."""
    rows = list(notifications)
    wanted = [i for i in (_single_insight_id(n) for n in rows) if i is not None]
    details = insight_messages(user=user, insight_ids=wanted, locale=user.locale)
    out = []
    for notification in rows:
        insight_id = _single_insight_id(notification)
        text = messages.inbox_text(
            notification.title_key,
            notification.params,
            locale=user.locale,
            body=notification.body,
            detail=details.get(insight_id) if insight_id else None,
        )
        out.append(
            {
                "id": notification.pk,
                "kind": notification.kind,
                "title": text.title,
                "body": text.body,
                "link": notification.link,
                "urgent": notification.urgent,
                "created_at": notification.created_at,
                "read": notification.read_at is not None,
                "read_at": notification.read_at,
                "dismissed": notification.dismissed_at is not None,
                "dismissed_at": notification.dismissed_at,
                "deliveries": [
                    _delivery_to_dict(d)
                    for d in sorted(notification.deliveries.all(), key=lambda d: d.channel)
                ],
            }
        )
    return out


# --- push subscriptions ----------------------------------------------------------------------


def push_subscription_list(*, user: Any) -> QuerySet[PushSubscription]:
    return PushSubscription.objects.filter(user=user).order_by("-created_at")


def push_subscription_get(*, user: Any, subscription_id: Any) -> PushSubscription:
    return PushSubscription.objects.get(user=user, pk=subscription_id)


def push_subscription_to_dict(subscription: PushSubscription) -> dict[str, Any]:
    parts = urlsplit(subscription.endpoint)
    return {
        "id": subscription.pk,
        "endpoint": subscription.endpoint,
        "push_service": parts.hostname or "",
        "user_agent": subscription.user_agent,
        "created_at": subscription.created_at,
        "last_success_at": subscription.last_success_at,
    }


def push_subscriptions_for_users(*, user_ids: Iterable[Any]) -> dict[str, list[PushSubscription]]:
    found: dict[str, list[PushSubscription]] = defaultdict(list)
    for subscription in PushSubscription.objects.filter(user_id__in=list(user_ids)).order_by(
        "created_at"
    ):
        found[str(subscription.user_id)].append(subscription)
    return dict(found)


def checked_in(*, user_days: Iterable[tuple[Any, dt.date]]) -> set[tuple[str, dt.date]]:
    """Which (rep, local day) pairs have an energy check-in, in one query for many reps: the
    batch form of ``apps.journal.selectors.has_checkin_on`` (same table, same local day)."""
    pairs = {(str(user_id), day) for user_id, day in user_days}
    if not pairs:
        return set()
    from apps.journal.models import ENTRY_MODELS

    found = (
        ENTRY_MODELS["energy"]
        .objects.filter(
            user_id__in={user_id for user_id, _ in pairs},
            local_date__in={day for _, day in pairs},
        )
        .values_list("user_id", "local_date")
        .distinct()
    )
    return {(str(user_id), day) for user_id, day in found} & pairs


def users_with_push_subscriptions(*, user_ids: Iterable[Any]) -> set[str]:
    return {
        str(pk)
        for pk in PushSubscription.objects.filter(user_id__in=list(user_ids))
        .values_list("user_id", flat=True)
        .distinct()
    }


# --- schedules -------------------------------------------------------------------------------


def _users_due_in(
    base: QuerySet[NotificationPreferences],
    time_field: str | None,
    *,
    spans: Sequence[tuple[dt.datetime, dt.datetime]],
    fixed_time: dt.time | None = None,
    weekday: int | None = None,
) -> list[list[str]]:
    """For each [start, end) span, the users whose local wall-clock time (per their own zone,
    DST included) happens in it: the distinct (zone, time) pairs are checked in Python, the
    users of all spans fetched in one query (two queries whatever the number of spans)."""
    found: list[list[str]] = [[] for _ in spans]
    if not spans:
        return found
    pairs: Iterable[tuple[str, dt.time | None]]
    if time_field is not None:
        pairs = base.values_list("user__timezone", time_field).distinct()
    else:
        pairs = [
            (tz, fixed_time) for tz in base.values_list("user__timezone", flat=True).distinct()
        ]
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    # (zone, time) -> indexes of the spans it happens in.
    due: dict[tuple[str, dt.time], set[int]] = defaultdict(set)
    for tz_name, wall_time in pairs:
        assert wall_time is not None
        for _day, instant in occurrences_in_window(
            start=first, end=last, tz=zone(tz_name), wall_time=wall_time, weekday=weekday
        ):
            for index, (start, end) in enumerate(spans):
                if start <= instant < end:
                    due[(tz_name, wall_time)].add(index)
    if not due:
        return found
    times_by_zone: dict[str, list[dt.time]] = defaultdict(list)
    for tz_name, wall_time in due:
        times_by_zone[tz_name].append(wall_time)
    condition = Q()
    for tz_name, times in times_by_zone.items():
        if time_field is None:
            condition |= Q(user__timezone=tz_name)
        else:
            condition |= Q(user__timezone=tz_name, **{f"{time_field}__in": times})
    rows: Iterable[tuple[Any, str, dt.time | None]]
    if time_field is None:
        rows = (
            (user_id, tz_name, fixed_time)
            for user_id, tz_name in base.filter(condition)
            .order_by("user_id")
            .values_list("user_id", "user__timezone")
        )
    else:
        rows = (
            base.filter(condition)
            .order_by("user_id")
            .values_list("user_id", "user__timezone", time_field)
        )
    for user_id, tz_name, wall_time in rows:
        assert wall_time is not None
        for index in due[(tz_name, wall_time)]:
            found[index].append(str(user_id))
    return found


def _reminder_base() -> QuerySet[NotificationPreferences]:
    return NotificationPreferences.objects.filter(reminder_enabled=True, user__is_active=True)


def _digest_base() -> QuerySet[NotificationPreferences]:
    return NotificationPreferences.objects.filter(email_digest=True, user__is_active=True)


def reminder_users_due(*, start: dt.datetime, end: dt.datetime) -> list[str]:
    return _users_due_in(_reminder_base(), "reminder_time", spans=[(start, end)])[0]


def digest_users_due(*, start: dt.datetime, end: dt.datetime) -> list[str]:
    return digest_users_due_by_window(windows=[(start, end)])[0]


def reminder_users_due_by_window(
    *, windows: Sequence[tuple[dt.datetime, dt.datetime]]
) -> list[list[str]]:
    """:func:`reminder_users_due` for several windows at once (the dispatcher catching up
    missed hours), in the same two queries."""
    return _users_due_in(_reminder_base(), "reminder_time", spans=windows)


def digest_users_due_by_window(
    *, windows: Sequence[tuple[dt.datetime, dt.datetime]]
) -> list[list[str]]:
    return _users_due_in(
        _digest_base(),
        None,
        spans=windows,
        fixed_time=DIGEST_LOCAL_TIME,
        weekday=DIGEST_WEEKDAY,
    )


def reminder_preferences(*, user_ids: Iterable[Any]) -> QuerySet[NotificationPreferences]:
    return NotificationPreferences.objects.filter(
        user_id__in=list(user_ids), reminder_enabled=True, user__is_active=True
    ).select_related("user")


def digest_preferences(*, user_ids: Iterable[Any]) -> QuerySet[NotificationPreferences]:
    return NotificationPreferences.objects.filter(
        user_id__in=list(user_ids), email_digest=True, user__is_active=True
    ).select_related("user")


def digest_summary(*, user: Any, week_start: dt.date, week_end: dt.date) -> dict[str, int]:
    """Counts only (no values): the digest may land in a mailbox the employer runs."""
    from apps.insights.selectors import insight_list

    tz = zone(user.timezone)
    since = local_instant(week_start, dt.time(0), tz)
    until = local_instant(week_end + dt.timedelta(days=1), dt.time(0), tz)
    new_insights = (
        insight_list(user=user, include_old=True)
        .filter(created_at__gte=since, created_at__lt=until)
        .count()
    )
    days = (week_end - week_start).days + 1
    # One query for the week, not one per day.
    checkin_days = len(
        checked_in(
            user_days=[(user.pk, week_start + dt.timedelta(days=offset)) for offset in range(days)]
        )
    )
    return {
        "new_insights": new_insights,
        "checkin_days": checkin_days,
        "unread": unread_count(user=user),
    }
