"""Daily sales-quality metrics: the selector the insight engine reads, and GET /daily."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from apps.performance import selectors, services, tasks
from apps.performance.models import DailyCallStats
from tests.core.problems import assert_problem
from tests.factories import UserFactory
from tests.performance.conftest import Org, client_for, data_file, post_import

pytestmark = pytest.mark.usefixtures("frozen")

DAY = dt.date(2026, 11, 16)


def _calls(user: Any, day: dt.date, made: int, connected: int, conversations: int) -> None:
    services.call_stats_upsert(
        user=user,
        stats_id=uuid.uuid4(),
        values={
            "local_date": day,
            "calls_made": made,
            "connected": connected,
            "conversations": conversations,
            "talk_minutes": conversations * 5,
        },
    )


def _meeting(user: Any, start: str, status: str = "held", **values: Any) -> None:
    services.meeting_upsert(
        user=user,
        meeting_id=uuid.uuid4(),
        values={"occurred_at": dt.datetime.fromisoformat(start), "status": status, **values},
    )


def test_metrics_of_one_day(user: Any) -> None:
    _calls(user, DAY, made=40, connected=10, conversations=4)
    _meeting(
        user,
        "2026-11-16T10:00:00+01:00",
        budget=True,
        authority=True,
        need=True,
        decision_maker_present=True,
        deal_value_cents=1_250_000,
        currency="EUR",
    )
    _meeting(user, "2026-11-16T13:00:00+01:00", budget=True)
    _meeting(user, "2026-11-16T15:00:00+01:00", status="no_show", budget=True, need=True)
    _meeting(user, "2026-11-16T16:00:00+01:00", status="cancelled")

    [row] = selectors.daily_quality(user=user, date_from=DAY, date_to=DAY)
    assert row["local_date"] == DAY
    assert row["calls"] == 40
    assert row["connected_calls"] == 10
    assert row["connect_rate"] == 0.25
    assert row["conversations"] == 4
    assert row["talk_minutes"] == 20
    assert row["meetings"] == 4
    assert row["meetings_held"] == 2
    assert row["meetings_no_show"] == 1
    assert row["qualified_meetings"] == 1
    assert row["qualified_share"] == 0.5
    assert row["mean_bant"] == 2.0  # (3 + 1) / 2 held meetings
    assert row["decision_maker_rate"] == 0.5
    assert row["deal_value"] == 1_250_000
    assert row["deal_value_currency"] == "EUR"
    assert row["call_source"] == "manual"
    assert row["meeting_source"] == "manual"


def test_days_without_calls_or_meetings_say_so_with_nulls(user: Any) -> None:
    _calls(user, DAY, made=0, connected=0, conversations=0)
    _meeting(user, "2026-11-17T10:00:00+01:00", status="no_show")
    rows = {row["local_date"]: row for row in selectors.daily_quality(
        user=user, date_from=DAY, date_to=DAY + dt.timedelta(days=5)
    )}  # fmt: skip
    assert set(rows) == {DAY, DAY + dt.timedelta(days=1)}
    calls_only, meetings_only = rows[DAY], rows[DAY + dt.timedelta(days=1)]
    assert calls_only["connect_rate"] is None  # 0 calls: no rate, not 0 %
    assert calls_only["meetings_held"] == 0 and calls_only["qualified_share"] is None
    assert meetings_only["calls"] is None and meetings_only["connect_rate"] is None
    assert meetings_only["mean_bant"] is None and meetings_only["decision_maker_rate"] is None


def test_a_day_mixing_currencies_has_no_single_currency(user: Any) -> None:
    _meeting(user, "2026-11-16T10:00:00+01:00", deal_value_cents=100, currency="EUR")
    _meeting(user, "2026-11-16T11:00:00+01:00", deal_value_cents=100, currency="USD")
    [row] = selectors.daily_quality(user=user, date_from=DAY, date_to=DAY)
    assert row["deal_value"] == 200
    assert row["deal_value_currency"] is None


def test_crm_call_figures_win_over_typed_ones(org: Org, media_root: Any) -> None:
    """Anna typed figures for 16 and 17 Nov; the HubSpot export has her calls of the 16th."""
    _calls(org.anna, DAY, made=40, connected=12, conversations=5)
    _calls(org.anna, DAY + dt.timedelta(days=1), made=7, connected=3, conversations=1)
    response = post_import(
        client_for(org.admin),
        data_file("hubspot_calls.csv"),
        format="hubspot_calls",
        team_id=str(org.team.pk),
    )
    assert response.status_code == 201, response.content
    rows = {row["local_date"]: row for row in selectors.daily_quality(
        user=org.anna, date_from=DAY, date_to=DAY + dt.timedelta(days=1)
    )}  # fmt: skip
    assert rows[DAY]["call_source"] == "csv"
    assert (rows[DAY]["calls"], rows[DAY]["connected_calls"]) == (4, 2)
    assert rows[DAY]["conversations"] == 1  # only the 6-minute call is over 2 minutes
    assert rows[DAY]["talk_minutes"] == 8  # 360 s + 95 s connected
    assert rows[DAY + dt.timedelta(days=1)]["call_source"] == "manual"
    assert rows[DAY + dt.timedelta(days=1)]["calls"] == 7
    # Both rows are kept: the typed figures are not lost, only outranked.
    assert DailyCallStats.objects.filter(user=org.anna, local_date=DAY).count() == 2


_MEETING_COLUMNS = {
    "budget": "BANT Budget",
    "authority": "BANT Authority",
    "need": "BANT Need",
    "timeline": "BANT Timeline",
    "decision_maker_present": "Decision maker",
    "deal_value": "Deal value",
}


def test_a_typed_meeting_imported_later_counts_once(org: Org, media_root: Any) -> None:
    """Anna typed her 14:00 meeting of the 16th and one on the 19th; the HubSpot export then
    brings the 16th's meetings (the typed one among them) and nothing of the 19th."""
    _meeting(org.anna, "2026-11-16T14:00:00+01:00", budget=True, authority=True, need=True)
    _meeting(org.anna, "2026-11-19T10:00:00+01:00", budget=True)
    response = post_import(
        client_for(org.admin),
        data_file("hubspot_meetings.csv"),
        format="hubspot_meetings",
        team_id=str(org.team.pk),
        column_map=_MEETING_COLUMNS,
    )
    assert response.status_code == 201, response.content
    rows = {row["local_date"]: row for row in selectors.daily_quality(
        user=org.anna, date_from=DAY, date_to=DAY + dt.timedelta(days=3)
    )}  # fmt: skip
    # The CRM's two meetings of the 16th, not three: the typed one is outranked.
    assert rows[DAY]["meeting_source"] == "csv"
    assert (rows[DAY]["meetings"], rows[DAY]["meetings_held"]) == (2, 2)
    assert (rows[DAY]["qualified_meetings"], rows[DAY]["mean_bant"]) == (1, 2.0)
    # A day the CRM has nothing for keeps the typed meeting.
    day19 = rows[DAY + dt.timedelta(days=3)]
    assert (day19["meeting_source"], day19["meetings"]) == ("manual", 1)
    # Kept, only outranked: the rep's own list still has every meeting.
    assert selectors.meeting_list(user=org.anna, date_from=DAY, date_to=DAY).count() == 3


