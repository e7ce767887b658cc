"""Export and erasure cover every notification table; nothing of one rep leaks to another."""

from __future__ import annotations

import pytest

from apps.core.sql import pk_param
from apps.notifications import services, tasks
from apps.notifications.models import (
    Delivery,
    Notification,
    NotificationPreferences,
    PushSubscription,
)
from apps.privacy.registry import covered_models
from apps.privacy.services import user_erase, user_export
from tests.insights.sweep import make_insight


def test_every_notification_model_is_covered() -> None:
    assert {Notification, Delivery, PushSubscription, NotificationPreferences} <= covered_models()


@pytest.mark.django_db
def test_export_and_erase(user, other_user, subscribe, push_service, settings) -> None:
    settings.FRONTEND_BASE_URL = "https://energytrack.test"
    services.preferences_update(user=user, push_detailed=True, quiet_hours_enabled=False)
    subscribe(user)
    subscribe(other_user, "theirs")
    notification = services.notify_new_insights(
        user_id=user.pk, insight_ids=[make_insight(user).pk]
    )
    tasks.deliver(notification.deliveries.get().pk)
    services.notification_create(
        user=other_user, kind="system", title_key="system.notice", fingerprint_key="x"
    )

    section = user_export(user=user)["notifications"]
    assert [n["id"] for n in section["notifications"]] == [str(notification.pk)]
    assert section["notifications"][0]["deliveries"][0]["state"] == "sent"
    assert section["push_subscriptions"][0]["endpoint"] == push_service.endpoint("sub")
    assert section["preferences"]["push_detailed"] is True
    assert "auth" not in section["push_subscriptions"][0]  # the browser's secret stays out

    user_erase(user=user)
    assert not Notification.objects.filter(user=user).exists()
    assert not Delivery.objects.filter(notification__user=user).exists()
    assert not PushSubscription.objects.filter(user=user).exists()
    assert not NotificationPreferences.objects.filter(user=user).exists()
    assert PushSubscription.objects.filter(user=other_user).count() == 1
    assert Notification.objects.filter(user=other_user).count() == 1


@pytest.mark.django_db
def test_system_notice_body_is_encrypted_at_rest(user) -> None:
    from django.db import connection

    notification = services.notification_create(
        user=user,
        kind="system",
        title_key="system.notice",
        fingerprint_key="n",
        body="A private sentence",
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT body FROM notifications_notification WHERE id = %s", [pk_param(notification)]
        )
        stored = cursor.fetchone()[0]
    assert "private" not in stored
    assert Notification.objects.get(pk=notification.pk).body == "A private sentence"
