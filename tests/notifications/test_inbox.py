"""The inbox over HTTP: list (cursor, newest first, in my language), mark read, dismiss,
read-all, unread count; another user's or an unknown id is a 404."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine

from apps.notifications import services
from apps.notifications.models import Delivery, Notification
from tests.core.problems import assert_problem
from tests.insights.sweep import make_insight

BASE = "/api/v1/notifications/"
NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


def _notice(user, key: str, body: str = "") -> Notification:
    return services.notification_create(
        user=user,
        kind="system",
        title_key="system.notice",
        fingerprint_key=key,
        body=body,
        link="/app/settings",
    )


def _ids_from(api, page: dict) -> list[str]:
    """The ids of this page and of every page after it, following ``next``."""
    seen = [row["id"] for row in page["results"]]
    while page["next"]:
        page = api.get(page["next"]).json()
        seen += [row["id"] for row in page["results"]]
    return seen


@pytest.mark.django_db
def test_list_is_newest_first_with_cursor_pages(api, user, clock) -> None:
    created = []
    for index in range(5):
        created.append(_notice(user, f"n{index}", body=f"Notice {index}"))
        clock.shift(dt.timedelta(minutes=1))
    first = api.get(BASE, {"page_size": 2})
    assert first.status_code == 200
    page = first.json()
    assert [row["id"] for row in page["results"]] == [str(created[4].pk), str(created[3].pk)]
    assert page["results"][0]["body"] == "Notice 4"
    assert page["results"][0]["title"] == "A message from energytrack"
    assert _ids_from(api, page) == [str(n.pk) for n in reversed(created)]


@pytest.mark.django_db
def test_insight_rows_show_the_insight_in_my_language(api, user) -> None:
    user.locale = "nl"
    user.save(update_fields=["locale"])
    insight = make_insight(user)
    services.notify_new_insights(user_id=user.pk, insight_ids=[insight.pk])
    row = api.get(BASE).json()["results"][0]
    assert row["kind"] == "insight"
    assert row["title"] == "Er staat een nieuw inzicht klaar"
    assert "drankjes" in row["body"]
    assert row["link"] == "/app/insights"
    assert row["read"] is False and row["deliveries"] == []


@pytest.mark.django_db
def test_mark_read_and_dismiss(api, user) -> None:
    notice = _notice(user, "a")
    other = _notice(user, "b")
    assert api.get(f"{BASE}unread-count").json() == {"unread": 2}

    response = api.post(f"{BASE}{notice.pk}/read")
    assert response.status_code == 200
    assert response.json()["read"] is True and response.json()["read_at"]
    # Idempotent: the first read time stays.
    again = api.post(f"{BASE}{notice.pk}/read").json()
    assert again["read_at"] == response.json()["read_at"]
    assert api.get(f"{BASE}unread-count").json() == {"unread": 1}
    assert [r["id"] for r in api.get(BASE, {"unread_only": "true"}).json()["results"]] == [
        str(other.pk)
    ]

    dismissed = api.post(f"{BASE}{other.pk}/dismiss").json()
    assert dismissed["dismissed"] is True and dismissed["read"] is True
    assert [r["id"] for r in api.get(BASE).json()["results"]] == [str(notice.pk)]
    everything = api.get(BASE, {"include_dismissed": "true"}).json()["results"]
    assert {r["id"] for r in everything} == {str(notice.pk), str(other.pk)}
    assert api.get(f"{BASE}{other.pk}").json()["dismissed"] is True


@pytest.mark.django_db
def test_read_all(api, user) -> None:
    for key in "abc":
        _notice(user, key)
    assert api.post(f"{BASE}read-all").json() == {"updated": 3}
    assert api.post(f"{BASE}read-all").json() == {"updated": 0}
    assert api.get(f"{BASE}unread-count").json() == {"unread": 0}


@pytest.mark.django_db
def test_reading_in_the_app_cancels_a_held_push(api, user, subscribe) -> None:
    subscribe(user)
    # 22:00 in Amsterdam: quiet hours, so the push waits until 07:30.
    with time_machine.travel(dt.datetime(2026, 11, 26, 21, 0, tzinfo=dt.UTC)):
        notification = services.notify_new_insights(
            user_id=user.pk, insight_ids=[make_insight(user).pk]
        )
    delivery = notification.deliveries.get()
    assert delivery.state == "pending"
    api.post(f"{BASE}{notification.pk}/read")
    delivery.refresh_from_db()
    assert (delivery.state, delivery.outcome) == ("skipped", "read-in-app")


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", ["", "/read", "/dismiss"])
def test_unknown_or_foreign_ids_are_404(api, user, other_user, suffix) -> None:
    theirs = _notice(other_user, "theirs")
    method = api.get if suffix == "" else api.post
    for notification_id in (theirs.pk, uuid.uuid4()):
        response = method(f"{BASE}{notification_id}{suffix}")
        assert_problem(response, 404)
        assert str(theirs.pk) not in response.content.decode()
    theirs.refresh_from_db()
    assert theirs.read_at is None and theirs.dismissed_at is None
    assert_problem(method(f"{BASE}not-a-uuid{suffix}"), 404)


@pytest.mark.django_db
def test_list_never_shows_other_users_rows(api, user, other_user) -> None:
    _notice(other_user, "theirs")
    mine = _notice(user, "mine")
    assert [r["id"] for r in api.get(BASE).json()["results"]] == [str(mine.pk)]
    assert api.get(f"{BASE}unread-count").json() == {"unread": 1}
    api.post(f"{BASE}read-all")
    assert Notification.objects.get(user=other_user).read_at is None


@pytest.mark.django_db
def test_date_range_filters_by_local_day(api, user, clock) -> None:
    # 23:30 in Amsterdam on the 25th is 22:30 UTC: it belongs to the local 25th.
    clock.move_to(dt.datetime(2026, 11, 25, 22, 30, tzinfo=dt.UTC))
    late = _notice(user, "late")
    clock.move_to(dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.UTC))
    next_day = _notice(user, "next")
    rows = api.get(BASE, {"date_from": "2026-11-25", "date_to": "2026-11-25"}).json()["results"]
    assert [r["id"] for r in rows] == [str(late.pk)]
    rows = api.get(BASE, {"date_from": "2026-11-26"}).json()["results"]
    assert [r["id"] for r in rows] == [str(next_day.pk)]
    assert_problem(api.get(BASE, {"date_from": "2026-11-27", "date_to": "2026-11-26"}), 400)
    assert_problem(api.get(BASE, {"unknown": "1"}), 400)


@pytest.mark.django_db
def test_list_query_count_does_not_grow_with_rows(
    api, user, subscribe, django_assert_max_num_queries
) -> None:
    subscribe(user)
    for index in range(30):
        services.notify_new_insights(
            user_id=user.pk, insight_ids=[make_insight(user, fingerprint=f"f{index}").pk]
        )
    with django_assert_max_num_queries(8):
        rows = api.get(BASE).json()["results"]
    assert len(rows) == 30
    assert all(r["deliveries"][0]["channel"] == "push" for r in rows)


@pytest.mark.django_db
def test_delivery_states_are_shown(api, user, subscribe, push_service) -> None:
    from apps.notifications import tasks

    subscribe(user)
    notification = services.notify_new_insights(
        user_id=user.pk, insight_ids=[make_insight(user).pk]
    )
    tasks.deliver(Delivery.objects.get(notification=notification).pk)
    row = api.get(f"{BASE}{notification.pk}").json()
    assert row["deliveries"][0]["state"] == "sent"
    assert row["deliveries"][0]["attempts"] == 1


@pytest.mark.django_db
def test_paging_rows_made_at_the_same_instant_neither_repeats_nor_hides_one(api, user) -> None:
    """Rows made together share created_at; a row dismissed between two pages shifted DRF's
    offset cursor, and the next page hid another row."""
    notices = [_notice(user, f"same{index}") for index in range(6)]
    Notification.objects.filter(pk__in=[n.pk for n in notices]).update(created_at=NOW)
    first = api.get(BASE, {"page_size": 3}).json()
    gone = first["results"][0]["id"]
    assert api.post(f"{BASE}{gone}/dismiss").status_code in (200, 204)

    seen = _ids_from(api, first)

    assert sorted(seen) == sorted(str(n.pk) for n in notices)
