"""Day features, the nightly run and the insight/trend API, through services and HTTP."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from apps.core.time import local_date
from apps.insights import services
from apps.insights.models import DayFeature, Insight, InsightProgress
from apps.insights.services import day_features_rebuild, insights_compute
from apps.journal.services import EntryInput, entries_upsert
from tests.factories import UserFactory
from tests.insights.sweep import make_insight

AMS = ZoneInfo("Europe/Amsterdam")


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=AMS).astimezone(dt.UTC)


def _log(user, kind: str, day: dt.date, hour: int, minute: int = 0, **values) -> None:
    item = EntryInput(
        kind=kind, id=uuid.uuid4(), values={"occurred_at": _at(day, hour, minute), **values}
    )
    outcome = entries_upsert(user=user, items=[item])[0]
    assert outcome.result == "created", outcome


@pytest.mark.django_db
def test_day_features_follow_local_days_and_missing_rules(consenting_user) -> None:
    user = consenting_user
    day = dt.date(2026, 10, 14)  # a Wednesday
    _log(user, "sleep", day, 6, 30, bedtime=_at(day - dt.timedelta(days=1), 23, 15))
    _log(user, "energy", day, 9, level=7)
    _log(user, "energy", day, 14, level=4)
    _log(user, "energy", day, 16, level=5)
    _log(user, "alcohol", day, 22, standard_drinks=Decimal("2"))
    _log(user, "alcohol", day + dt.timedelta(days=1), 1, 30, standard_drinks=Decimal("1.5"))
    _log(user, "meal", day, 21, 30, heaviness="heavy")
    _log(user, "energy", day + dt.timedelta(days=2), 9, level=6)
    day_features_rebuild(user_ids=[user.pk], date_from=day, date_to=day + dt.timedelta(days=2))

    row = DayFeature.objects.get(user=user, local_date=day)
    assert row.sleep_minutes == 7 * 60 + 15
    assert row.bedtime_minutes == -45  # 23:15 is 45 minutes before midnight
    assert row.energy_mean == pytest.approx(16 / 3)
    assert row.energy_morning == 7 and row.energy_afternoon == pytest.approx(4.5)
    assert row.drinks == 3.5  # the 01:30 drink counts for the evening before
    assert row.heavy_meals == 1 and row.late_meal == 1
    assert row.working_day is True
    later = DayFeature.objects.get(user=user, local_date=day + dt.timedelta(days=2))
    assert later.drinks == 0  # a rep who logs drinks and logged none that day: zero
    assert later.heavy_meals is None  # no meal logged: unknown, not zero
    assert not DayFeature.objects.filter(user=user, local_date=day + dt.timedelta(days=1)).exists()


@pytest.mark.django_db
def test_rebuild_removes_days_without_entries(consenting_user) -> None:
    day = dt.date(2026, 10, 14)
    _log(consenting_user, "energy", day, 9, level=7)
    day_features_rebuild(user_ids=[consenting_user.pk], date_from=day, date_to=day)
    assert DayFeature.objects.filter(user=consenting_user).count() == 1
    from apps.journal.models import EnergyCheckin

    EnergyCheckin.objects.filter(user=consenting_user).delete()
    day_features_rebuild(user_ids=[consenting_user.pk], date_from=day, date_to=day)
    assert DayFeature.objects.filter(user=consenting_user).count() == 0


def _seed_pattern(user, days: int, as_of: dt.date, seed: int = 3) -> None:
    """Energy drops after 3+ drinks the evening before (a planted, realistic effect)."""
    rng = np.random.default_rng(seed)
    items = []
    drinks_by_day = {}
    for offset in range(days, 0, -1):
        day = as_of - dt.timedelta(days=offset)
        drinks = (
            float(rng.choice([0, 0, 0, 1, 2, 3, 4]))
            if day.weekday() in (4, 5)
            else float(rng.choice([0, 0, 0, 0, 0, 1, 3]))
        )
        drinks_by_day[day] = drinks
        previous = drinks_by_day.get(day - dt.timedelta(days=1), 0.0)
        energy = 6.3 - (1.5 if previous >= 3 else 0.0) + rng.normal(0, 0.8)
        items.append(
            EntryInput(
                kind="energy",
                id=uuid.uuid4(),
                values={"occurred_at": _at(day, 10), "level": int(min(9, max(1, round(energy))))},
            )
        )
        items.append(
            EntryInput(
                kind="alcohol",
                id=uuid.uuid4(),
                values={"occurred_at": _at(day, 21), "standard_drinks": Decimal(str(drinks))},
            )
        )
    outcomes = entries_upsert(user=user, items=items)
    assert all(o.result == "created" for o in outcomes)


@pytest.mark.django_db
def test_nightly_run_finds_a_planted_effect_and_is_idempotent(consenting_user) -> None:
    as_of = dt.date(2026, 11, 20)
    _seed_pattern(consenting_user, 200, as_of)
    first = insights_compute(user_ids=[consenting_user.pk], as_of=as_of)
    insights = list(Insight.objects.filter(user=consenting_user, current=True))
    alcohol = [i for i in insights if i.construct == "alcohol" and i.outcome == "energy_mean"]
    assert alcohol, [(i.construct, i.outcome) for i in insights]
    assert alcohol[0].direction == -1 and alcohol[0].mean_high < alcohol[0].mean_low
    assert alcohol[0].q_value <= 0.10
    assert first["new"] == len(insights)
    snapshot = sorted(
        Insight.objects.filter(user=consenting_user).values_list("fingerprint", "current")
    )
    second = insights_compute(user_ids=[consenting_user.pk], as_of=as_of)
    assert second["new"] == 0
    assert (
        sorted(Insight.objects.filter(user=consenting_user).values_list("fingerprint", "current"))
        == snapshot
    )


@pytest.mark.django_db
def test_no_data_gives_progress_not_findings(consenting_user) -> None:
    _log(consenting_user, "energy", dt.date(2026, 11, 18), 9, level=5)
    counts = insights_compute(user_ids=[consenting_user.pk], as_of=dt.date(2026, 11, 20))
    assert counts["findings"] == 0
    assert not Insight.objects.filter(user=consenting_user).exists()
    assert InsightProgress.objects.filter(user=consenting_user, days_needed__gt=0).exists()


@pytest.mark.django_db
def test_compute_insights_command(consenting_user, capsys) -> None:
    call_command("compute_insights", "--email", consenting_user.email, "--as-of", "2026-11-20")
    assert "reps: 1" in capsys.readouterr().out


@pytest.mark.django_db
def test_insight_api_renders_in_the_reps_language(api, consenting_user) -> None:
    insight = make_insight(consenting_user)
    body = api.get("/api/v1/insights/").json()
    assert body["insights"][0]["id"] == str(insight.pk)
    message = body["insights"][0]["message"]
    assert "3 or more drinks" in message and "4.9 instead of 6.3" in message
    assert "cause" in message and "causes" not in message.replace("a cause", "")
    consenting_user.locale = "nl"
    consenting_user.save(update_fields=["locale"])
    message_nl = api.get(f"/api/v1/insights/{insight.pk}").json()["message"]
    assert "drankjes" in message_nl and "4,9" in message_nl


@pytest.mark.django_db
def test_status_and_feedback(api, consenting_user) -> None:
    insight = make_insight(consenting_user)
    response = api.post(
        f"/api/v1/insights/{insight.pk}/feedback", {"feedback": "helpful"}, format="json"
    )
    assert response.status_code == 200 and response.json()["feedback"] == "helpful"
    bad = api.post(f"/api/v1/insights/{insight.pk}/status", {"status": "deleted"}, format="json")
    assert bad.status_code == 400 and "status" in bad.json()["errors"]
    api.post(f"/api/v1/insights/{insight.pk}/status", {"status": "dismissed"}, format="json")
    assert api.get("/api/v1/insights/").json()["insights"] == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "series",
    ["energy-daily", "energy-weekly", "energy-by-hour", "sleep-vs-energy", "qualified-vs-energy"],
)
def test_trend_series_use_one_query_whatever_the_range(
    api, consenting_user, series, django_assert_max_num_queries
) -> None:
    today = local_date(consenting_user, timezone.now())
    items = [
        EntryInput(
            kind="energy",
            id=uuid.uuid4(),
            values={"occurred_at": _at(today - dt.timedelta(days=d), 10), "level": 5},
        )
        for d in range(1, 300)
    ]
    entries_upsert(user=consenting_user, items=items)
    day_features_rebuild(
        user_ids=[consenting_user.pk], date_from=today - dt.timedelta(days=366), date_to=today
    )
    api.get("/api/v1/insights/trends/energy-daily?range=week")  # warm the session
    # session + user + the one series query
    with django_assert_max_num_queries(3):
        response = api.get(f"/api/v1/insights/trends/{series}?range=year")
    assert response.status_code == 200
    assert response.json()["series"] == series


@pytest.mark.django_db
def test_energy_daily_has_seven_day_average(api, consenting_user) -> None:
    today = local_date(consenting_user, timezone.now())
    for d, level in ((1, 3), (2, 5), (3, 7)):
        _log(consenting_user, "energy", today - dt.timedelta(days=d), 10, level=level)
    day_features_rebuild(
        user_ids=[consenting_user.pk], date_from=today - dt.timedelta(days=10), date_to=today
    )
    points = api.get("/api/v1/insights/trends/energy-daily?range=week").json()["points"]
    assert len(points) == 7
    by_date = {p["date"]: p for p in points}
    yesterday = by_date[(today - dt.timedelta(days=1)).isoformat()]
    assert yesterday["energy"] == 3 and yesterday["avg7"] == 5


@pytest.mark.django_db
def test_unknown_series_and_bad_range(api) -> None:
    assert api.get("/api/v1/insights/trends/alcohol-raw").status_code == 404
    response = api.get("/api/v1/insights/trends/energy-daily?range=decade")
    assert response.status_code == 400 and "range" in response.json()["errors"]


@pytest.mark.django_db
def test_a_chunk_spanning_two_dates_runs_each_rep_on_its_own_local_day(monkeypatch) -> None:
    # 15:00 UTC is 05:00 (the nightly hour) on Sunday in Kiritimati and on Saturday in Honolulu:
    # the dispatcher puts both in one chunk, and each must be computed "as of" its own day.
    kiritimati = UserFactory(timezone="Pacific/Kiritimati")
    honolulu = UserFactory(timezone="Pacific/Honolulu")
    calls: list[tuple[list[Any], dt.date]] = []
    real = services._compute_batch

    def recording(users, day, days):
        calls.append(([user.pk for user in users], day))
        return real(users, day, days)

    monkeypatch.setattr(services, "_compute_batch", recording)
    with time_machine.travel(dt.datetime(2026, 11, 21, 15, 0, tzinfo=dt.UTC), tick=False):
        insights_compute(user_ids=[kiritimati.pk, honolulu.pk])

    assert sorted(calls, key=lambda call: call[1]) == [
        ([honolulu.pk], dt.date(2026, 11, 21)),
        ([kiritimati.pk], dt.date(2026, 11, 22)),
    ]


@pytest.mark.django_db
def test_energy_by_hour_uses_the_clock_where_each_check_in_was_made(api, consenting_user) -> None:
    """A check-in at 09:00 in New York and one at 09:00 in Amsterdam both count for 9 o'clock;
    summer time moves the UTC hour, not the rep's hour."""
    today = local_date(consenting_user, timezone.now())
    new_york = ZoneInfo("America/New_York")
    summer = today - dt.timedelta(days=120)
    checkins = [
        (_at(today - dt.timedelta(days=2), 9), "Europe/Amsterdam", 4),
        (
            dt.datetime.combine(today - dt.timedelta(days=3), dt.time(9, 30), tzinfo=new_york),
            "America/New_York",
            6,
        ),
        (_at(summer, 9, 15), "Europe/Amsterdam", 8),
        (_at(today - dt.timedelta(days=2), 13), "Europe/Amsterdam", 3),
    ]
    entries_upsert(
        user=consenting_user,
        items=[
            EntryInput(
                kind="energy", id=uuid.uuid4(), values={"occurred_at": at, "tz": tz, "level": lvl}
            )
            for at, tz, lvl in checkins
        ],
    )

    response = api.get("/api/v1/insights/trends/energy-by-hour?range=year")

    assert response.status_code == 200, response.content
    assert response.json()["points"] == [
        {"hour": 9, "energy": 6.0, "n": 3},
        {"hour": 13, "energy": 3.0, "n": 1},
    ]
