"""Every notification write: inbox rows, deliveries, subscriptions, preferences, and sending.

A push or e-mail goes out at most once per delivery row and subscription:
- the same event makes one inbox row (unique user + fingerprint) and one row per channel
  (unique delivery fingerprint), so a re-run dispatcher or duplicated task adds nothing;
- a worker claims rows (PENDING -> SENDING, one conditional UPDATE under the database's row
  lock, committed) before it talks to anyone, and only the claimer finishes them, so a
  duplicated task or an acks_late redelivery finds them taken and sends nothing;
- a worker that dies mid-send leaves SENDING behind; the sweeper marks it ``interrupted``
  after the lease instead of sending again (the inbox row still has the message).
Transient failures (5xx, 429, timeouts, refused connections, SMTP errors) go back to PENDING
with exponential backoff and jitter; 404/410 from a push service delete the subscription.
Logs carry ids and short result codes, never message text or endpoints.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import secrets
import smtplib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from apps.accounts.models import User
from apps.core.errors import ApplicationError
from apps.core.tasks import send_task_safely
from apps.core.time import local_date
from apps.core.time import zone as _uncached_zone
from apps.notifications import messages, push, selectors
from apps.notifications.models import (
    Delivery,
    DispatchState,
    Notification,
    NotificationPreferences,
    PushSubscription,
)
from apps.notifications.schedule import (
    floor_to_hour,
    in_quiet_hours,
    occurrences_in_window,
    quiet_hours_end,
)

logger = logging.getLogger(__name__)

DELIVER_TASK = "apps.notifications.tasks.deliver"
DELIVER_BATCH_TASK = "apps.notifications.tasks.deliver_batch"
PREPARE_REMINDERS_TASK = "apps.notifications.tasks.prepare_reminders"
PREPARE_DIGESTS_TASK = "apps.notifications.tasks.prepare_digests"

MAX_ATTEMPTS = 6
BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 3600
# Longer than deliver_batch's hard time limit: a SENDING row older than this has no worker.
CLAIM_LEASE = dt.timedelta(minutes=15)
# Queued delivery tasks expire after this; the sweeper re-queues rows whose task expired.
ENQUEUE_TTL = dt.timedelta(minutes=10)
DELIVERY_BATCH = 50
# Deliveries claimed per commit inside a batch (see _claim).
CLAIM_GROUP = 10
PREPARE_CHUNK = 500
SWEEP_LIMIT = 20_000
# Fan-outs of one hourly dispatch expire before the next dispatch starts.
DISPATCH_EXPIRES_SECONDS = 50 * 60
HOUR = dt.timedelta(hours=1)
LOCAL_SCHEDULES_STATE = "notifications.local-schedules"
# After an outage, missed reminder hours are caught up only while they are this recent (the
# current hour and the two before it): a 17:00 check-in reminder at 23:00 is noise.
REMINDER_CATCH_UP = dt.timedelta(hours=3)
# A weekly digest is still worth reading late: missed digest hours of the last two days.
DIGEST_CATCH_UP = dt.timedelta(days=2)
MAX_SUBSCRIPTIONS_PER_USER = 10
PUSH_TTL_SECONDS: dict[str, int] = {
    Notification.Kind.INSIGHT: 24 * 3600,
    Notification.Kind.REMINDER: 2 * 3600,
    Notification.Kind.DIGEST: 24 * 3600,
    Notification.Kind.SYSTEM: 24 * 3600,
}
UNSUBSCRIBE_SALT = "apps.notifications.email-unsubscribe"
UNSUBSCRIBE_MAX_AGE = dt.timedelta(days=365)
APP_LINKS = {
    Notification.Kind.INSIGHT: "/app/insights",
    Notification.Kind.REMINDER: "/app/",
    Notification.Kind.DIGEST: "/app/insights",
}


class TransientDeliveryError(Exception):
    """A channel failed in a way that may pass; the row is PENDING again until ``retry_in``."""

    def __init__(self, delivery_id: int, code: str, retry_in: int) -> None:
        super().__init__(f"delivery {delivery_id}: {code}, retry in {retry_in}s")
        self.retry_in = retry_in


# The standard library keeps only 8 zones warm; a batch spans every zone of the reps.
zone = functools.lru_cache(maxsize=1024)(_uncached_zone)


def fingerprint(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()


# --- preferences -----------------------------------------------------------------------------

PREFERENCE_FIELDS = (
    "push_enabled",
    "push_detailed",
    "email_digest",
    "reminder_enabled",
    "reminder_time",
    "quiet_hours_enabled",
    "quiet_hours_start",
    "quiet_hours_end",
)


def preferences_update(*, user: User, **changes: Any) -> NotificationPreferences:
    unknown = set(changes) - set(PREFERENCE_FIELDS)
    if unknown:
        raise ValueError(f"unknown preference fields: {sorted(unknown)}")
    with transaction.atomic():
        prefs, _ = NotificationPreferences.objects.select_for_update().get_or_create(user=user)
        before = (prefs.reminder_enabled, prefs.reminder_time)
        quiet = (prefs.quiet_hours_enabled, prefs.quiet_hours_start, prefs.quiet_hours_end)
        for name, value in changes.items():
            setattr(prefs, name, value)
        if (
            prefs.reminder_enabled
            and prefs.quiet_hours_enabled
            and in_quiet_hours(prefs.reminder_time, prefs.quiet_hours_start, prefs.quiet_hours_end)
        ):
            raise ApplicationError(
                "The reminder time is inside your quiet hours, so it would never reach you. "
                "Pick a reminder time outside the quiet hours or change the quiet hours.",
                errors={
                    "reminder_time": [
                        f"Must be outside the quiet hours "
                        f"({prefs.quiet_hours_start:%H:%M}-{prefs.quiet_hours_end:%H:%M})."
                    ]
                },
            )
        prefs.save(update_fields=[*changes, "updated_at"])
        if (prefs.quiet_hours_enabled, prefs.quiet_hours_start, prefs.quiet_hours_end) != quiet:
            _hold_again(user=user, prefs=prefs)
        if prefs.reminder_enabled and (prefs.reminder_enabled, prefs.reminder_time) != before:
            # The hourly dispatch for this hour may have run already: a reminder set for later
            # in this hour still happens today.
            # A time already past in this hour is not "later": switching the reminder on at
            # 17:40 for 17:00 must not ping at once (the rep is in the app right now).
            now = timezone.now()
            reminders_prepare(user_ids=[user.pk], window_start=floor_to_hour(now), not_before=now)
    return prefs


def _hold_again(*, user: User, prefs: NotificationPreferences) -> None:
    """The rep's deliveries held by quiet hours, held by the new ones instead: shortened or
    turned off, they go out at the new end (now, if that has passed); lengthened, later.
    Inside the caller's transaction; those due now are queued after it commits."""
    now = timezone.now()
    held = Delivery.objects.select_for_update().filter(
        notification__user=user, state=Delivery.State.PENDING, held_from__isnull=False
    )
    due_ids: list[int] = []
    for delivery in held.only("pk", "due_at", "held_from"):
        assert delivery.held_from is not None
        due_at = _hold_until(prefs, user, max(delivery.held_from, now))
        changes: dict[str, Any] = {"due_at": due_at, "updated_at": now}
        if due_at <= now:
            changes["enqueued_at"] = now
            due_ids.append(delivery.pk)
        Delivery.objects.filter(pk=delivery.pk).update(**changes)
    if due_ids:
        transaction.on_commit(lambda: _enqueue_deliveries(due_ids))


