"""The hook the insight engine calls, and the batch check-in lookup of reminders."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from apps.journal.selectors import has_checkin_on
from apps.notifications import selectors, services
from apps.notifications.models import Delivery, Notification
from tests.factories import UserFactory
from tests.insights.sweep import make_insight
from tests.notifications.fakepush import FakePushService

UTC = dt.UTC


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(dt.datetime(2026, 11, 26, 10, 0, tzinfo=UTC), tick=True) as t:
        yield t


@pytest.mark.django_db
def test_notify_new_insights_ignores_foreign_and_unknown_ids(user, other_user) -> None:
    mine = make_insight(user)
    theirs = make_insight(other_user, fingerprint="theirs")
    notification = services.notify_new_insights(
        user_id=user.pk, insight_ids=[mine.pk, theirs.pk, "00000000-0000-0000-0000-000000000000"]
    )
    assert notification.params == {"insight_ids": [str(mine.pk)], "count": 1}
    assert services.notify_new_insights(user_id=user.pk, insight_ids=[theirs.pk]) is None
    assert services.notify_new_insights(user_id=user.pk, insight_ids=[]) is None
    assert not Notification.objects.filter(user=other_user).exists()


@pytest.mark.django_db
def test_bulk_hook_makes_one_row_per_rep_in_few_queries(
    subscribe, django_assert_max_num_queries
) -> None:
    reps = [UserFactory() for _ in range(20)]
    for rep in reps:
        subscribe(rep, f"rep-{rep.pk}")
    by_user = {
        rep.pk: [make_insight(rep, fingerprint=f"{rep.pk}-{i}").pk for i in range(2)]
        for rep in reps
    }
    with django_assert_max_num_queries(12):
        assert services.notify_new_insights_bulk(insight_ids_by_user=by_user) == 20
    assert Notification.objects.count() == 20
    assert Delivery.objects.count() == 20
    # Re-running the same night changes nothing.
    services.notify_new_insights_bulk(insight_ids_by_user=by_user)
    assert Notification.objects.count() == 20 and Delivery.objects.count() == 20


@pytest.mark.django_db
def test_batch_check_in_lookup_agrees_with_the_journal(consenting_user, checkin) -> None:
    other = UserFactory()
    # 01:30 local on the 26th belongs to the journal day of the 25th (day boundary 04:00).
    checkin(consenting_user, dt.datetime(2026, 11, 26, 0, 30, tzinfo=UTC))
    checkin(consenting_user, dt.datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
    days = [dt.date(2026, 11, d) for d in range(23, 27)]
    pairs = [(u.pk, d) for u in (consenting_user, other) for d in days]
    found = selectors.checked_in(user_days=pairs)
    expected = {
        (str(uid), d)
        for uid, d in pairs
        if has_checkin_on(user=consenting_user if uid == consenting_user.pk else other, day=d)
    }
    assert (
        found
        == expected
        == {
            (str(consenting_user.pk), dt.date(2026, 11, 24)),
            (str(consenting_user.pk), dt.date(2026, 11, 25)),
        }
    )


@pytest.mark.django_db
@pytest.mark.parametrize("detailed", [False, True])
def test_a_batch_of_pushes_takes_a_fixed_number_of_queries(
    subscribe: Any,
    push_service: FakePushService,
    django_assert_max_num_queries: Any,
    detailed: bool,
) -> None:
    reps: list[Any] = [UserFactory() for _ in range(20)]
    for rep in reps:
        subscribe(rep, f"rep-{rep.pk}")
        services.preferences_update(user=rep, push_detailed=detailed)
    services.notify_new_insights_bulk(
        insight_ids_by_user={
            rep.pk: [make_insight(rep, fingerprint=str(rep.pk)).pk] for rep in reps
        }
    )
    ids = list(Delivery.objects.values_list("pk", flat=True))
    # Load (4) + claim per group of 10 (2 x 2) + SENT marks and last-success per group (2 x 2).
    with django_assert_max_num_queries(14):
        assert services.deliveries_send(delivery_ids=ids) == {"sent": 20}
    assert len(push_service.received) == 20
