"""Consent withdrawal reaches what the insights derived from the category (DESIGN.md §2.4)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, cast

import pytest

from apps.accounts.models import User
from apps.insights.models import DayFeature, Insight, InsightProgress
from apps.insights.services import (
    day_features_rebuild,
    insights_compute,
    stale_days_drain,
)
from apps.notifications.models import Notification
from apps.privacy.services import consent_withdraw, user_export
from tests.factories import UserFactory
from tests.insights.sweep import make_insight
from tests.insights.test_django_side import _seed_pattern
from tests.privacy.races import withdraw_while

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2026, 11, 20)


def _progress(user: User, construct: str, outcome: str = "calls") -> InsightProgress:
    return InsightProgress.objects.create(
        user=user, construct=construct, outcome=outcome, days_logged=3, days_needed=30
    )


def test_withdrawal_with_deletion_deletes_the_categorys_insights_progress_and_values(
    consenting_user: User, api: Any
) -> None:
    _seed_pattern(consenting_user, 200, AS_OF)
    insights_compute(user_ids=[consenting_user.pk], as_of=AS_OF)
    assert Insight.objects.filter(user=consenting_user, construct="alcohol").exists()
    _progress(consenting_user, "alcohol")
    kept = _progress(consenting_user, "sleep")

    consent_withdraw(user=consenting_user, category="alcohol", delete_entries=True)

    # At once, in the withdrawal itself: not at the next stale-day drain or nightly run.
    assert not Insight.objects.filter(user=consenting_user, construct="alcohol").exists()
    assert not InsightProgress.objects.filter(user=consenting_user, construct="alcohol").exists()
    assert InsightProgress.objects.filter(pk=kept.pk).exists()
    assert not DayFeature.objects.filter(user=consenting_user, drinks__isnull=False).exists()
    assert DayFeature.objects.filter(user=consenting_user, energy_mean__isnull=False).exists()
    shown = api.get("/api/v1/insights/", {"include_old": "true"}).json()["insights"]
    assert not [i["message"] for i in shown if i["construct"] == "alcohol"]
    section = user_export(user=consenting_user)["insights"]
    assert not [i for i in section["insights"] if i["construct"] == "alcohol"]
    assert not [p for p in section["progress"] if p["construct"] == "alcohol"]
    assert not [d for d in section["day_features"] if d["drinks"] is not None]


def test_withdrawing_energy_deletes_insights_with_an_energy_outcome(consenting_user: User) -> None:
    """Energy is an outcome too: 'after 3+ drinks your energy averaged ...' is energy data."""
    alcohol_on_energy = make_insight(consenting_user)
    alcohol_on_calls = make_insight(consenting_user, outcome="calls")
    energy_on_calls = make_insight(consenting_user, construct="energy", factor="energy_mean")
    _progress(consenting_user, "sleep", outcome="energy_morning")

    consent_withdraw(user=consenting_user, category="energy", delete_entries=False)

    left = set(Insight.objects.filter(user=consenting_user).values_list("pk", flat=True))
    assert left == {alcohol_on_calls.pk}, (alcohol_on_energy.pk, energy_on_calls.pk)
    assert not InsightProgress.objects.filter(user=consenting_user).exists()


def test_nightly_run_leaves_out_a_category_without_consent(consenting_user: User) -> None:
    """Entries kept at the rep's choice after withdrawal are not analysed: no day values, no
    insight, no progress and no notification about the category."""
    _seed_pattern(consenting_user, 200, AS_OF)
    consent_withdraw(user=consenting_user, category="alcohol", delete_entries=False)
    stale_days_drain(max_seconds=30)

    insights_compute(user_ids=[consenting_user.pk], as_of=AS_OF)

    assert not Insight.objects.filter(user=consenting_user, construct="alcohol").exists()
    assert not InsightProgress.objects.filter(user=consenting_user, construct="alcohol").exists()
    assert not DayFeature.objects.filter(user=consenting_user, drinks__isnull=False).exists()
    assert DayFeature.objects.filter(user=consenting_user, energy_mean__isnull=False).count() == 200
    assert not Notification.objects.filter(
        user=consenting_user, kind=Notification.Kind.INSIGHT
    ).exists()


def test_nightly_run_removes_stored_insights_of_a_category_without_consent(
    consenting_user: User,
) -> None:
    """A row of a withheld category stored some other way (an import, a run that read the
    consent just before the withdrawal) goes at the next night."""
    _seed_pattern(consenting_user, 200, AS_OF)
    consent_withdraw(user=consenting_user, category="alcohol", delete_entries=False)
    stray = make_insight(consenting_user)

    insights_compute(user_ids=[consenting_user.pk], as_of=AS_OF)

    assert not Insight.objects.filter(pk=stray.pk).exists()


# SQLite splits a bulk insert by its parameter limit: more rows, more statements.
@pytest.mark.postgres
def test_consent_filter_keeps_the_rebuild_at_a_fixed_number_of_queries(
    grant_all: Callable[[User], None], django_assert_max_num_queries: Any
) -> None:
    first, last = AS_OF - dt.timedelta(days=30), AS_OF
    one = [cast(User, UserFactory())]
    many = [cast(User, UserFactory()) for _ in range(20)]
    for rep in [*one, *many]:
        grant_all(rep)
        _seed_pattern(rep, 30, AS_OF)
        consent_withdraw(user=rep, category="alcohol", delete_entries=False)

    with django_assert_max_num_queries(15) as few:
        day_features_rebuild(user_ids=[u.pk for u in one], date_from=first, date_to=last)
    with django_assert_max_num_queries(len(few.captured_queries)):
        day_features_rebuild(user_ids=[u.pk for u in many], date_from=first, date_to=last)
    assert not DayFeature.objects.filter(drinks__isnull=False).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_withdrawal_committed_while_the_nightly_run_computes_keeps_its_category_out(
    grant_all: Callable[[User], None],
) -> None:
    """The run stores what it derived in its own transaction, seconds after it read the data.
    A withdrawal that commits in between has already deleted the category's derived data: the
    run must not store it again. Here the withdrawal is under way (its consent row updated, not
    committed) when the run starts, and commits once the run waits for it, or has finished."""
    rep = cast(User, UserFactory())
    grant_all(rep)
    _seed_pattern(rep, 200, AS_OF)
    stale_days_drain(max_seconds=30)

    withdraw_while(rep, "alcohol", lambda: insights_compute(user_ids=[rep.pk], as_of=AS_OF))

    assert not Insight.objects.filter(user=rep, construct="alcohol").exists()
    assert not InsightProgress.objects.filter(user=rep, construct="alcohol").exists()
    assert not DayFeature.objects.filter(user=rep, drinks__isnull=False).exists()
    # The rest of the run went through.
    assert DayFeature.objects.filter(user=rep, energy_mean__isnull=False).count() == 200