# --- push subscriptions ----------------------------------------------------------------------


def push_subscription_upsert(
    *, user: User, endpoint: str, p256dh: str, auth: str, user_agent: str = ""
) -> tuple[PushSubscription, bool]:
    """Store a browser's subscription; the same endpoint again updates it (idempotent).

    An endpoint identifies one browser, so if another account subscribed it before, it now
    belongs to this account (the one signed in on that browser).
    """
    try:
        endpoint = push.validate_endpoint(endpoint, allow_loopback=push.loopback_allowed())
    except push.EndpointError as exc:
        raise ApplicationError(str(exc), errors={"endpoint": [str(exc)]}) from exc
    try:
        p256dh, auth = push.validate_keys(p256dh, auth)
    except push.SubscriptionKeyError as exc:
        raise ApplicationError(
            f"The subscription key {exc.field} is malformed: {exc.message}",
            errors={exc.field: [exc.message]},
        ) from exc
    endpoint_hash = hashlib.sha256(endpoint.encode()).hexdigest()
    with transaction.atomic():
        previous_owner = (
            PushSubscription.objects.filter(endpoint_hash=endpoint_hash)
            .values_list("user_id", flat=True)
            .first()
        )
        # update_or_create locks the row and survives two requests creating it at once.
        subscription, _ = PushSubscription.objects.update_or_create(
            endpoint_hash=endpoint_hash,
            defaults={
                "user": user,
                "endpoint": endpoint,
                "p256dh": p256dh,
                "auth": auth,
                "user_agent": user_agent[:200],
            },
        )
        created = previous_owner != user.pk
        # Old browsers that never unsubscribed: keep the newest few.
        stale = list(
            PushSubscription.objects.filter(user=user)
            .order_by("-updated_at")
            .values_list("pk", flat=True)[MAX_SUBSCRIPTIONS_PER_USER:]
        )
        if stale:
            PushSubscription.objects.filter(pk__in=stale).delete()
    logger.info("push subscription %s stored (created=%s)", subscription.pk, created)
    return subscription, created


def push_subscription_delete(*, subscription: PushSubscription) -> None:
    subscription.delete()


def push_subscription_delete_by_endpoint(*, user: User, endpoint: str) -> None:
    endpoint_hash = hashlib.sha256(endpoint.strip().encode()).hexdigest()
    deleted, _ = PushSubscription.objects.filter(user=user, endpoint_hash=endpoint_hash).delete()
    if not deleted:
        raise PushSubscription.DoesNotExist


# --- inbox -----------------------------------------------------------------------------------


def _cancel_pending(notification_ids: Iterable[Any], outcome: str) -> None:
    # Read in the app before the push went out (e.g. held by quiet hours): do not ping.
    Delivery.objects.filter(
        notification_id__in=list(notification_ids), state=Delivery.State.PENDING
    ).update(state=Delivery.State.SKIPPED, outcome=outcome, updated_at=timezone.now())


def notification_mark_read(*, notification: Notification) -> Notification:
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at", "updated_at"])
        _cancel_pending([notification.pk], "read-in-app")
    return notification


def notification_dismiss(*, notification: Notification) -> Notification:
    if notification.dismissed_at is None:
        now = timezone.now()
        notification.dismissed_at = now
        notification.read_at = notification.read_at or now
        notification.save(update_fields=["dismissed_at", "read_at", "updated_at"])
        _cancel_pending([notification.pk], "dismissed")
    return notification


def notifications_mark_all_read(*, user: User) -> int:
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Notification.objects.filter(user=user, read_at__isnull=True).values_list(
                "pk", flat=True
            )
        )
        Notification.objects.filter(pk__in=ids).update(read_at=now, updated_at=now)
        _cancel_pending(ids, "read-in-app")
    return len(ids)


# --- creating notifications ------------------------------------------------------------------


@dataclass
class NotificationSpec:
    user: User
    kind: str
    title_key: str
    fingerprint: str
    params: dict[str, Any] = field(default_factory=dict)
    body: str = ""
    link: str = ""
    urgent: bool = False
    channels: tuple[str, ...] = (Delivery.Channel.PUSH,)
    # The local time it is meant for; None is "now".
    scheduled_at: dt.datetime | None = None


