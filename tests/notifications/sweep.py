"""Notification objects for the privacy sweep (tests/test_privacy_sweep.py)."""

from __future__ import annotations

from apps.accounts.models import User
from apps.notifications import services
from tests.notifications.fakepush import FakeBrowser
from tests.sweep_types import SweepCase


def _notification(owner: User) -> list[SweepCase]:
    notification = services.notification_create(
        user=owner,
        kind="system",
        title_key="system.notice",
        fingerprint_key="sweep",
        body="Private words of the owner",
    )
    return [
        SweepCase(
            params={"notification_id": str(notification.pk)}, secret_ids=[str(notification.pk)]
        )
    ]


def _subscription(owner: User) -> list[SweepCase]:
    browser = FakeBrowser()
    # A loopback endpoint needs no DNS; the sweep runs with PUSH_ALLOW_LOOPBACK off, so it is
    # stored directly through the model's service path with loopback allowed.
    from django.test import override_settings

    with override_settings(PUSH_ALLOW_LOOPBACK=True):
        subscription, _ = services.push_subscription_upsert(
            user=owner,
            endpoint=f"http://127.0.0.1:9/push/{owner.pk}",
            p256dh=browser.p256dh,
            auth=browser.auth,
        )
    return [
        SweepCase(
            params={"subscription_id": str(subscription.pk)},
            secret_ids=[str(subscription.pk), str(owner.pk)],
        )
    ]


SWEEP = {
    "/api/v1/notifications/{notification_id}": _notification,
    "/api/v1/notifications/{notification_id}/read": _notification,
    "/api/v1/notifications/{notification_id}/dismiss": _notification,
    "/api/v1/notifications/push/subscriptions/{subscription_id}": _subscription,
}
