"""Web Push end to end against a fake push service on 127.0.0.1: encryption (RFC 8291),
VAPID (RFC 8292), neutral and detailed lock-screen text in en/nl, retries and 404/410."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
import time_machine

from apps.notifications import services, tasks
from apps.notifications.models import Delivery, PushSubscription
from tests.insights.sweep import make_insight
from tests.notifications.conftest import VAPID_SUBJECT
from tests.notifications.fakepush import FakePushService, verify_vapid

# Thursday 26 November 2026, 11:00 in Amsterdam: outside the default quiet hours.
NOON = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOON, tick=True) as traveller:
        yield traveller


def _insight_notification(user, **overrides):
    insight = make_insight(user, **overrides)
    notification = services.notify_new_insights(user_id=user.pk, insight_ids=[insight.pk])
    assert notification is not None
    return notification, notification.deliveries.get(channel="push")


@pytest.mark.django_db
def test_push_is_encrypted_for_the_browser_and_signed_with_vapid(
    user, push_service, subscribe, vapid_keys
) -> None:
    browser, _ = subscribe(user)
    notification, delivery = _insight_notification(user)

    assert tasks.deliver(delivery.pk) == "sent"

    assert len(push_service.received) == 1
    received = push_service.received[0]
    assert received.path == "/push/sub"
    # RFC 8291 aes128gcm: only the browser's private key opens it.
    assert b"insight" not in received.body
    payload = browser.decrypt(received)
    assert payload == {
        "kind": "insight",
        "title": "energytrack",
        "body": "A new insight is ready",
        "detailed": False,
        "url": "/app/insights",
        "tag": "insight",
        "notification_id": str(notification.pk),
    }
    claims = verify_vapid(
        received, audience=push_service.origin, public_key=vapid_keys[1], subject=VAPID_SUBJECT
    )
    assert claims["exp"] > NOON.timestamp()
    assert received.headers["ttl"] == str(24 * 3600)
    assert received.headers["urgency"] == "normal"
    assert received.headers["topic"] == delivery.fingerprint[:32]
    delivery.refresh_from_db()
    assert delivery.state == "sent" and delivery.attempts == 1 and delivery.sent_at is not None


@pytest.mark.django_db
def test_a_wrong_browser_key_cannot_read_the_push(user, push_service, subscribe) -> None:
    from http_ece import ECEException

    from tests.notifications.fakepush import FakeBrowser

    subscribe(user)
    _, delivery = _insight_notification(user)
    tasks.deliver(delivery.pk)
    with pytest.raises(ECEException, match="Decryption error"):
        FakeBrowser().decrypt(push_service.received[0])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("locale", "neutral", "detailed_title"),
    [
        ("en", "A new insight is ready", "A new insight is ready"),
        ("nl", "Er staat een nieuw inzicht klaar", "Er staat een nieuw inzicht klaar"),
    ],
)
def test_lock_screen_text_is_neutral_unless_the_rep_opts_in(
    user, push_service, subscribe, locale, neutral, detailed_title
) -> None:
    user.locale = locale
    user.save(update_fields=["locale"])
    browser, _ = subscribe(user)
    _, delivery = _insight_notification(user)
    tasks.deliver(delivery.pk)
    payload = browser.decrypt(push_service.received[0])
    assert payload["title"] == "energytrack"
    assert payload["body"] == neutral
    assert "drink" not in payload["body"] and "drankje" not in payload["body"]

    services.preferences_update(user=user, push_detailed=True)
    _, second = _insight_notification(user, fingerprint="second-finding")
    tasks.deliver(second.pk)
    payload = browser.decrypt(push_service.received[1])
    assert payload["detailed"] is True
    assert payload["title"] == detailed_title
    # The insight's own sentence, in the rep's language.
    expected = "drinks" if locale == "en" else "drankjes"
    assert expected in payload["body"], payload["body"]


@pytest.mark.django_db
def test_several_new_insights_make_one_notification_and_one_push(
    user, push_service, subscribe
) -> None:
    user.locale = "nl"
    user.save(update_fields=["locale"])
    browser, _ = subscribe(user)
    insights = [make_insight(user, fingerprint=f"f{i}") for i in range(3)]
    notification = services.notify_new_insights(
        user_id=user.pk, insight_ids=[i.pk for i in insights]
    )
    again = services.notify_new_insights(
        user_id=user.pk, insight_ids=[i.pk for i in reversed(insights)]
    )
    assert again.pk == notification.pk
    tasks.deliver(notification.deliveries.get().pk)
    assert len(push_service.received) == 1
    assert browser.decrypt(push_service.received[0])["body"] == "Er staan 3 nieuwe inzichten klaar"


@pytest.mark.django_db
def test_push_goes_to_every_browser_of_the_rep(user, push_service, subscribe) -> None:
    phone, _ = subscribe(user, "phone")
    laptop, _ = subscribe(user, "laptop")
    _, delivery = _insight_notification(user)
    assert tasks.deliver(delivery.pk) == "sent"
    assert phone.decrypt(push_service.to("phone")[0])["body"] == "A new insight is ready"
    assert laptop.decrypt(push_service.to("laptop")[0])["body"] == "A new insight is ready"


@pytest.mark.django_db
@pytest.mark.parametrize("status", [404, 410])
def test_gone_subscription_is_deleted(user, push_service, subscribe, status) -> None:
    subscribe(user, "old")
    subscribe(user, "new")
    push_service.scripted["/push/old"] = [status]
    _, delivery = _insight_notification(user)

    assert tasks.deliver(delivery.pk) == "sent"

    assert list(PushSubscription.objects.filter(user=user).values_list("endpoint", flat=True)) == [
        push_service.endpoint("new")
    ]
    # The next notification goes only to the browser that still exists.
    _, second = _insight_notification(user, fingerprint="second")
    tasks.deliver(second.pk)
    assert len(push_service.to("old")) == 1
    assert len(push_service.to("new")) == 2


@pytest.mark.django_db
def test_410_on_the_only_subscription_fails_the_delivery_and_removes_it(
    user, push_service, subscribe
) -> None:
    subscribe(user)
    push_service.scripted["/push/sub"] = [410]
    _, delivery = _insight_notification(user)
    assert tasks.deliver(delivery.pk) == "gone"
    delivery.refresh_from_db()
    assert delivery.state == "failed"
    assert not PushSubscription.objects.filter(user=user).exists()
    # The inbox row is still there for the rep.
    assert delivery.notification.read_at is None


@pytest.mark.django_db
def test_transient_errors_are_retried_with_backoff_until_sent(
    user, push_service, subscribe
) -> None:
    browser, _ = subscribe(user)
    push_service.scripted["/push/sub"] = [500, 503, 429]
    _, delivery = _insight_notification(user)

    # Eager apply runs Celery's retries at once (countdown is not waited for).
    result = tasks.deliver.apply(args=[delivery.pk])

    assert result.get() == "sent"
    assert [r.status for r in push_service.received] == [500, 503, 429, 201]
    assert browser.decrypt(push_service.received[-1])["body"] == "A new insight is ready"
    delivery.refresh_from_db()
    assert delivery.state == "sent" and delivery.attempts == 4


@pytest.mark.django_db
def test_a_transient_failure_backs_off_and_keeps_the_row_pending(
    user, push_service, subscribe
) -> None:
    subscribe(user)
    push_service.scripted["/push/sub"] = [503]
    _, delivery = _insight_notification(user)
    with pytest.raises(services.TransientDeliveryError) as info:
        services.delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.state == "pending"
    assert delivery.outcome == "http-503"
    assert 15 <= info.value.retry_in <= 30
    assert delivery.next_attempt_at is not None
    assert dt.timedelta(seconds=14) < delivery.next_attempt_at - NOON < dt.timedelta(seconds=40)


@pytest.mark.django_db
def test_retry_after_from_the_push_service_is_respected(user, push_service, subscribe) -> None:
    subscribe(user)
    _, delivery = _insight_notification(user)
    push_service.scripted["/push/sub"] = [429]
    push_service.retry_after = "120"
    with pytest.raises(services.TransientDeliveryError) as info:
        services.delivery_send(delivery_id=delivery.pk)
    assert info.value.retry_in >= 120


@pytest.mark.django_db
def test_retry_after_as_an_http_date_is_respected(
    user: Any, push_service: FakePushService, subscribe: Any
) -> None:
    from email.utils import format_datetime

    subscribe(user)
    _, delivery = _insight_notification(user)
    push_service.scripted["/push/sub"] = [503]
    # RFC 9110 §10.2.3: Retry-After is delay-seconds or an HTTP-date.
    push_service.retry_after = format_datetime(NOON + dt.timedelta(minutes=10), usegmt=True)
    with pytest.raises(services.TransientDeliveryError) as info:
        services.delivery_send(delivery_id=delivery.pk)
    assert 590 <= info.value.retry_in <= 600


@pytest.mark.django_db
def test_connection_refused_is_transient(user, subscribe, push_service) -> None:
    import socket

    from tests.notifications.fakepush import FakeBrowser

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    browser = FakeBrowser()
    services.push_subscription_upsert(
        user=user,
        endpoint=f"http://127.0.0.1:{port}/push/down",
        p256dh=browser.p256dh,
        auth=browser.auth,
    )
    _, delivery = _insight_notification(user)
    assert tasks.deliver_batch([delivery.pk]) == {"retry-later": 1}
    delivery.refresh_from_db()
    assert (delivery.state, delivery.outcome) == ("pending", "connection")


@pytest.mark.django_db
def test_gives_up_after_the_last_attempt(user, push_service, subscribe) -> None:
    subscribe(user)
    push_service.scripted["/push/sub"] = [500] * services.MAX_ATTEMPTS
    _, delivery = _insight_notification(user)
    for _ in range(services.MAX_ATTEMPTS - 1):
        with pytest.raises(services.TransientDeliveryError):
            services.delivery_send(delivery_id=delivery.pk)
    assert services.delivery_send(delivery_id=delivery.pk) == "gave-up-http-500"
    delivery.refresh_from_db()
    assert delivery.state == "failed" and delivery.attempts == services.MAX_ATTEMPTS


@pytest.mark.django_db
def test_other_4xx_is_not_retried(user, push_service, subscribe) -> None:
    subscribe(user)
    push_service.scripted["/push/sub"] = [403]
    _, delivery = _insight_notification(user)
    assert services.delivery_send(delivery_id=delivery.pk) == "rejected"
    assert len(push_service.received) == 1
    assert PushSubscription.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_duplicate_task_sends_one_push(user, push_service, subscribe) -> None:
    subscribe(user)
    _, delivery = _insight_notification(user)
    assert tasks.deliver(delivery.pk) == "sent"
    assert tasks.deliver(delivery.pk) == "already-sent"
    assert tasks.deliver_batch([delivery.pk, delivery.pk]) == {"already-sent": 1, "duplicate": 1}
    assert len(push_service.received) == 1


@pytest.mark.django_db
def test_a_redelivered_task_after_a_crash_mid_send_sends_nothing(
    user, push_service, subscribe, clock
) -> None:
    """acks_late redelivery after a worker died between claiming and finishing: the row is
    SENDING, so the second run sends nothing; the sweeper closes it after the lease."""
    subscribe(user)
    _, delivery = _insight_notification(user)
    # What the dead worker left behind: the row claimed (it may or may not have posted).
    Delivery.objects.filter(pk=delivery.pk).update(
        state="sending", claimed_at=dt.datetime.now(tz=dt.UTC), attempts=1
    )

    assert tasks.deliver(delivery.pk) == "already-sending"
    assert push_service.received == []

    clock.shift(services.CLAIM_LEASE + dt.timedelta(minutes=1))
    assert services.deliveries_sweep(now=dt.datetime.now(tz=dt.UTC))["interrupted"] == 1
    delivery.refresh_from_db()
    assert (delivery.state, delivery.outcome) == ("failed", "interrupted")
    assert tasks.deliver(delivery.pk) == "already-failed"
    assert push_service.received == []


@pytest.mark.django_db
def test_no_subscription_or_push_off_skips_without_error(user, push_service, subscribe) -> None:
    insight = make_insight(user)
    created = services.notify_new_insights(user_id=user.pk, insight_ids=[insight.pk])
    # Without a subscription there is nothing to deliver: inbox only.
    assert not created.deliveries.exists()

    subscribe(user)
    services.preferences_update(user=user, push_enabled=False)
    later = services.notify_new_insights(
        user_id=user.pk, insight_ids=[make_insight(user, fingerprint="x").pk]
    )
    assert not later.deliveries.exists()
    assert push_service.received == []


@pytest.mark.django_db
def test_logs_never_contain_message_text_or_endpoints(
    user, push_service, subscribe, caplog
) -> None:
    services.preferences_update(user=user, push_detailed=True)
    subscribe(user, "secret-endpoint-token")
    push_service.scripted["/push/secret-endpoint-token"] = [500]
    _, delivery = _insight_notification(user)
    # Everything at the production level (INFO), and our own code at DEBUG too.
    with caplog.at_level(logging.INFO), caplog.at_level(logging.DEBUG, logger="apps"):
        tasks.deliver.apply(args=[delivery.pk]).get()
    text = caplog.text
    assert str(delivery.pk) in text
    for secret in ("drinks", "insight is ready", "secret-endpoint-token", "energy"):
        assert secret not in text, secret


@pytest.mark.django_db
def test_send_time_check_refuses_a_loopback_endpoint_once_loopback_is_off(
    user, push_service, subscribe, settings
) -> None:
    subscribe(user)
    _, delivery = _insight_notification(user)
    settings.PUSH_ALLOW_LOOPBACK = False
    settings.DEBUG = False
    assert tasks.deliver(delivery.pk) == "rejected"
    assert push_service.received == []


@pytest.mark.django_db
def test_push_without_vapid_keys_is_skipped(user, push_service, subscribe, settings) -> None:
    subscribe(user)
    _, delivery = _insight_notification(user)
    settings.VAPID_PRIVATE_KEY = ""
    assert tasks.deliver(delivery.pk) == "push-not-configured"
    assert push_service.received == []


def test_a_name_that_points_elsewhere_at_connect_time_gets_no_request(settings: Any) -> None:
    """DNS rebinding: the check saw a public address, the connection would reach loopback.
    The address actually connected to is checked before a byte of the request is sent."""
    import socket

    from apps.notifications import push
    from tests.notifications.fakepush import FakeBrowser

    settings.PUSH_ALLOW_LOOPBACK = False
    settings.DEBUG = False
    config = push.vapid_config()
    assert config is not None
    # The name's first answer (the check) is public; the operating system's next answer
    # (the connection) is 127.0.0.1: "localhost" plays the rebound name.
    sender = push.PushSender(config, resolver=lambda host, port: ["93.184.215.14"])
    browser = FakeBrowser()
    with socket.socket() as internal:
        internal.bind(("127.0.0.1", 0))
        internal.listen()
        internal.settimeout(0.5)
        port = internal.getsockname()[1]
        try:
            result = sender.send(
                push.PushTarget(f"https://localhost:{port}/admin", browser.p256dh, browser.auth),
                b"{}",
                ttl=60,
                urgency="normal",
                topic="rebinding",
            )
        finally:
            sender.close()
        received = b""
        try:
            connection, _ = internal.accept()
            with connection:
                connection.settimeout(0.5)
                received = connection.recv(4096)
        except TimeoutError:
            pass
    assert received == b""
    assert result == push.PushResult("rejected", "unsafe-endpoint")
