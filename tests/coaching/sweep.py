"""Coaching objects for the privacy sweep (tests/test_privacy_sweep.py).

The owner appears on both sides of a share: as the rep (their grants and summaries, live and
draft) and as the coach of another rep (a summary approved for them). Another plain user must
get 404 on all of it.
"""

from __future__ import annotations

from apps.accounts.models import User
from apps.coaching import services
from apps.coaching.models import ShareGrant, Summary
from tests.factories import UserFactory
from tests.sweep_types import SweepCase

SCOPES = ["energy_trend", "sleep_regularity", "sales_quality_trend", "personal_note"]


def _grant(rep: User, coach: User, *, accept: bool = True) -> ShareGrant:
    grant, raw = services.grant_create(rep=rep, coach_email=coach.email, scopes=SCOPES)
    if accept:
        grant, _ = services.grant_accept(token=raw, user=coach)
    return grant


def _summary(grant: ShareGrant, *, approve: bool) -> Summary:
    services.summaries_draft(grant_ids=[grant.pk])
    summary = Summary.objects.get(grant=grant)
    summary = services.summary_update(summary=summary, note="sweep note of the owner")
    return services.summary_approve(summary=summary) if approve else summary


def _ids(*objects: ShareGrant | Summary) -> list[str]:
    return [str(o.pk) for o in objects]


def _grants(owner: User) -> list[SweepCase]:
    live = _grant(owner, UserFactory())
    summary = _summary(live, approve=True)
    pending = _grant(owner, UserFactory(), accept=False)
    return [
        SweepCase(params={"grant_id": str(live.pk)}, secret_ids=_ids(live, summary)),
        SweepCase(params={"grant_id": str(pending.pk)}, secret_ids=_ids(pending)),
    ]


def _summaries(owner: User) -> list[SweepCase]:
    grant = _grant(owner, UserFactory())
    draft = _summary(grant, approve=False)
    body = {"remove_sections": ["energy_trend"], "note": "written by someone else"}
    return [SweepCase(params={"summary_id": str(draft.pk)}, body=body, secret_ids=_ids(draft))]


def _coach_summaries(owner: User) -> list[SweepCase]:
    # Owner as the coach: a summary another rep approved for them.
    received = _summary(_grant(UserFactory(), owner), approve=True)
    # Owner as the rep: their own approved summary, addressed through the coach API.
    given = _summary(_grant(owner, UserFactory()), approve=True)
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
