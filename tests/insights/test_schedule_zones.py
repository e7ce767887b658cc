"""The nightly dispatcher picks every rep exactly once per local day, in every zone, even when
the hourly dispatch starts late (up to its 50-minute expiry)."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from apps.insights import tasks
from apps.insights.models import DayFeature
from apps.journal.services import EntryInput, entries_upsert
from tests.factories import UserFactory

UTC = dt.UTC


@pytest.fixture
def dispatched(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(rep id, window start) of every compute chunk the dispatcher sends (the broker is the
    outside world)."""
    sent: list[tuple[str, str]] = []

    def record(args: list, kwargs: dict | None = None, **options: object) -> None:
        assert options["expires"] == 50 * 60
        # A chunk without a window belongs to the hour the dispatch ran in.
        hour = timezone.now().replace(minute=0, second=0, microsecond=0).isoformat()
        window_start = (kwargs or {}).get("window_start", hour)
        sent.extend((rep_id, window_start) for rep_id in args[0])

    monkeypatch.setattr(tasks.compute_insights_batch, "apply_async", record)
    return sent


def run_dispatch_at(instant: dt.datetime) -> None:
    with time_machine.travel(instant, tick=False):
        tasks.dispatch_nightly_insights()


def at(year: int, month: int, day: int, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("tz_name", "runs"),
    [
        # India +5:30: 05:00 is 23:30 UTC. On time at 23:05 (04:35 local), then 25 min late at
        # 00:30 (06:00 local): the wall-clock check saw 05:xx at neither run.
        ("Asia/Kolkata", [at(2026, 1, 14, 23, 5), at(2026, 1, 15, 0, 30)]),
        # Nepal +5:45: 05:00 is 23:15 UTC; 10 min late at 00:15 is 06:00 local.
        ("Asia/Kathmandu", [at(2026, 1, 14, 23, 5), at(2026, 1, 15, 0, 15)]),
        # Chatham +12:45 in July (standard time): 05:00 is 16:15 UTC; 10 min late at 17:15.
        ("Pacific/Chatham", [at(2026, 7, 14, 16, 5), at(2026, 7, 14, 17, 15)]),
        # Newfoundland -3:30 in January: 05:00 is 08:30 UTC; 25 min late at 09:30.
        ("America/St_Johns", [at(2026, 1, 15, 8, 5), at(2026, 1, 15, 9, 30)]),
        # Adelaide +10:30 in January (summer time): 05:00 is 18:30 UTC the day before.
        ("Australia/Adelaide", [at(2026, 1, 14, 18, 5), at(2026, 1, 14, 19, 30)]),
        # A late run of the previous hour (23:40 = 05:10 in India) then an on-time run at
        # 00:05 (05:35): the wall-clock check picked the rep twice.
        ("Asia/Kolkata", [at(2026, 1, 14, 23, 40), at(2026, 1, 15, 0, 5)]),
        ("Asia/Kathmandu", [at(2026, 1, 14, 23, 50), at(2026, 1, 15, 0, 5)]),
    ],
)
def test_a_late_dispatch_picks_a_fractional_zone_exactly_once(
    dispatched: list[tuple[str, str]], tz_name: str, runs: list[dt.datetime]
) -> None:
    rep = UserFactory(timezone=tz_name)
    for instant in runs:
        run_dispatch_at(instant)

    assert [rep_id for rep_id, _ in dispatched] == [str(rep.pk)]
    [(_, window_start)] = dispatched
    start = dt.datetime.fromisoformat(window_start)
    five = start.astimezone(ZoneInfo(tz_name)).replace(hour=5, minute=0)
    assert start <= five.astimezone(UTC) < start + dt.timedelta(hours=1)


ZONES = (
    "Asia/Kolkata",  # +5:30
    "Asia/Kathmandu",  # +5:45
    "Pacific/Chatham",  # +13:45 / +12:45, DST ends 2026-04-05
    "America/St_Johns",  # -3:30 / -2:30, DST starts 2026-03-08
    "Australia/Adelaide",  # +10:30 / +9:30, DST ends 2026-04-05
    "Australia/Lord_Howe",  # +11 / +10:30: a half-hour DST shift
    "Europe/Amsterdam",  # DST starts 2026-03-29
    "America/New_York",
    "Pacific/Kiritimati",  # +14
    "Pacific/Pago_Pago",  # -11
)


@pytest.mark.django_db
def test_every_zone_is_dispatched_once_per_local_day_across_dst_with_late_runs(
    dispatched: list[tuple[str, str]],
) -> None:
    reps = {UserFactory(timezone=tz_name).pk: ZoneInfo(tz_name) for tz_name in ZONES}
    first, last = at(2026, 3, 5, 0, 0), at(2026, 4, 9, 0, 0)
    lateness = random.Random(20260305)  # fixed seed: reproducible lateness
    hour = first
    while hour < last:
        # Each hourly run starts 5 to 54 minutes past the hour (beat at :05, expiry 50 min).
        run_dispatch_at(hour + dt.timedelta(minutes=5 + lateness.randrange(50)))
        hour += dt.timedelta(hours=1)

    for rep_id, tz in reps.items():
        windows = [
            dt.datetime.fromisoformat(start) for pk, start in dispatched if pk == str(rep_id)
        ]
        local_days = Counter(start.astimezone(tz).date() for start in windows)
        # Every local day whose 05:00 lies inside the simulated hours, and each exactly once.
        expected = {
            day
            for offset in range(-1, 37)
            if first
            <= dt.datetime.combine(
                day := first.date() + dt.timedelta(days=offset), dt.time(5), tzinfo=tz
            ).astimezone(UTC)
            < last
        }
        assert set(local_days) == expected, tz
        assert set(local_days.values()) == {1}, tz
        for start in windows:
            five = dt.datetime.combine(start.astimezone(tz).date(), dt.time(5), tzinfo=tz)
            assert start <= five.astimezone(UTC) < start + dt.timedelta(hours=1), tz


@pytest.mark.django_db
def test_a_chunk_computes_the_local_day_of_its_window_even_if_it_starts_before_five(
    grant_all,
) -> None:
    # A rep whose day starts at 05:00: a chunk of the 23:00 UTC window for India can start at
    # 23:10 UTC (04:40 local, still "yesterday" on the rep's clock); it must compute the night
    # of 05:00 local, so yesterday's logged day is included.
    rep = UserFactory(timezone="Asia/Kolkata", day_boundary_hour=5)
    grant_all(rep)
    yesterday = dt.date(2026, 1, 14)
    entries_upsert(
        user=rep,
        items=[
            EntryInput(
                kind="energy",
                id=uuid.uuid4(),
                values={
                    "occurred_at": dt.datetime(2026, 1, 14, 12, 0, tzinfo=ZoneInfo("Asia/Kolkata")),
                    "level": 6,
                },
            )
        ],
    )
    with time_machine.travel(at(2026, 1, 14, 23, 10), tick=False):
        tasks.compute_insights_batch([str(rep.pk)], window_start=at(2026, 1, 14, 23, 0).isoformat())

    assert DayFeature.objects.filter(user=rep, local_date=yesterday).exists()