def test_batch_variant_is_keyed_by_user_and_day_in_constant_queries(
    db: None, django_assert_num_queries: Any
) -> None:
    def seed(count: int) -> list[Any]:
        users = [UserFactory() for _ in range(count)]
        for rep in users:
            for offset in range(3):
                _calls(rep, DAY + dt.timedelta(days=offset), made=10, connected=5, conversations=2)
                _meeting(rep, f"2026-11-{16 + offset}T10:00:00+01:00", budget=True)
        return users

    few = seed(2)
    with django_assert_num_queries(2):
        rows = selectors.daily_quality_for_users(
            user_ids=[u.pk for u in few], date_from=DAY, date_to=DAY + dt.timedelta(days=10)
        )
    assert set(rows) == {(u.pk, DAY + dt.timedelta(days=o)) for u in few for o in range(3)}
    assert rows[(few[0].pk, DAY)]["connect_rate"] == 0.5
    many = seed(12)
    with django_assert_num_queries(2):
        rows = selectors.daily_quality_for_users(
            user_ids=[u.pk for u in few + many],
            date_from=DAY,
            date_to=DAY + dt.timedelta(days=10),
        )
    assert len(rows) == 14 * 3
    assert selectors.daily_quality_for_users(user_ids=[], date_from=DAY, date_to=DAY) == {}