def _hold_until(prefs: NotificationPreferences, user: User, instant: dt.datetime) -> dt.datetime:
    if not prefs.quiet_hours_enabled:
        return instant
    end = quiet_hours_end(
        instant, zone(user.timezone), prefs.quiet_hours_start, prefs.quiet_hours_end
    )
    return end or instant


def notifications_create(specs: Sequence[NotificationSpec]) -> list[Notification]:
    """Create inbox rows and their channel deliveries for many reps at once (idempotent).

    A channel gets a delivery only if the rep can receive it (push on, a subscription,
    VAPID configured). Deliveries due now are queued after commit; later ones (scheduled or
    held by quiet hours) are picked up by the sweeper when due.
    """
    if not specs:
        return []
    now = timezone.now()
    user_ids = sorted({str(s.user.pk) for s in specs})
    prefs_by_user = selectors.preferences_for_users(user_ids=user_ids)
    with_push = selectors.users_with_push_subscriptions(user_ids=user_ids)
    push_ready = push.vapid_config() is not None
    with transaction.atomic():
        Notification.objects.bulk_create(
            [
                Notification(
                    user=s.user,
                    kind=s.kind,
                    title_key=s.title_key,
                    params=s.params,
                    body=s.body,
                    link=s.link,
                    urgent=s.urgent,
                    fingerprint=s.fingerprint,
                )
                for s in specs
            ],
            ignore_conflicts=True,
        )
        stored = {
            (str(n.user_id), n.fingerprint): n
            for n in Notification.objects.filter(
                user_id__in=user_ids, fingerprint__in=[s.fingerprint for s in specs]
            )
        }
        deliveries: list[Delivery] = []
        for spec in specs:
            uid = str(spec.user.pk)
            notification = stored[(uid, spec.fingerprint)]
            prefs = prefs_by_user[uid]
            for channel in spec.channels:
                if channel == Delivery.Channel.PUSH and not (
                    push_ready and prefs.push_enabled and uid in with_push
                ):
                    continue
                instant = spec.scheduled_at or now
                due_at = instant if spec.urgent else _hold_until(prefs, spec.user, instant)
                deliveries.append(
                    Delivery(
                        notification=notification,
                        channel=channel,
                        fingerprint=fingerprint(uid, spec.fingerprint, channel),
                        due_at=due_at,
                        held_from=instant if due_at != instant else None,
                    )
                )
        Delivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        due_ids = list(
            Delivery.objects.filter(
                fingerprint__in=[d.fingerprint for d in deliveries],
                state=Delivery.State.PENDING,
                due_at__lte=now,
                enqueued_at__isnull=True,
            ).values_list("pk", flat=True)
        )
        if due_ids:
            Delivery.objects.filter(pk__in=due_ids).update(enqueued_at=now)
            transaction.on_commit(lambda: _enqueue_deliveries(due_ids))
    return list(stored.values())


def _enqueue_deliveries(delivery_ids: list[int]) -> None:
    """Queue delivery tasks; a chunk the broker refused is left for the next sweep."""
    for start in range(0, len(delivery_ids), DELIVERY_BATCH):
        chunk = delivery_ids[start : start + DELIVERY_BATCH]
        expires = int(ENQUEUE_TTL.total_seconds())
        if len(chunk) == 1:
            sent = send_task_safely(DELIVER_TASK, chunk[0], expires=expires)
        else:
            sent = send_task_safely(DELIVER_BATCH_TASK, chunk, expires=expires)
        if not sent:
            Delivery.objects.filter(pk__in=chunk, state=Delivery.State.PENDING).update(
                enqueued_at=None
            )


def notification_create(
    *,
    user: User,
    kind: str,
    title_key: str,
    fingerprint_key: str,
    params: dict[str, Any] | None = None,
    body: str = "",
    link: str = "",
    urgent: bool = False,
    channels: tuple[str, ...] = (Delivery.Channel.PUSH,),
) -> Notification:
    """One inbox row (and its deliveries) for one rep; the same ``fingerprint_key`` twice
    gives the same row."""
    spec = NotificationSpec(
        user=user,
        kind=kind,
        title_key=title_key,
        fingerprint=fingerprint(kind, fingerprint_key),
        params=params or {},
        body=body,
        link=link,
        urgent=urgent,
        channels=channels,
    )
    return notifications_create([spec])[0]


def _insight_specs(insight_ids_by_user: Mapping[Any, Iterable[Any]]) -> list[NotificationSpec]:
    wanted = {str(i) for ids in insight_ids_by_user.values() for i in ids}
    owners = selectors.insight_owners(insight_ids=wanted)
    users = {
        str(u.pk): u for u in User.objects.filter(pk__in=list(insight_ids_by_user), is_active=True)
    }
    specs = []
    for user_id, ids in insight_ids_by_user.items():
        user = users.get(str(user_id))
        # Only the rep's own insights: an id of someone else's is never quoted to them.
        known = sorted({str(i) for i in ids if owners.get(str(i)) == str(user_id)})
        if user is None or not known:
            continue
        specs.append(
            NotificationSpec(
                user=user,
                kind=Notification.Kind.INSIGHT,
                title_key=messages.INSIGHT_NEW,
                fingerprint=fingerprint(Notification.Kind.INSIGHT, "|".join(known)),
                params={"insight_ids": known, "count": len(known)},
                link=APP_LINKS[Notification.Kind.INSIGHT],
            )
        )
    return specs


def notify_new_insights(*, user_id: Any, insight_ids: Sequence[Any]) -> Notification | None:
    """Tell a rep that the nightly run stored new insights: one inbox row per run (not one
    ping per insight), pushed at once or when the rep's quiet hours end.

    Call it inside the transaction that stored the insights; it queues the push on commit.
    Idempotent: the same insight ids give the same row. Unknown or foreign ids are ignored.
    """
    specs = _insight_specs({user_id: insight_ids})
    if not specs:
        return None
    [notification] = notifications_create(specs)
    logger.info("notification %s for %s new insights", notification.pk, specs[0].params["count"])
    return notification


