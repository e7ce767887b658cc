"""The weekly job and the draft expiry job, called as Celery would call them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from apps.coaching import tasks
from apps.coaching.models import Summary
from tests.coaching.helpers import LAST_WEEK, NOW, draft, share
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_dispatch_fans_out_due_grants_in_chunks(user, monkeypatch):
    live = [share(user), share(UserFactory())]
    share(user, accept=False)  # still pending: nothing to summarise yet
    sent: list[dict[str, Any]] = []
    # The broker is the outside world here; the chunk task itself runs below.
    monkeypatch.setattr(
        tasks.draft_summaries_batch, "apply_async", lambda **kwargs: sent.append(kwargs)
    )
    monkeypatch.setattr(tasks, "FAN_OUT_CHUNK", 1)
    assert tasks.dispatch_weekly_summaries() == {"grants": 2, "chunks": 2}
    assert sorted(call["args"][0][0] for call in sent) == sorted(str(g.pk) for g in live)
    assert all(call["expires"] > 0 for call in sent)

    for call in sent:
        assert tasks.draft_summaries_batch(*call["args"]) == 1
        assert tasks.draft_summaries_batch(*call["args"]) == 0  # a retry is harmless
    assert sorted(Summary.objects.values_list("grant_id", "week_start")) == sorted(
        (g.pk, LAST_WEEK) for g in live
    )


def test_a_late_chunk_drafts_the_week_it_was_dispatched_for(user, clock):
    grant = share(user)
    dispatched = NOW.isoformat()
    clock.move_to(NOW + dt.timedelta(days=7))  # the worker was down for a week
    assert tasks.draft_summaries_batch([str(grant.pk)], dispatched) == 1
    assert Summary.objects.get().week_start == LAST_WEEK


def test_a_week_is_due_from_monday_six_in_the_reps_zone(clock, monkeypatch):
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(
        tasks.draft_summaries_batch, "apply_async", lambda **kwargs: sent.append(kwargs)
    )
    kiwi = UserFactory(timezone="Pacific/Auckland")  # UTC+13 in November
    amsterdam = UserFactory(timezone="Europe/Amsterdam")
    kiwi_grant, ams_grant = share(kiwi), share(amsterdam)
    for grant in (kiwi_grant, ams_grant):
        tasks.draft_summaries_batch([str(grant.pk)])  # 2026-W47, as of Thursday
    assert tasks.dispatch_weekly_summaries() == {"grants": 0, "chunks": 0}  # nothing due

    # Sunday 29 Nov 16:30 UTC is Monday 05:30 in Auckland: the nightly run is not done yet.
    clock.move_to(dt.datetime(2026, 11, 29, 16, 30, tzinfo=dt.UTC))
    assert tasks.dispatch_weekly_summaries()["grants"] == 0
    # An hour later it is 06:30 there (still Sunday evening in Amsterdam).
    clock.move_to(dt.datetime(2026, 11, 29, 17, 30, tzinfo=dt.UTC))
    assert tasks.dispatch_weekly_summaries()["grants"] == 1
    assert sent[-1]["args"][0] == [str(kiwi_grant.pk)]
    assert tasks.draft_summaries_batch(*sent[-1]["args"]) == 1
    assert Summary.objects.filter(grant=kiwi_grant).latest("week_start").week_start == dt.date(
        2026, 11, 23
    )
    assert tasks.dispatch_weekly_summaries()["grants"] == 0  # the next hour: already done
    # Monday 06:30 in Amsterdam.
    clock.move_to(dt.datetime(2026, 11, 30, 5, 30, tzinfo=dt.UTC))
    assert tasks.dispatch_weekly_summaries()["grants"] == 1
    assert sent[-1]["args"][0] == [str(ams_grant.pk)]


def test_expire_drafts_task(user, clock):
    summary = draft(share(user))
    assert tasks.expire_drafts() == 0
    clock.move_to(NOW + dt.timedelta(days=14, seconds=1))
    assert tasks.expire_drafts() == 1
    summary.refresh_from_db()
    assert summary.status == "expired"
