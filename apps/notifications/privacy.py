"""Export and erasure of a rep's notifications, deliveries, push subscriptions and
preferences (registered with apps.privacy)."""

from __future__ import annotations

from typing import Any

from apps.notifications.models import (
    Delivery,
    Notification,
    NotificationPreferences,
    PushSubscription,
)
from apps.notifications.selectors import preferences_to_dict
from apps.privacy.registry import PrivacyHandler, register


def export_user(user: Any) -> dict[str, Any]:
    notifications = list(
        Notification.objects.filter(user=user)
        .order_by("created_at", "id")
        .prefetch_related("deliveries")
    )
    prefs = NotificationPreferences.objects.filter(user=user).first()
    return {
        "notifications": [
            {
                "id": str(n.pk),
                "kind": n.kind,
                "title_key": n.title_key,
                "params": n.params,
                "body": n.body,
                "link": n.link,
                "urgent": n.urgent,
                "created_at": n.created_at.isoformat(),
                "read_at": n.read_at.isoformat() if n.read_at else None,
                "dismissed_at": n.dismissed_at.isoformat() if n.dismissed_at else None,
                "deliveries": [
                    {
                        "channel": d.channel,
                        "state": d.state,
                        "outcome": d.outcome,
                        "attempts": d.attempts,
                        "due_at": d.due_at.isoformat(),
                        "held_from": d.held_from.isoformat() if d.held_from else None,
                        "sent_at": d.sent_at.isoformat() if d.sent_at else None,
                    }
                    for d in sorted(n.deliveries.all(), key=lambda d: d.channel)
                ],
            }
            for n in notifications
        ],
        "push_subscriptions": [
            {
                "id": str(s.pk),
                "endpoint": s.endpoint,
                "user_agent": s.user_agent,
                "created_at": s.created_at.isoformat(),
                "last_success_at": s.last_success_at.isoformat() if s.last_success_at else None,
            }
            for s in PushSubscription.objects.filter(user=user).order_by("created_at", "id")
        ],
        "preferences": preferences_to_dict(prefs) if prefs is not None else None,
    }


def erase_user(user: Any) -> int:
    return (
        Delivery.objects.filter(notification__user=user).delete()[0]
        + Notification.objects.filter(user=user).delete()[0]
        + PushSubscription.objects.filter(user=user).delete()[0]
        + NotificationPreferences.objects.filter(user=user).delete()[0]
    )


register(
    PrivacyHandler(
        app_label="notifications",
        models=(Notification, Delivery, PushSubscription, NotificationPreferences),
        export_user=export_user,
        erase_user=erase_user,
    )
)