def notify_new_insights_bulk(*, insight_ids_by_user: Mapping[Any, Sequence[Any]]) -> int:
    """:func:`notify_new_insights` for a batch of reps in a fixed number of queries (the
    nightly engine stores insights for hundreds of reps at once). Returns rows made."""
    specs = _insight_specs(insight_ids_by_user)
    notifications_create(specs)
    logger.info("insight notifications for %d reps", len(specs))
    return len(specs)


# --- local schedules -------------------------------------------------------------------------


def _users_by_window(
    windows: list[dt.datetime],
    due_by_window: Callable[..., list[list[str]]],
) -> dict[dt.datetime, list[str]]:
    """Each hour window's due reps, from a selector that takes all the windows at once."""
    found = due_by_window(windows=[(w, w + HOUR) for w in windows])
    return dict(zip(windows, found, strict=True))


def _catch_up_windows(state: DispatchState, current: dt.datetime) -> list[dt.datetime]:
    """The hour windows after the last one dispatched, up to and including ``current``."""
    windows = []
    window = state.last_window_start + HOUR
    while window <= current:
        windows.append(window)
        window += HOUR
    return windows


def dispatch_local_schedules(*, now: dt.datetime) -> dict[str, int]:
    """Hourly: find reps whose local reminder time or digest time falls in this hour (each in
    their own zone, DST included) and fan out preparation in chunks that expire before the
    next dispatch.

    Hours missed since the last run (beat, broker or workers down) are dispatched too, oldest
    first: reminders of the last ``REMINDER_CATCH_UP``, digests of the last
    ``DIGEST_CATCH_UP``; older windows are passed over. The state row is locked for the whole
    run, so two runs at once dispatch each window once; it advances only past windows whose
    chunks the broker took, so a window the broker refused is tried again by the next run. The
    very first run dispatches only the current hour.
    """
    current = floor_to_hour(now)
    counts: dict[str, int] = {
        "windows": 0,
        "reminder_windows_too_old": 0,
        "digest_windows_too_old": 0,
        "reminders": 0,
        "reminders_chunks": 0,
        "digests": 0,
        "digests_chunks": 0,
    }
    with transaction.atomic():
        # The row lock serialises concurrent runs (a duplicated beat tick, a redelivery); a
        # first run racing another waits on the primary key and then finds its row.
        state, _ = DispatchState.objects.select_for_update().get_or_create(
            name=LOCAL_SCHEDULES_STATE, defaults={"last_window_start": current - HOUR}
        )
        dispatched_up_to = state.last_window_start
        if state.last_window_start > current:
            # Written by a clock that was ahead: waiting for it would stop every reminder, and
            # hours dispatched again make no second row (fingerprints).
            logger.warning("local schedules: state %s is ahead of the clock", dispatched_up_to)
            state.last_window_start = current - HOUR
        windows = _catch_up_windows(state, current)
        reminder_windows = [w for w in windows if current - w < REMINDER_CATCH_UP]
        digest_windows = [w for w in windows if current - w < DIGEST_CATCH_UP]
        reminders_due = _users_by_window(reminder_windows, selectors.reminder_users_due_by_window)
        digests_due = _users_by_window(digest_windows, selectors.digest_users_due_by_window)
        done = state.last_window_start
        for window in windows:
            sent_all = True
            for name, user_ids, task in (
                ("reminders", reminders_due.get(window, []), PREPARE_REMINDERS_TASK),
                ("digests", digests_due.get(window, []), PREPARE_DIGESTS_TASK),
            ):
                for i in range(0, len(user_ids), PREPARE_CHUNK):
                    chunk = user_ids[i : i + PREPARE_CHUNK]
                    sent_all &= send_task_safely(
                        task, chunk, window.isoformat(), expires=DISPATCH_EXPIRES_SECONDS
                    )
                    counts[f"{name}_chunks"] += 1
                counts[name] += len(user_ids)
            if not sent_all:
                # Chunks the broker did take are harmless to send again (fingerprints).
                break
            done = window
            counts["windows"] += 1
            counts["reminder_windows_too_old"] += window not in reminders_due
            counts["digest_windows_too_old"] += window not in digests_due
        if done != dispatched_up_to:
            state.last_window_start = done
            state.save(update_fields=["last_window_start", "updated_at"])
    if len(windows) > 1:
        logger.warning(
            "local schedules: %d missed hour(s) before %s caught up", len(windows) - 1, current
        )
    logger.info("local schedules for %s: %s", current.isoformat(), counts)
    return counts


def _too_late_to_remind(
    prefs: NotificationPreferences, user: User, day: dt.date, now: dt.datetime
) -> bool:
    if local_date(user, now) != day:
        return True
    return prefs.quiet_hours_enabled and (
        quiet_hours_end(now, zone(user.timezone), prefs.quiet_hours_start, prefs.quiet_hours_end)
        is not None
    )


