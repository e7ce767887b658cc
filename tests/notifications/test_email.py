"""The weekly digest e-mail in the rep's language, and its signed one-click unsubscribe."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.core import mail

from apps.notifications import selectors, services, tasks
from apps.notifications.models import Delivery, NotificationPreferences
from tests.core.problems import assert_problem
from tests.insights.sweep import make_insight

UTC = dt.UTC
# Monday 30 November 2026, 08:00 CET is 07:00 UTC.
MONDAY_0800 = dt.datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
URL = "/api/v1/notifications/email/unsubscribe"


def _digest(user) -> Delivery:
    with time_machine.travel(MONDAY_0800 + dt.timedelta(seconds=1)):
        assert services.digests_prepare(user_ids=[user.pk], window_start=MONDAY_0800) == {
            "digests": 1
        }
        delivery = Delivery.objects.get(notification__user=user, channel="email")
        assert delivery.due_at == MONDAY_0800
        assert tasks.deliver(delivery.pk) == "sent"
    return delivery


@pytest.fixture
def digest_user(consenting_user, checkin):
    user = consenting_user
    services.preferences_update(user=user, email_digest=True)
    # Last week (Monday 23 to Sunday 29 November): three check-in days and two insights.
    with time_machine.travel(dt.datetime(2026, 11, 29, 18, 0, tzinfo=UTC)):
        for day in (23, 25, 29):
            checkin(user, dt.datetime(2026, 11, day, 9, 0, tzinfo=UTC))
    with time_machine.travel(dt.datetime(2026, 11, 25, 4, 0, tzinfo=UTC)):
        make_insight(user, fingerprint="a")
        make_insight(user, fingerprint="b")
    return user


def _unsubscribe_url(message) -> str:
    return re.search(r"<(https://[^>]+)>", message.extra_headers["List-Unsubscribe"]).group(1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("locale", "subject", "phrases"),
    [
        (
            "en",
            "Your week in energytrack",
            ["This week you have 2 new insights.", "You checked in on 3 days.", "Unsubscribe"],
        ),
        (
            "nl",
            "Je week in energytrack",
            [
                "Deze week heb je 2 nieuwe inzichten.",
                "Je hebt op 3 dagen ingecheckt.",
                "Afmelden met één klik:",
            ],
        ),
    ],
)
def test_weekly_digest_in_the_reps_language(digest_user, locale, subject, phrases) -> None:
    digest_user.locale = locale
    digest_user.save(update_fields=["locale"])
    _digest(digest_user)
    [message] = mail.outbox
    assert message.to == [digest_user.email]
    assert message.subject == subject
    for phrase in phrases:
        assert phrase in message.body, message.body
    # Counts only: no energy values, no insight sentences in a mailbox the employer may run.
    assert "drink" not in message.body and "energy 6" not in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert _unsubscribe_url(message) in message.body
    assert _unsubscribe_url(message).startswith("https://energytrack.test" + URL + "?token=")


@pytest.mark.django_db
def test_digest_is_weekly_and_never_twice(digest_user) -> None:
    _digest(digest_user)
    with time_machine.travel(MONDAY_0800 + dt.timedelta(minutes=5)):
        services.digests_prepare(user_ids=[digest_user.pk], window_start=MONDAY_0800)
        tasks.deliver_batch(list(Delivery.objects.values_list("pk", flat=True)))
    assert len(mail.outbox) == 1
    # Tuesday at 08:00 is not a digest time.
    tuesday = MONDAY_0800 + dt.timedelta(days=1)
    assert services.digests_prepare(user_ids=[digest_user.pk], window_start=tuesday) == {
        "digests": 0
    }


@pytest.mark.django_db
def test_empty_week_sends_no_digest(user) -> None:
    services.preferences_update(user=user, email_digest=True)
    with time_machine.travel(MONDAY_0800 + dt.timedelta(seconds=1)):
        services.digests_prepare(user_ids=[user.pk], window_start=MONDAY_0800)
        delivery = Delivery.objects.get(notification__user=user)
        assert tasks.deliver(delivery.pk) == "empty"
    assert mail.outbox == []


@pytest.mark.django_db
def test_smtp_down_is_retried_later(digest_user, monkeypatch) -> None:
    import smtplib

    def down(*args, **kwargs):
        raise smtplib.SMTPServerDisconnected("gone")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", down)
    with time_machine.travel(MONDAY_0800 + dt.timedelta(seconds=1)):
        services.digests_prepare(user_ids=[digest_user.pk], window_start=MONDAY_0800)
        delivery = Delivery.objects.get(notification__user=digest_user)
        assert tasks.deliver_batch([delivery.pk]) == {"retry-later": 1}
    delivery.refresh_from_db()
    assert (delivery.state, delivery.outcome) == ("pending", "smtp-unavailable")


@pytest.mark.django_db
def test_link_opened_in_a_browser_shows_a_confirm_page_and_changes_nothing(
    client, digest_user
) -> None:
    digest_user.locale = "nl"
    digest_user.save(update_fields=["locale"])
    _digest(digest_user)
    url = _unsubscribe_url(mail.outbox[0]).removeprefix("https://energytrack.test")
    response = client.get(url, HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Afmelden voor de wekelijkse e-mail?" in page
    assert '<form method="post">' in page
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]
    assert NotificationPreferences.objects.get(user=digest_user).email_digest is True

    token = parse_qs(urlsplit(url).query)["token"][0]
    done = client.post(url, {"token": token}, HTTP_ACCEPT="text/html")
    assert done.status_code == 200
    assert "Je bent afgemeld" in done.content.decode()
    assert NotificationPreferences.objects.get(user=digest_user).email_digest is False


@pytest.mark.django_db
def test_rfc8058_one_click_post(client, digest_user) -> None:
    _digest(digest_user)
    url = _unsubscribe_url(mail.outbox[0]).removeprefix("https://energytrack.test")
    response = client.post(
        url,
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"email_digest": False, "unsubscribed": True}
    assert NotificationPreferences.objects.get(user=digest_user).email_digest is False
    # Idempotent.
    assert client.post(url).json() == {"email_digest": False, "unsubscribed": True}
    # The check (GET) now says so.
    assert client.get(url).json() == {"email_digest": False, "unsubscribed": False}


@pytest.mark.django_db
def test_unsubscribe_also_stops_a_planned_digest(client, digest_user) -> None:
    with time_machine.travel(MONDAY_0800 - dt.timedelta(minutes=59)):
        services.digests_prepare(
            user_ids=[digest_user.pk], window_start=MONDAY_0800 - dt.timedelta(minutes=0)
        )
    delivery = Delivery.objects.get(notification__user=digest_user)
    token = services.email_unsubscribe_token(user=digest_user)
    assert client.post(URL + "?token=" + token).status_code == 200
    delivery.refresh_from_db()
    assert (delivery.state, delivery.outcome) == ("skipped", "unsubscribed")


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_forged_damaged_or_missing_tokens_are_refused(client, user, method) -> None:
    services.preferences_update(user=user, email_digest=True)
    token = services.email_unsubscribe_token(user=user)
    for bad in (token[:-2] + "xx", "nonsense"):
        response = getattr(client, method)(URL + "?token=" + bad)
        body = assert_problem(response, 400, fields=["token"])
        assert "not valid" in body["detail"]
    assert_problem(getattr(client, method)(URL + "?token="), 400, fields=["token"])
    assert_problem(getattr(client, method)(URL), 400, fields=["token"])
    # A token signed for something else (another salt) is not an unsubscribe token.
    from django.core import signing

    other = signing.dumps({"u": str(user.pk), "c": "digest"}, salt="something-else")
    assert_problem(getattr(client, method)(URL + "?token=" + other), 400)
    assert NotificationPreferences.objects.get(user=user).email_digest is True


@pytest.mark.django_db
def test_expired_token_is_refused_with_a_clear_message(client, user) -> None:
    services.preferences_update(user=user, email_digest=True)
    token = services.email_unsubscribe_token(user=user)
    with time_machine.travel(dt.datetime.now(tz=UTC) + dt.timedelta(days=400)):
        body = assert_problem(client.post(URL + "?token=" + token), 400, fields=["token"])
    assert "too old" in body["detail"]
    assert NotificationPreferences.objects.get(user=user).email_digest is True


@pytest.mark.django_db
def test_an_invalid_link_in_a_browser_gets_a_page_not_json(client) -> None:
    response = client.get(URL + "?token=nope", HTTP_ACCEPT="text/html")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert "This unsubscribe link is not valid" in response.content.decode()


@pytest.mark.django_db
def test_the_digests_counts_take_three_queries_whatever_the_week(
    digest_user, django_assert_num_queries
) -> None:
    with django_assert_num_queries(3):  # new insights, check-in days, unread
        summary = selectors.digest_summary(
            user=digest_user, week_start=dt.date(2026, 11, 23), week_end=dt.date(2026, 11, 29)
        )
    assert (summary["new_insights"], summary["checkin_days"]) == (2, 3)
