"""The nightly dispatcher picks reps by their local clock; feature refreshes are debounced."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine
from django.utils import timezone

from apps.insights import services
from apps.insights.models import DayFeature, StaleDay
from apps.journal.services import EntryInput, entries_upsert
from tests.factories import UserFactory


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("utc_now", "due"),
    [
        # 04:00 UTC in January: 05:00 in Amsterdam (UTC+1), 23:00 in New York, 13:00 in Tokyo.
        (dt.datetime(2026, 1, 15, 4, 0, tzinfo=dt.UTC), {"Europe/Amsterdam"}),
        # 03:00 UTC in July: 05:00 in Amsterdam under summer time (UTC+2).
        (dt.datetime(2026, 7, 15, 3, 0, tzinfo=dt.UTC), {"Europe/Amsterdam"}),
        # 10:00 UTC in July: 05:00 in Chicago (CDT, UTC-5).
        (dt.datetime(2026, 7, 15, 10, 0, tzinfo=dt.UTC), {"America/Chicago"}),
        # 20:00 UTC: 05:00 the next morning in Tokyo (UTC+9, no DST).
        (dt.datetime(2026, 7, 15, 20, 0, tzinfo=dt.UTC), {"Asia/Tokyo"}),
    ],
)
def test_reps_are_due_at_five_in_their_own_zone(utc_now: dt.datetime, due: set[str]) -> None:
    reps = {
        tz: UserFactory(timezone=tz)
        for tz in ("Europe/Amsterdam", "America/Chicago", "Asia/Tokyo", "America/New_York")
    }
    ids = set(services.users_due_for_nightly(now=utc_now, local_hour=5))
    assert ids == {str(reps[tz].pk) for tz in due}


@pytest.mark.django_db
def test_dispatcher_fans_out_due_reps_in_chunks(monkeypatch) -> None:
    from apps.insights import tasks

    reps = [UserFactory(timezone="Europe/Amsterdam") for _ in range(3)]
    sent: list[tuple[list[str], dict]] = []
    monkeypatch.setattr(tasks, "FAN_OUT_CHUNK", 2)
    monkeypatch.setattr(
        tasks.compute_insights_batch,
        "apply_async",
        lambda args, **options: sent.append((args[0], options)),
    )
    with time_machine.travel(dt.datetime(2026, 1, 15, 4, 10, tzinfo=dt.UTC)):
        result = tasks.dispatch_nightly_insights()
    assert result == {"reps": 3, "chunks": 2}
    assert sorted(i for chunk, _ in sent for i in chunk) == sorted(str(r.pk) for r in reps)
    assert all(options["expires"] == 50 * 60 for _, options in sent)


@pytest.mark.django_db
def test_stale_days_are_recomputed_and_their_marks_drained(consenting_user) -> None:
    day = timezone.now() - dt.timedelta(days=2)
    entries_upsert(
        user=consenting_user,
        items=[EntryInput(kind="energy", id=uuid.uuid4(), values={"occurred_at": day, "level": 7})],
    )
    local = StaleDay.objects.get(user=consenting_user).local_date
    assert not DayFeature.objects.filter(user=consenting_user).exists()

    assert services.stale_days_refresh() == 1

    feature = DayFeature.objects.get(user=consenting_user, local_date=local)
    assert feature.energy_mean == 7
    assert not StaleDay.objects.exists()
    assert services.stale_days_refresh() == 0


@pytest.mark.django_db
def test_many_reps_marked_on_the_same_days_cost_a_fixed_number_of_queries(
    django_assert_max_num_queries, grant_all
) -> None:
    reps = [UserFactory() for _ in range(30)]
    day = timezone.now() - dt.timedelta(days=1)
    for rep in reps:
        grant_all(rep)
        entries_upsert(
            user=rep,
            items=[
                EntryInput(kind="energy", id=uuid.uuid4(), values={"occurred_at": day, "level": 6})
            ],
        )

    with django_assert_max_num_queries(30):
        assert services.stale_days_refresh() == 30

    assert DayFeature.objects.filter(energy_mean=6).count() == 30


@pytest.mark.django_db
def test_a_day_marked_again_during_its_recomputation_stays_marked(
    consenting_user, monkeypatch
) -> None:
    day = timezone.now() - dt.timedelta(days=2)
    entries_upsert(
        user=consenting_user,
        items=[EntryInput(kind="energy", id=uuid.uuid4(), values={"occurred_at": day, "level": 7})],
    )
    refresh = services.day_features_rebuild

    def refresh_while_the_rep_writes(**kwargs):
        done = refresh(**kwargs)
        # The rep logs again for the same day while its features are being computed.
        entries_upsert(
            user=consenting_user,
            items=[
                EntryInput(kind="energy", id=uuid.uuid4(), values={"occurred_at": day, "level": 1})
            ],
        )
        return done

    monkeypatch.setattr(services, "day_features_rebuild", refresh_while_the_rep_writes)
    assert services.stale_days_refresh() == 1
    assert StaleDay.objects.filter(user=consenting_user).count() == 1

    monkeypatch.setattr(services, "day_features_rebuild", refresh)
    assert services.stale_days_refresh() == 1
    assert DayFeature.objects.get(user=consenting_user).energy_mean == 4
    assert not StaleDay.objects.exists()


@pytest.mark.django_db
def test_many_reps_days_are_marked_stale_in_one_statement(django_assert_num_queries) -> None:
    from apps.insights.stale import days_mark_stale_many

    reps = [UserFactory() for _ in range(3)]
    day = dt.date(2026, 11, 20)
    days_mark_stale_many({reps[0].pk: [day]})
    before = StaleDay.objects.get(user=reps[0]).marked_at

    with django_assert_num_queries(1):
        days_mark_stale_many({rep.pk: [day, day + dt.timedelta(days=1)] for rep in reps})

    marks = {(m.user_id, m.local_date): m.marked_at for m in StaleDay.objects.all()}
    assert set(marks) == {(rep.pk, day + dt.timedelta(days=n)) for rep in reps for n in (0, 1)}
    # A day marked again keeps one mark, with the later time.
    assert marks[(reps[0].pk, day)] > before
    with django_assert_num_queries(0):
        days_mark_stale_many({reps[0].pk: []})