def reminders_prepare(
    *,
    user_ids: Sequence[Any],
    window_start: dt.datetime,
    not_before: dt.datetime | None = None,
) -> dict[str, int]:
    """Reminder rows for the reps whose local reminder time is in the hour from
    ``window_start`` (and not before ``not_before``); none for a rep who already checked in
    that local day (checked again when it is sent) or who has no way to be reminded (no push
    subscription, push off). Older reminders still in the inbox are dismissed: only today's is
    worth acting on. A reminder prepared after its time (a dispatcher catching up an outage)
    is not made if the rep's quiet hours have begun or its local day is over: held until the
    morning it would remind of a day that has passed."""
    end = window_start + dt.timedelta(hours=1)
    now = timezone.now()
    candidates = list(selectors.reminder_preferences(user_ids=user_ids))
    reachable = (
        selectors.users_with_push_subscriptions(user_ids=[p.user_id for p in candidates])
        if push.vapid_config() is not None
        else set()
    )
    due: list[tuple[User, dt.date, dt.datetime]] = []
    for prefs in candidates:
        user = prefs.user
        if not prefs.push_enabled or str(user.pk) not in reachable:
            continue
        for _calendar_day, instant in occurrences_in_window(
            start=window_start, end=end, tz=zone(user.timezone), wall_time=prefs.reminder_time
        ):
            if not_before is not None and instant < not_before:
                continue
            day = local_date(user, instant)
            if instant < now and _too_late_to_remind(prefs, user, day, now):
                logger.info("reminder for %s passed over: caught up too late", user.pk)
                continue
            due.append((user, day, instant))
    done = selectors.checked_in(user_days=[(user.pk, day) for user, day, _ in due])
    specs = [
        NotificationSpec(
            user=user,
            kind=Notification.Kind.REMINDER,
            title_key=messages.REMINDER_CHECKIN,
            fingerprint=fingerprint(Notification.Kind.REMINDER, day.isoformat()),
            params={"local_date": day.isoformat()},
            link=APP_LINKS[Notification.Kind.REMINDER],
            scheduled_at=instant,
        )
        for user, day, instant in due
        if (str(user.pk), day) not in done
    ]
    with transaction.atomic():
        if specs:
            Notification.objects.filter(
                user_id__in=[s.user.pk for s in specs],
                kind=Notification.Kind.REMINDER,
                dismissed_at__isnull=True,
            ).exclude(fingerprint__in=[s.fingerprint for s in specs]).update(
                dismissed_at=timezone.now()
            )
        notifications_create(specs)
    return {"reminders": len(specs), "skipped_checked_in": len(due) - len(specs)}


def digests_prepare(*, user_ids: Sequence[Any], window_start: dt.datetime) -> dict[str, int]:
    """Weekly digest rows (e-mail) for reps whose local Monday 08:00 is in this hour."""
    end = window_start + dt.timedelta(hours=1)
    specs: list[NotificationSpec] = []
    for prefs in selectors.digest_preferences(user_ids=user_ids):
        user = prefs.user
        for calendar_day, instant in occurrences_in_window(
            start=window_start,
            end=end,
            tz=zone(user.timezone),
            wall_time=selectors.DIGEST_LOCAL_TIME,
            weekday=selectors.DIGEST_WEEKDAY,
        ):
            year, week, _ = calendar_day.isocalendar()
            specs.append(
                NotificationSpec(
                    user=user,
                    kind=Notification.Kind.DIGEST,
                    title_key=messages.DIGEST_WEEKLY,
                    fingerprint=fingerprint(Notification.Kind.DIGEST, f"{year}-W{week:02d}"),
                    params={
                        "week_start": (calendar_day - dt.timedelta(days=7)).isoformat(),
                        "week_end": (calendar_day - dt.timedelta(days=1)).isoformat(),
                    },
                    link=APP_LINKS[Notification.Kind.DIGEST],
                    channels=(Delivery.Channel.EMAIL,),
                    scheduled_at=instant,
                )
            )
    notifications_create(specs)
    return {"digests": len(specs)}


# --- sending ---------------------------------------------------------------------------------


@dataclass
class _Result:
    state: str
    outcome: str
    transient: bool = False
    retry_after: int | None = None


@dataclass
class _Job:
    """One delivery with everything needed to send it, loaded for the whole batch at once."""

    delivery: Delivery
    prefs: NotificationPreferences
    subscriptions: list[PushSubscription]
    checked_in: bool
    # The insight sentence a detailed push quotes (loaded for the batch at once).
    detail: str | None = None


@dataclass
class _Batch:
    """Writes that can wait until the end of a batch: a SENT mark lost to a crash leaves the
    row SENDING, which the sweeper closes as ``interrupted``: never a second push."""

    sent: list[int] = field(default_factory=list)
    reached: list[Any] = field(default_factory=list)

    def flush(self) -> None:
        now = timezone.now()
        if self.sent:
            Delivery.objects.filter(pk__in=self.sent, state=Delivery.State.SENDING).update(
                state=Delivery.State.SENT, outcome="sent", sent_at=now, updated_at=now
            )
        if self.reached:
            PushSubscription.objects.filter(pk__in=self.reached).update(last_success_at=now)
        self.sent, self.reached = [], []


def _backoff_seconds(attempts: int, retry_after: int | None) -> int:
    delay = min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS)
    # Jitter: reps whose pushes failed together do not all come back in the same second.
    delay = delay // 2 + secrets.randbelow(delay // 2 + 1)
    if retry_after:
        delay = max(delay, min(retry_after, BACKOFF_MAX_SECONDS))
    return delay


def _reminder_day_over(notification: Notification, at: dt.datetime) -> bool:
    """Whether ``notification`` is a check-in reminder whose local day (day boundary
    included, as ``local_date`` counts it) is over at ``at``."""
    if notification.kind != Notification.Kind.REMINDER:
        return False
    day = dt.date.fromisoformat(notification.params["local_date"])
    return local_date(notification.user, at) != day


def _refusal(job: _Job, now: dt.datetime) -> str | None:
    """Why this delivery is not to be sent now (None: it is), settling what can be settled."""
    delivery = job.delivery
    if delivery.state != Delivery.State.PENDING:
        return f"already-{delivery.state}"
    if delivery.due_at > now:
        return "not-due"
    notification = delivery.notification
    pending = Delivery.objects.filter(pk=delivery.pk, state=Delivery.State.PENDING)
    if notification.read_at or notification.dismissed_at:
        pending.update(state=Delivery.State.SKIPPED, outcome="read-in-app", updated_at=now)
        return "read-in-app"
    # Preferences may have changed since the row was made: quiet hours apply at send time.
    held = None if notification.urgent else _hold_until(job.prefs, notification.user, now)
    # A check-in reminder is for its own local day: one whose day is over when it would go
    # out (a late retry, or held by quiet hours to the next morning) is not sent, as
    # reminders_prepare passes over one caught up too late. A day already checked in is
    # settled as "checked-in" (which also dismisses the inbox row) instead.
    if not job.checked_in and _reminder_day_over(notification, held or now):
        pending.update(state=Delivery.State.SKIPPED, outcome="too-late", updated_at=now)
        return "too-late"
    if held is not None and held > now:
        held_from = delivery.held_from or delivery.due_at
        pending.update(due_at=held, held_from=held_from, enqueued_at=None, updated_at=now)
        return "held"
    return None