def test_daily_endpoint(api: Any, user: Any, other_user: Any) -> None:
    _calls(user, DAY, made=20, connected=5, conversations=1)
    _meeting(user, "2026-11-16T10:00:00+01:00", budget=True, authority=True, need=True)
    _calls(other_user, DAY, made=99, connected=9, conversations=9)
    body = api.get("/api/v1/performance/daily").json()
    assert body["date_from"] == "2026-10-27" and body["date_to"] == "2026-11-25"
    [day] = body["days"]
    assert day["local_date"] == "2026-11-16"
    assert (day["calls"], day["connect_rate"], day["qualified_meetings"]) == (20, 0.25, 1)
    assert "user_id" not in day
    narrow = api.get("/api/v1/performance/daily?date_from=2026-11-17&date_to=2026-11-20").json()
    assert narrow["days"] == []


@pytest.mark.parametrize(
    "query",
    [
        "date_from=2026-11-20&date_to=2026-11-01",
        "date_from=2025-01-01&date_to=2026-11-01",
        "date_from=16-11-2026",
        "colour=blue",
    ],
)
def test_daily_endpoint_bad_periods(api: Any, query: str) -> None:
    assert_problem(api.get(f"/api/v1/performance/daily?{query}"), 400)


def test_daily_endpoint_queries_do_not_grow_with_data(
    api: Any, user: Any, django_assert_max_num_queries: Any
) -> None:
    for offset in range(25):
        day = DAY - dt.timedelta(days=offset)
        _calls(user, day, made=10, connected=5, conversations=2)
        _meeting(user, f"{day.isoformat()}T10:00:00+01:00", budget=True)
    with django_assert_max_num_queries(4):
        body = api.get("/api/v1/performance/daily").json()
    assert len(body["days"]) == 21


def test_requalify_follows_a_changed_team_rule(org: Org) -> None:
    for need in (True, False):
        _meeting(org.anna, "2026-11-16T10:00:00+01:00", budget=True, authority=True, need=need)
    [row] = selectors.daily_quality(user=org.anna, date_from=DAY, date_to=DAY)
    assert row["qualified_meetings"] == 1  # BANT 3 and 2 against the default minimum 3
    org.team.qualified_min_bant = 2
    org.team.save(update_fields=["qualified_min_bant"])
    assert tasks.meetings_requalify([str(org.anna.pk), str(org.bram.pk)]) == 1
    [row] = selectors.daily_quality(user=org.anna, date_from=DAY, date_to=DAY)
    assert row["qualified_meetings"] == 2
    assert services.meetings_requalify(user_ids=[org.anna.pk]) == 0  # idempotent


def test_demo_seeder_is_repeatable(user: Any) -> None:
    import random

    services.seed_demo_performance(user=user, days=30, rng=random.Random(7))
    first = (
        DailyCallStats.objects.filter(user=user).count(),
        selectors.meeting_list(user=user).count(),
    )
    services.seed_demo_performance(user=user, days=30, rng=random.Random(7))
    assert first[0] > 15 and first[1] > 0
    assert (
        DailyCallStats.objects.filter(user=user).count(),
        selectors.meeting_list(user=user).count(),
    ) == first
    rows = selectors.daily_quality(
        user=user, date_from=dt.date(2026, 10, 1), date_to=dt.date(2026, 11, 30)
    )
    assert all(row["calls"] >= row["connected_calls"] for row in rows if row["calls"])


