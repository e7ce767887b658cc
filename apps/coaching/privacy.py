"""Export and erasure of coaching data, from both sides of a share.

The rep owns their grants, the summaries drafted from their data and the log of who read
them. A coach's export holds the shares they received and their own reads, but never the
content of a rep's summaries (that is the rep's health-related data; revoking must keep
working, so no copy leaves through the coach's export).

Erasing the rep deletes their grants, summaries and access log. Erasing the coach deletes
every grant to them (a share with a person who no longer exists is void), and with it the
summaries made for them and the log of their reads.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from apps.coaching.models import AccessLogEntry, ShareGrant, Summary
from apps.privacy.registry import PrivacyHandler, register


def export_user(user: Any) -> dict[str, Any]:
    return {
        "shares_given": list(
            ShareGrant.objects.filter(rep=user)
            .order_by("created_at", "id")
            .values(
                "id",
                "coach_email",
                "scopes",
                "insight_ids",
                "expires_at",
                "accepted_at",
                "revoked_at",
                "warnings",
                "created_at",
            )
        ),
        "summaries": [
            {
                "id": summary.pk,
                "share_id": summary.grant_id,
                "week_start": summary.week_start,
                "status": summary.status,
                "sections": summary.sections,
                "note": summary.note,
                "draft_expires_at": summary.draft_expires_at,
                "approved_at": summary.approved_at,
                "created_at": summary.created_at,
            }
            for summary in Summary.objects.filter(grant__rep=user).order_by("created_at", "id")
        ],
        "reads_of_my_summaries": list(
            AccessLogEntry.objects.filter(grant__rep=user)
            .order_by("created_at", "id")
            .values("created_at", "action", "coach__email", "grant_id", "summary_id")
        ),
        "shares_received": list(
            ShareGrant.objects.filter(coach=user)
            .order_by("created_at", "id")
            .values("id", "rep__email", "scopes", "expires_at", "accepted_at", "revoked_at")
        ),
        "my_reads_as_coach": list(
            AccessLogEntry.objects.filter(coach=user)
            .order_by("created_at", "id")
            .values("created_at", "action", "grant_id", "summary_id")
        ),
    }


def erase_user(user: Any) -> int:
    # A share still waiting for an erased coach goes too: it holds their address, and no one
    # can accept it any more. (Their export does not list it: it is the rep's share, and
    # whoever holds the address has not shown it is theirs.)
    waiting = Q(coach__isnull=True, coach_email__iexact=user.email)
    grants = ShareGrant.objects.filter(Q(rep=user) | Q(coach=user) | waiting)
    count = AccessLogEntry.objects.filter(Q(grant__in=grants) | Q(coach=user)).delete()[0]
    count += Summary.objects.filter(grant__in=grants).delete()[0]
    count += grants.delete()[0]
    return count


register(
    PrivacyHandler(
        app_label="coaching",
        models=(ShareGrant, Summary, AccessLogEntry),
        export_user=export_user,
        erase_user=erase_user,
    )
)