def _claim(jobs: Sequence[_Job], now: dt.datetime) -> dict[int, str | None]:
    """Take rows for this worker (PENDING -> SENDING): delivery id -> None if taken, else why
    not.

    The take is one conditional UPDATE, committed before anything is sent: the database
    locks the rows, and of two workers (a duplicated task, an acks_late redelivery) only the
    first finds a row PENDING; the other sees the state the first left and sends nothing.
    Several rows per commit (``CLAIM_GROUP``) keep the commit cost per push small; a worker
    killed mid-group leaves at most that many rows unsent (SENDING, later ``interrupted``),
    never one sent twice.
    """
    results: dict[int, str | None] = {}
    eligible: list[_Job] = []
    for job in jobs:
        refused = _refusal(job, now)
        if refused is None:
            eligible.append(job)
        else:
            results[job.delivery.pk] = refused
    if not eligible:
        return results
    ids = [job.delivery.pk for job in eligible]
    at = connection.ops.adapt_datetimefield_value(now)
    table = connection.ops.quote_name(Delivery._meta.db_table)
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET state = %s, claimed_at = %s, updated_at = %s, "  # noqa: S608 - model's table
            f"attempts = attempts + 1 WHERE id IN ({marks}) AND state = %s AND due_at <= %s "
            "RETURNING id, attempts, done_subscriptions",
            [Delivery.State.SENDING, at, at, *ids, Delivery.State.PENDING, at],
        )
        taken = {int(row[0]): row for row in cursor.fetchall()}
    lost = [pk for pk in ids if pk not in taken]
    current = dict(Delivery.objects.filter(pk__in=lost).values_list("pk", "state")) if lost else {}
    for job in eligible:
        delivery = job.delivery
        row = taken.get(delivery.pk)
        if row is None:
            state = current.get(delivery.pk)
            results[delivery.pk] = "missing" if state is None else f"already-{state}"
            continue
        delivery.state = Delivery.State.SENDING
        delivery.claimed_at = now
        delivery.attempts = int(row[1])
        done = row[2]
        delivery.done_subscriptions = json.loads(done) if isinstance(done, str | bytes) else done
        results[delivery.pk] = None
    return results


def _finish(
    delivery: Delivery, result: _Result, *, now: dt.datetime, will_retry: bool, batch: _Batch
) -> str:
    if result.state == Delivery.State.SENT and not result.transient:
        batch.sent.append(delivery.pk)
        logger.info("delivery %s: sent", delivery.pk)
        return "sent"
    mine = Delivery.objects.filter(
        pk=delivery.pk, state=Delivery.State.SENDING, claimed_at=delivery.claimed_at
    )
    common = {"done_subscriptions": delivery.done_subscriptions, "updated_at": timezone.now()}
    if result.transient and delivery.attempts < MAX_ATTEMPTS:
        retry_in = _backoff_seconds(delivery.attempts, result.retry_after)
        retry_at = now + dt.timedelta(seconds=retry_in)
        mine.update(
            state=Delivery.State.PENDING,
            outcome=result.outcome,
            next_attempt_at=retry_at,
            # A task that retries itself holds the row; otherwise the sweeper takes it then.
            enqueued_at=retry_at if will_retry else None,
            **common,
        )
        logger.info(
            "delivery %s: %s, attempt %d, retry in %ss",
            delivery.pk,
            result.outcome,
            delivery.attempts,
            retry_in,
        )
        raise TransientDeliveryError(delivery.pk, result.outcome, retry_in)
    state = Delivery.State.FAILED if result.transient else result.state
    outcome = f"gave-up-{result.outcome}" if result.transient else result.outcome
    mine.update(state=state, outcome=outcome[:32], **common)
    logger.info("delivery %s: %s (%s)", delivery.pk, state, outcome)
    return outcome


def _push_payload(job: _Job) -> bytes:
    notification, prefs = job.delivery.notification, job.prefs
    text = messages.push_text(
        notification.title_key,
        notification.params,
        locale=notification.user.locale,
        detailed=prefs.push_detailed,
        body=notification.body,
        detail=job.detail if prefs.push_detailed else None,
    )
    return json.dumps(
        {
            "kind": notification.kind,
            "title": text.title,
            "body": text.body,
            "detailed": prefs.push_detailed,
            "url": notification.link or "/app/",
            "tag": notification.kind,
            "notification_id": str(notification.pk),
        },
        ensure_ascii=False,
    ).encode()