def test_a_new_bant_minimum_set_in_admin_requalifies_and_marks_the_days_stale(
    org: Org, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """Before, nothing ran when the minimum changed: the stored flags (and the insights and
    coaching summaries built on them) kept the old rule."""
    from django.test import Client

    from apps.insights.models import StaleDay

    sent: list[tuple[str, Any]] = []
    monkeypatch.setattr(
        "apps.core.tasks.app.send_task", lambda name, args, **kw: sent.append((name, args))
    )
    _meeting(org.anna, "2026-11-16T10:00:00+01:00", budget=True, authority=True, need=True)
    StaleDay.objects.all().delete()
    [row] = selectors.daily_quality(user=org.anna, date_from=DAY, date_to=DAY)
    assert row["qualified_meetings"] == 1  # BANT 3 against the default minimum 3
    operator = UserFactory(is_staff=True, is_superuser=True)
    admin = Client()
    admin.force_login(operator)
    form = {
        "name": org.team.name,
        "qualified_min_bant": "4",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
    }
    with django_capture_on_commit_callbacks(execute=True):
        saved = admin.post(f"/admin/accounts/team/{org.team.pk}/change/", form)
    assert saved.status_code == 302, saved.content[:500]

    [(name, (user_ids,))] = sent
    assert name == "apps.performance.tasks.meetings_requalify"
    assert str(org.anna.pk) in user_ids
    tasks.meetings_requalify(user_ids)
    [row] = selectors.daily_quality(user=org.anna, date_from=DAY, date_to=DAY)
    assert row["qualified_meetings"] == 0
    assert StaleDay.objects.filter(user=org.anna, local_date=DAY).exists()


def test_joining_a_stricter_team_requalifies(
    org: Org, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from apps.accounts.models import Role, Team
    from apps.accounts.services import invitation_accept, invitation_create

    sent: list[tuple[str, Any]] = []
    monkeypatch.setattr(
        "apps.core.tasks.app.send_task", lambda name, args, **kw: sent.append((name, args))
    )
    _meeting(org.anna, "2026-11-16T10:00:00+01:00", budget=True, authority=True, need=True)
    strict = Team.objects.create(name="Strict", qualified_min_bant=4)
    with django_capture_on_commit_callbacks(execute=True):
        _invitation, token = invitation_create(
            team=strict, email=org.anna.email, role=Role.REP, invited_by=org.admin
        )
        invitation_accept(token=token, user=org.anna)
    [(user_ids,)] = [args for name, args in sent if name.endswith("meetings_requalify")]
    tasks.meetings_requalify(user_ids)
    [row] = selectors.daily_quality(user=org.anna, date_from=DAY, date_to=DAY)
    assert row["qualified_meetings"] == 0


def test_a_day_of_deals_in_two_currencies_has_no_pipeline_value_for_insights(user: Any) -> None:
    """10,000 euro cents and 1,000,000 yen are not 1,010,000 of anything."""
    from apps.insights.models import DayFeature
    from apps.insights.services import day_features_rebuild

    _meeting(user, "2026-11-16T10:00:00+01:00", deal_value_cents=10_000, currency="EUR")
    _meeting(user, "2026-11-16T14:00:00+01:00", deal_value_cents=1_000_000, currency="JPY")
    _meeting(user, "2026-11-17T10:00:00+01:00", deal_value_cents=25_000, currency="EUR")
    day_features_rebuild(user_ids=[user.pk], date_from=DAY, date_to=DAY + dt.timedelta(days=1))

    features = dict(DayFeature.objects.filter(user=user).values_list("local_date", "deal_value"))
    assert features[DAY] is None
    assert features[DAY + dt.timedelta(days=1)] == 25000
