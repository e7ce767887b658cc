"""Coaching objects for the privacy sweep (tests/test_privacy_sweep.py).

The owner appears on both sides of a share: as the rep (their grants and summaries, live and
draft) and as the coach of another rep (a summary approved for them). Nobody else (another
user, a coach without a share from the owner, the coach whose share was revoked, the owner's
org admin) may get anything but 404 on any of it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from apps.accounts.models import User
from apps.coaching import services
from apps.coaching.models import ShareGrant, Summary
from tests.factories import UserFactory
from tests.sweep_types import SweepCase

SCOPES = ["energy_trend", "sleep_regularity", "sales_quality_trend", "personal_note"]
# The personal note of every summary the owner shares: content no one else may ever see.
OWNER_NOTE = "sweep note of the owner"


def someone() -> User:
    """A user nobody shares with yet (factory_boy's types do not say it builds a User)."""
    user: Any = UserFactory()
    return user


def share(rep: User, coach: User, *, accept: bool = True) -> ShareGrant:
    """A share from ``rep`` to ``coach`` through the real life cycle (invite, then accept)."""
    grant, raw = services.grant_create(rep=rep, coach_email=coach.email, scopes=SCOPES)
    if accept:
        grant, _ = services.grant_accept(token=raw, user=coach)
    return grant


def weekly_summary(
    grant: ShareGrant,
    *,
    approve: bool,
    week_start: dt.date | None = None,
    note: str = OWNER_NOTE,
) -> Summary:
    """The drafted summary of one week (default: the last complete one), approved or not."""
    existing = list(Summary.objects.filter(grant=grant).values_list("pk", flat=True))
    assert services.summaries_draft(grant_ids=[grant.pk], week_start=week_start) == 1
    summary = Summary.objects.filter(grant=grant).exclude(pk__in=existing).get()
    summary = services.summary_update(summary=summary, note=note)
    return services.summary_approve(summary=summary) if approve else summary


def _ids(*objects: ShareGrant | Summary) -> list[str]:
    return [str(o.pk) for o in objects]


def _grants(owner: User) -> list[SweepCase]:
    live = share(owner, someone())
    summary = weekly_summary(live, approve=True)
    pending = share(owner, someone(), accept=False)
    return [
        SweepCase(params={"grant_id": str(live.pk)}, secret_ids=_ids(live, summary)),
        SweepCase(params={"grant_id": str(pending.pk)}, secret_ids=_ids(pending)),
    ]


def _summaries(owner: User) -> list[SweepCase]:
    grant = share(owner, someone())
    draft = weekly_summary(grant, approve=False)
    body = {"remove_sections": ["energy_trend"], "note": "written by someone else"}
    return [SweepCase(params={"summary_id": str(draft.pk)}, body=body, secret_ids=_ids(draft))]


def _coach_summaries(owner: User) -> list[SweepCase]:
    # Owner as the coach: a summary another rep approved for them.
    received = weekly_summary(share(someone(), owner), approve=True)
    # Owner as the rep: their own approved summary, addressed through the coach API.
    given = weekly_summary(share(owner, someone()), approve=True)
    return [
        SweepCase(params={"summary_id": str(received.pk)}, secret_ids=_ids(received)),
        SweepCase(params={"summary_id": str(given.pk)}, secret_ids=_ids(given)),
    ]


SWEEP = {
    "/api/v1/coaching/grants/{grant_id}": _grants,
    "/api/v1/coaching/grants/{grant_id}/revoke": _grants,
    "/api/v1/coaching/summaries/{summary_id}": _summaries,
    "/api/v1/coaching/summaries/{summary_id}/approve": _summaries,
    "/api/v1/coaching/coach/summaries/{summary_id}": _coach_summaries,
}