def _send_push(job: _Job, sender: push.PushSender | None, batch: _Batch) -> _Result:
    delivery, prefs = job.delivery, job.prefs
    notification = delivery.notification
    if job.checked_in:
        # Checked in after the reminder was planned: no ping, and nothing left to act on.
        Notification.objects.filter(pk=notification.pk, dismissed_at__isnull=True).update(
            dismissed_at=timezone.now()
        )
        return _Result(Delivery.State.SKIPPED, "checked-in")
    if not prefs.push_enabled:
        return _Result(Delivery.State.SKIPPED, "push-off")
    config = push.vapid_config()
    if config is None:
        return _Result(Delivery.State.SKIPPED, "push-not-configured")
    done = {str(pk) for pk in delivery.done_subscriptions}
    subscriptions = [s for s in job.subscriptions if str(s.pk) not in done]
    if not subscriptions:
        if done:
            return _Result(Delivery.State.SENT, "sent")
        return _Result(Delivery.State.SKIPPED, "no-subscription")
    sender = sender or _sender(config)
    payload = _push_payload(job)
    codes: Counter[str] = Counter()
    transient: list[push.PushResult] = []
    for subscription in subscriptions:
        result = sender.send(
            push.PushTarget(subscription.endpoint, subscription.p256dh, subscription.auth),
            payload,
            ttl=PUSH_TTL_SECONDS.get(notification.kind, 24 * 3600),
            urgency="high" if notification.urgent else "normal",
            topic=delivery.fingerprint[:32],
        )
        codes[result.status] += 1
        if result.status == "ok":
            batch.reached.append(subscription.pk)
            delivery.done_subscriptions.append(str(subscription.pk))
        elif result.status == "gone":
            # The browser unsubscribed or the subscription expired: never try it again.
            PushSubscription.objects.filter(pk=subscription.pk).delete()
        elif result.status == "transient":
            transient.append(result)
    if transient:
        retry_after = max((r.retry_after_seconds or 0) for r in transient) or None
        return _Result(Delivery.State.PENDING, transient[0].code, True, retry_after)
    if delivery.done_subscriptions:
        return _Result(Delivery.State.SENT, "sent")
    if codes["gone"] and not codes["rejected"]:
        return _Result(Delivery.State.FAILED, "gone")
    return _Result(Delivery.State.FAILED, "rejected")


_SENDERS: dict[int, push.PushSender] = {}


def _sender(config: push.VapidConfig) -> push.PushSender:
    """One sender per VAPID identity per process: HTTP connections are reused across tasks."""
    key = id(config)
    if key not in _SENDERS:
        _SENDERS.clear()
        _SENDERS[key] = push.PushSender(config)
    return _SENDERS[key]


def _send_email(delivery: Delivery, prefs: NotificationPreferences) -> _Result:
    notification = delivery.notification
    user = notification.user
    if not prefs.email_digest:
        return _Result(Delivery.State.SKIPPED, "email-off")
    week_start = dt.date.fromisoformat(notification.params["week_start"])
    week_end = dt.date.fromisoformat(notification.params["week_end"])
    summary = selectors.digest_summary(user=user, week_start=week_start, week_end=week_end)
    if not summary["new_insights"] and not summary["checkin_days"]:
        return _Result(Delivery.State.SKIPPED, "empty")
    unsubscribe_url = email_unsubscribe_url(user=user)
    base = str(getattr(settings, "FRONTEND_BASE_URL", "")).rstrip("/")
    context = {
        **summary,
        "name": user.display_name or user.email,
        "app_url": base + (notification.link or "/app/"),
        "settings_url": base + "/app/settings",
        "unsubscribe_url": unsubscribe_url,
    }
    with translation.override(user.locale):
        text_body = render_to_string("notifications/email/digest.txt", context)
    message = EmailMultiAlternatives(
        subject=messages.email_subject(notification.title_key, locale=user.locale),
        body=text_body,
        to=[user.email],
        headers={
            # RFC 2369 / RFC 8058: mail clients show an unsubscribe button that POSTs here.
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )
    try:
        message.send()
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused):
        return _Result(Delivery.State.FAILED, "smtp-refused")
    except (smtplib.SMTPException, OSError):
        return _Result(Delivery.State.PENDING, "smtp-unavailable", True)
    return _Result(Delivery.State.SENT, "sent")


def _load(delivery_ids: Sequence[int]) -> list[tuple[int, _Job | None]]:
    """Everything a batch needs in a fixed number of queries: rows with their notification
    and rep, preferences, subscriptions, and which reminder days already have a check-in."""
    rows = {
        d.pk: d
        for d in Delivery.objects.select_related("notification__user").filter(
            pk__in=list(delivery_ids)
        )
    }
    user_ids = {str(d.notification.user_id) for d in rows.values()}
    prefs = selectors.preferences_for_users(user_ids=user_ids)
    subscriptions = selectors.push_subscriptions_for_users(user_ids=user_ids)
    reminder_days = {
        pk: (
            str(d.notification.user_id),
            dt.date.fromisoformat(d.notification.params["local_date"]),
        )
        for pk, d in rows.items()
        if d.notification.kind == Notification.Kind.REMINDER
    }
    checked_in = selectors.checked_in(user_days=reminder_days.values())
    details = selectors.notification_details(
        notifications=[
            d.notification
            for d in rows.values()
            if d.channel == Delivery.Channel.PUSH
            and prefs[str(d.notification.user_id)].push_detailed
        ]
    )
    loaded: list[tuple[int, _Job | None]] = []
    for delivery_id in delivery_ids:
        delivery = rows.get(delivery_id)
        if delivery is None:
            loaded.append((delivery_id, None))
            continue
        uid = str(delivery.notification.user_id)
        job = _Job(
            delivery=delivery,
            prefs=prefs[uid],
            subscriptions=subscriptions.get(uid, []),
            checked_in=reminder_days.get(delivery_id) in checked_in,
            detail=details.get(delivery.notification_id),
        )
        loaded.append((delivery_id, job))
    return loaded


def _send_claimed(
    job: _Job, *, now: dt.datetime, sender: push.PushSender | None, will_retry: bool, batch: _Batch
) -> str:
    if job.delivery.channel == Delivery.Channel.PUSH:
        result = _send_push(job, sender, batch)
    else:
        result = _send_email(job.delivery, job.prefs)
    return _finish(job.delivery, result, now=now, will_retry=will_retry, batch=batch)


def delivery_send(
    *, delivery_id: int, sender: push.PushSender | None = None, will_retry: bool = False
) -> str:
    """Send one delivery if it is due and nobody else has it; returns a short result code.

    Raises :class:`TransientDeliveryError` after a transient failure (the row is PENDING
    again with its next attempt time); ``will_retry`` says the caller retries it itself.
    """
    [(_, job)] = _load([delivery_id])
    if job is None:
        return "missing"
    now = timezone.now()
    refused = _claim([job], now)[delivery_id]
    if refused is not None:
        logger.info("delivery %s not sent: %s", delivery_id, refused)
        return refused
    batch = _Batch()
    try:
        return _send_claimed(job, now=now, sender=sender, will_retry=will_retry, batch=batch)
    finally:
        batch.flush()


def deliveries_send(*, delivery_ids: Sequence[int]) -> dict[str, int]:
    """Send a batch: loaded at once, claimed a group at a time; a transient failure leaves
    that row to the sweeper. A repeated id is counted as ``duplicate`` and sent at most once."""
    counts: Counter[str] = Counter()
    unique = list(dict.fromkeys(delivery_ids))
    if len(unique) < len(delivery_ids):
        counts["duplicate"] = len(delivery_ids) - len(unique)
    jobs: list[_Job] = []
    for _delivery_id, job in _load(unique):
        if job is None:
            counts["missing"] += 1
        else:
            jobs.append(job)
    batch = _Batch()
    try:
        for start in range(0, len(jobs), CLAIM_GROUP):
            group = jobs[start : start + CLAIM_GROUP]
            now = timezone.now()
            claimed = _claim(group, now)
            for job in group:
                refused = claimed[job.delivery.pk]
                if refused is not None:
                    logger.info("delivery %s not sent: %s", job.delivery.pk, refused)
                    counts[refused] += 1
                    continue
                try:
                    outcome = _send_claimed(
                        job, now=now, sender=None, will_retry=False, batch=batch
                    )
                except TransientDeliveryError:
                    outcome = "retry-later"
                counts[outcome] += 1
            # SENT marks of this group are written before the next group is claimed.
            batch.flush()
    finally:
        batch.flush()
    return dict(counts)


def deliveries_sweep(*, now: dt.datetime) -> dict[str, int]:
    """Every minute: re-queue deliveries that are due and not queued (a lost task, a broker
    that was down, a retry whose time came, quiet hours that ended), and close SENDING rows
    whose worker died (``interrupted``: not sent again, so never twice)."""
    interrupted = Delivery.objects.filter(
        state=Delivery.State.SENDING, claimed_at__lt=now - CLAIM_LEASE
    ).update(state=Delivery.State.FAILED, outcome="interrupted", updated_at=now)
    if interrupted:
        logger.warning("%d deliveries interrupted mid-send; not resent", interrupted)
    with transaction.atomic():
        due_ids = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(state=Delivery.State.PENDING, due_at__lte=now)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - ENQUEUE_TTL))
            .order_by("due_at")
            .values_list("pk", flat=True)[:SWEEP_LIMIT]
        )
        if due_ids:
            Delivery.objects.filter(pk__in=due_ids).update(enqueued_at=now)
            transaction.on_commit(lambda: _enqueue_deliveries(due_ids))
    return {"queued": len(due_ids), "interrupted": interrupted}


# --- e-mail unsubscribe ----------------------------------------------------------------------


def email_unsubscribe_token(*, user: User) -> str:
    return signing.dumps({"u": str(user.pk), "c": "digest"}, salt=UNSUBSCRIBE_SALT, compress=True)


def email_unsubscribe_url(*, user: User) -> str:
    base = str(getattr(settings, "FRONTEND_BASE_URL", "")).rstrip("/")
    path = reverse("notifications-email-unsubscribe")
    return f"{base}{path}?{urlencode({'token': email_unsubscribe_token(user=user)})}"


def _unsubscribe_account_id(token: str) -> str | None:
    """The account id a signed unsubscribe token names (None: signed, but names none); an
    ApplicationError (400) for a forged, damaged or old one."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT, max_age=UNSUBSCRIBE_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise ApplicationError(
            "This unsubscribe link is too old. Turn off the weekly e-mail in the app's "
            "settings instead.",
            code="unsubscribe-link-expired",
            errors={"token": ["Expired."]},
        ) from exc
    except signing.BadSignature as exc:
        raise ApplicationError(
            "This unsubscribe link is not valid.",
            code="unsubscribe-link-invalid",
            errors={"token": ["Invalid signature."]},
        ) from exc
    user_id = data.get("u") if isinstance(data, dict) else None
    return user_id if isinstance(user_id, str) else None


def email_unsubscribe_signed_id(*, token: str) -> str | None:
    """The account id a genuine, unexpired unsubscribe token names, from its signature alone
    (no query); None for any other text."""
    try:
        return _unsubscribe_account_id(token)
    except ApplicationError:
        return None


def email_unsubscribe_user(*, token: str) -> User:
    """The rep a signed unsubscribe token names; a 400 for a forged, damaged or old one."""
    user_id = _unsubscribe_account_id(token)
    user = User.objects.filter(pk=user_id, is_active=True).first() if user_id else None
    if user is None:
        raise ApplicationError(
            "This unsubscribe link is not valid.",
            code="unsubscribe-link-invalid",
            errors={"token": ["Unknown account."]},
        )
    return user


def email_unsubscribe(*, token: str) -> User:
    user = email_unsubscribe_user(token=token)
    with transaction.atomic():
        prefs, _ = NotificationPreferences.objects.select_for_update().get_or_create(user=user)
        if prefs.email_digest:
            prefs.email_digest = False
            prefs.save(update_fields=["email_digest", "updated_at"])
        # A digest already planned for this week is not sent either.
        Delivery.objects.filter(
            notification__user=user,
            channel=Delivery.Channel.EMAIL,
            state=Delivery.State.PENDING,
        ).update(state=Delivery.State.SKIPPED, outcome="unsubscribed", updated_at=timezone.now())
    logger.info("user %s unsubscribed from the digest by link", user.pk)
    return user
