"""Every coaching write: share grants, the coach's acceptance, weekly summaries, the rep's
edits and approval, revocation and the access log.

A rejected request writes nothing (each write is one transaction, checks come first). Sharing
is on the rep's terms: the scopes come from a fixed list that has no raw entries, alcohol
amounts or journal notes; a summary is visible to the coach only after the rep approved it,
and only while the grant is live.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Membership, Role, User
from apps.accounts.services import user_create
from apps.coaching import constants, sections
from apps.coaching.models import AccessLogEntry, ShareGrant, Summary
from apps.coaching.selectors import (
    active_grant_exists,
    day_rows_for_reps,
    grant_ids_due_for_summary,
    last_complete_week,
    live_grants,
)
from apps.core.crypto import hash_secret
from apps.core.errors import ApplicationError
from apps.insights.selectors import insight_list, insight_to_dict
from apps.privacy.selectors import consented_categories_by_user

# Insights built on drinks carry an alcohol amount in their words: never shareable.
UNSHAREABLE_CONSTRUCTS = frozenset({"alcohol"})
UNSHAREABLE_FACTORS = frozenset({"drinks"})

MANAGER_WARNING = (
    "{email} is your line manager. Everything in the summaries you approve (for example your "
    "energy trend and sleep regularity) will be read by your manager. Your employer may not "
    "ask you to share this; it is entirely your choice, and you can withdraw it at any time."
)
ORG_ADMIN_WARNING = (
    "{email} is an organisation admin of your team, so works on your employer's side. "
    "Everything in the summaries you approve will be read by them. Your employer may not ask "
    "you to share this; it is entirely your choice, and you can withdraw it at any time."
)


def _draft_ttl() -> dt.timedelta:
    return dt.timedelta(
        days=getattr(settings, "COACHING_DRAFT_TTL_DAYS", constants.DEFAULT_DRAFT_TTL_DAYS)
    )


def _invitation_ttl() -> dt.timedelta:
    return dt.timedelta(hours=settings.INVITATION_TTL_HOURS)


# --- grants -----------------------------------------------------------------------------------


def _check_scopes(
    *, rep: User, scopes: list[str], insight_ids: list[uuid.UUID]
) -> tuple[list[str], list[str]]:
    """The scopes in their fixed order and the chosen insight ids as strings, or a 400."""
    errors: dict[str, list[str]] = {}
    unknown = sorted({s for s in scopes if s not in constants.SCOPES})
    if unknown:
        errors["scopes"] = [
            f"Unknown scope: {', '.join(unknown)}. Choose from {', '.join(constants.SCOPES)}."
        ]
    elif not scopes:
        errors["scopes"] = ["Choose at least one thing to share."]
    wanted = list(dict.fromkeys(str(i) for i in insight_ids))
    if constants.CHOSEN_INSIGHTS in scopes and not wanted:
        errors["insight_ids"] = ["Pick at least one of your insights to share."]
    elif wanted and constants.CHOSEN_INSIGHTS not in scopes:
        errors["insight_ids"] = ["Insights are shared only with the 'chosen_insights' scope."]
    elif len(wanted) > constants.MAX_CHOSEN_INSIGHTS:
        errors["insight_ids"] = [f"Pick at most {constants.MAX_CHOSEN_INSIGHTS} insights."]
    elif wanted:
        mine = {str(i.pk): i for i in insight_list(user=rep).filter(pk__in=wanted)}
        missing = [i for i in wanted if i not in mine]
        alcohol = [
            i
            for i in wanted
            if i in mine
            and (
                mine[i].construct in UNSHAREABLE_CONSTRUCTS or mine[i].factor in UNSHAREABLE_FACTORS
            )
        ]
        if missing:
            # Same words for someone else's id and one that does not exist: no oracle.
            errors["insight_ids"] = [f"Not one of your current insights: {', '.join(missing)}."]
        elif alcohol:
            errors["insight_ids"] = [
                "Insights about alcohol cannot be shared: their wording contains drink "
                "amounts. You can mention it in your personal note if you wish."
            ]
    if errors:
        raise ApplicationError(_first_message(errors), errors=errors)
    ordered = [s for s in constants.SCOPES if s in scopes]
    return ordered, wanted


def _first_message(errors: dict[str, list[str]]) -> str:
    name, messages = next(iter(errors.items()))
    return f"{name}: {messages[0]}"


def _warnings(*, rep: User, coach_email: str) -> list[dict[str, str]]:
    """Plain-language warnings when the coach works on the employer's side for this rep."""
    coach = User.objects.filter(email__iexact=coach_email).first()
    if coach is None:
        return []
    warnings = []
    if Membership.objects.filter(user=rep, manager=coach).exists():
        warnings.append(
            {"code": "line_manager", "message": MANAGER_WARNING.format(email=coach_email)}
        )
    rep_teams = Membership.objects.filter(user=rep).values("team_id")
    if Membership.objects.filter(user=coach, role=Role.ORG_ADMIN, team_id__in=rep_teams).exists():
        warnings.append(
            {"code": "org_admin", "message": ORG_ADMIN_WARNING.format(email=coach_email)}
        )
    return warnings


def grant_create(
    *,
    rep: User,
    coach_email: str,
    scopes: list[str],
    insight_ids: list[uuid.UUID] | None = None,
    expires_in_days: int = constants.DEFAULT_EXPIRY_DAYS,
) -> tuple[ShareGrant, str]:
    """Share the scopes with the coach at ``coach_email``; returns the grant and the raw
    invitation token (sent by e-mail only; the API never shows it).

    The coach always accepts through the e-mailed link, whether or not they have an account,
    so the answer never tells the rep whether an address is registered.
    """
    email = coach_email.strip().lower()
    if email == rep.email.lower():
        raise ApplicationError(
            "You cannot share a coaching summary with yourself.",
            errors={"coach_email": ["Enter your coach's e-mail address, not your own."]},
        )
    if not 1 <= expires_in_days <= constants.MAX_EXPIRY_DAYS:
        raise ApplicationError(
            f"A share can last between 1 and {constants.MAX_EXPIRY_DAYS} days.",
            errors={"expires_in_days": [f"Must be between 1 and {constants.MAX_EXPIRY_DAYS}."]},
        )
    ordered_scopes, chosen = _check_scopes(rep=rep, scopes=scopes, insight_ids=insight_ids or [])
    now = timezone.now()
    raw = secrets.token_urlsafe(32)
    with transaction.atomic():
        # Serialise this rep's grant writes so two clicks do not make two live shares.
        User.objects.select_for_update().filter(pk=rep.pk).first()
        if active_grant_exists(rep=rep, coach_email=email, now=now):
            raise ApplicationError(
                "You already share with this coach. Withdraw that share first to change it.",
                status_code=409,
                code="conflict",
                errors={"coach_email": ["A live share with this coach exists."]},
            )
        grant = ShareGrant.objects.create(
            rep=rep,
            coach_email=email,
            scopes=ordered_scopes,
            insight_ids=chosen,
            expires_at=now + dt.timedelta(days=expires_in_days),
            invitation_token_hash=hash_secret(raw),
            invitation_expires_at=now + _invitation_ttl(),
            warnings=_warnings(rep=rep, coach_email=email),
        )
        _send_invitation(grant, rep, raw)
    return grant, raw


def _send_invitation(grant: ShareGrant, rep: User, raw: str) -> None:
    link = f"{settings.FRONTEND_BASE_URL}/app/coach-invite?token={raw}"
    who = f"{rep.display_name} ({rep.email})" if rep.display_name else rep.email
    hours = settings.INVITATION_TTL_HOURS
    # No lifestyle data in the mail: only who invites and where to accept.
    body = (
        f"{who} would like to share weekly coaching summaries with you on energytrack.\n"
        f"They choose what is in each summary and approve it before you can read it.\n\n"
        f"Accept here (valid {hours} hours; you can create an account on the way):\n{link}\n"
    )
    # robust: the grant is committed; a failed mail is logged, the rep can share again.
    transaction.on_commit(
        lambda: send_mail(
            "Coaching summaries shared with you on energytrack", body, None, [grant.coach_email]
        ),
        robust=True,
    )


def grant_accept(
    *,
    token: str,
    user: User | None = None,
    password: str | None = None,
    display_name: str = "",
) -> tuple[ShareGrant, User]:
    """Single use: the coach (signed in, or creating an account now) takes up the share."""
    invalid = ApplicationError(
        "This invitation link is not valid.", errors={"token": ["Unknown invitation."]}
    )
    with transaction.atomic():
        grant = (
            ShareGrant.objects.select_for_update()
            .select_related("rep")
            .filter(invitation_token_hash=hash_secret(token))
            .first()
        )
        if grant is None:
            raise invalid
        now = timezone.now()
        if grant.accepted_at is not None:
            raise ApplicationError(
                "This invitation has already been used.",
                code="invitation-used",
                errors={"token": ["Already used; sign in to read shared summaries."]},
            )
        if grant.revoked_at is not None or grant.expires_at <= now:
            raise ApplicationError(
                "This share is no longer available.",
                code="invitation-withdrawn",
                errors={"token": ["No longer available."]},
            )
        if grant.invitation_expires_at <= now:
            raise ApplicationError(
                "This invitation has expired; ask for a new one.",
                code="invitation-expired",
                errors={"token": ["Expired."]},
            )
        if user is None:
            if User.objects.filter(email__iexact=grant.coach_email).exists():
                raise ApplicationError(
                    "You already have an account: sign in, then open the link again.",
                    code="sign-in-required",
                    errors={"token": ["Sign in first."]},
                )
            if not password:
                raise ApplicationError(
                    "Choose a password to create your account.",
                    errors={"password": ["This field is required."]},
                )
            user = user_create(
                email=grant.coach_email, password=password, display_name=display_name
            )
        elif user.email.lower() != grant.coach_email:
            raise ApplicationError(
                "This invitation is for another e-mail address.",
                status_code=403,
                code="forbidden",
            )
        if user.pk == grant.rep_id:
            raise ApplicationError(
                "You cannot accept your own share.", errors={"token": ["This is your own share."]}
            )
        grant.coach = user
        grant.accepted_at = now
        # No membership of the rep's team: the employer would see who coaches whom, and the
        # coach the rep's team. The coach role comes from the share (accounts.user_roles).
        grant.save(update_fields=["coach", "accepted_at", "updated_at"])
    return grant, user


def grant_revoke(*, grant: ShareGrant) -> ShareGrant:
    """One action: the coach loses every summary of this grant at once; no new ones are made.

    The summaries stay for the rep; the coach's queries require an unrevoked grant.
    """
    if grant.revoked_at is None:
        grant.revoked_at = timezone.now()
        grant.save(update_fields=["revoked_at", "updated_at"])
    return grant


# --- summaries --------------------------------------------------------------------------------


# A section built on a consent category is left out while the rep withholds that consent.
SECTION_CATEGORY = {constants.ENERGY_TREND: "energy", constants.SLEEP_REGULARITY: "sleep"}


def _insight_section(grant: ShareGrant, rep: User, consented: set[str]) -> list[dict[str, str]]:
    if not grant.insight_ids:
        return []
    insights = insight_list(user=rep).filter(pk__in=grant.insight_ids)
    by_id = {
        str(i.pk): insight_to_dict(i, rep.locale)
        for i in insights
        if i.construct in consented
        and (not i.outcome.startswith("energy") or "energy" in consented)
    }
    # In the rep's chosen order; an insight no longer current (or consented) is left out.
    return [
        {"id": insight_id, "message": by_id[insight_id]["message"]}
        for insight_id in grant.insight_ids
        if insight_id in by_id
    ]


def _sections_for(
    grant: ShareGrant, rows: list[sections.DayRow], week_start: dt.date, consented: set[str]
) -> dict[str, Any]:
    rep = grant.rep
    out: dict[str, Any] = {}
    for scope in grant.scopes:
        category = SECTION_CATEGORY.get(scope)
        if category is not None and category not in consented:
            continue
        if scope == constants.ENERGY_TREND:
            out[scope] = sections.energy_trend(rows, week_start, rep.locale)
        elif scope == constants.SLEEP_REGULARITY:
            out[scope] = sections.sleep_regularity(rows, week_start, rep.locale)
        elif scope == constants.SALES_QUALITY_TREND:
            out[scope] = sections.sales_quality_trend(rows, week_start, rep.locale)
        elif scope == constants.CHOSEN_INSIGHTS:
            out[scope] = _insight_section(grant, rep, consented)
    return out


def summaries_draft(
    *, grant_ids: Iterable[Any], now: dt.datetime | None = None, week_start: dt.date | None = None
) -> int:
    """Draft the summary of the last complete week for each live grant. Idempotent: a grant
    has at most one summary per week (unique constraint), and an existing one is kept.

    One day-feature query for the whole batch; returns the number of new drafts.
    """
    now = now or timezone.now()
    grants = list(live_grants(now=now).select_related("rep").filter(pk__in=list(grant_ids)))
    if not grants:
        return 0
    weeks = {
        grant.pk: week_start
        or last_complete_week(
            tz_name=grant.rep.timezone, day_boundary_hour=grant.rep.day_boundary_hour, now=now
        )
        for grant in grants
    }
    existing = set(Summary.objects.filter(grant__in=grants).values_list("grant_id", "week_start"))
    todo = [g for g in grants if (g.pk, weeks[g.pk]) not in existing]
    if not todo:
        return 0
    first = sections.compare_window(min(weeks[g.pk] for g in todo))[0]
    last = sections.week_days(max(weeks[g.pk] for g in todo))[1]
    rep_ids = list({g.rep_id for g in todo})
    rows = day_rows_for_reps(rep_ids=rep_ids, date_from=first, date_to=last)
    with transaction.atomic():
        # Read (and held) where the drafts are stored: a withdrawal committed after the rows
        # were read must not find its category in a draft it did not see.
        consents = consented_categories_by_user(user_ids=rep_ids, hold=True)
        drafts = [
            Summary(
                grant=grant,
                week_start=weeks[grant.pk],
                sections=_sections_for(
                    grant, rows.get(grant.rep_id, []), weeks[grant.pk], consents[str(grant.rep_id)]
                ),
                draft_expires_at=now + _draft_ttl(),
            )
            for grant in todo
        ]
        created = Summary.objects.bulk_create(drafts, ignore_conflicts=True)
    return len(created)


def summaries_draft_due(*, now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    return summaries_draft(grant_ids=grant_ids_due_for_summary(now=now), now=now)


def _editable(summary: Summary, now: dt.datetime) -> None:
    if summary.status == Summary.Status.APPROVED:
        raise ApplicationError(
            "This summary is already approved and shared; it can no longer be changed. "
            "Withdraw the share to hide it.",
            status_code=409,
            code="conflict",
        )
    if summary.status == Summary.Status.EXPIRED or summary.draft_expires_at <= now:
        raise ApplicationError(
            "This draft has expired; the next weekly summary will replace it.",
            status_code=409,
            code="draft-expired",
        )
    if summary.grant.status_at(now) != constants.ACTIVE:
        raise ApplicationError(
            "This share is no longer active, so its summaries cannot be changed or approved.",
            status_code=409,
            code="share-inactive",
        )


def summary_update(
    *,
    summary: Summary,
    remove_sections: list[str] | None = None,
    remove_insight_ids: list[uuid.UUID] | None = None,
    note: str | None = None,
) -> Summary:
    """The rep's edit of a draft: remove parts for good, or write the personal note."""
    now = timezone.now()
    with transaction.atomic():
        summary = Summary.objects.select_for_update().select_related("grant").get(pk=summary.pk)
        _editable(summary, now)
        errors: dict[str, list[str]] = {}
        unknown = sorted(
            set(remove_sections or []) - {*constants.SECTION_SCOPES, constants.PERSONAL_NOTE}
        )
        if unknown:
            errors["remove_sections"] = [f"Unknown part: {', '.join(unknown)}."]
        if note is not None and constants.PERSONAL_NOTE not in summary.grant.scopes:
            errors["note"] = ["This share does not include a personal note."]
        if note is not None and len(note) > constants.MAX_NOTE_LENGTH:
            errors["note"] = [f"At most {constants.MAX_NOTE_LENGTH} characters."]
        if errors:
            raise ApplicationError(_first_message(errors), errors=errors)
        parts = dict(summary.sections)
        for name in remove_sections or []:
            parts.pop(name, None)
        if remove_insight_ids and constants.CHOSEN_INSIGHTS in parts:
            drop = {str(i) for i in remove_insight_ids}
            parts[constants.CHOSEN_INSIGHTS] = [
                item for item in parts[constants.CHOSEN_INSIGHTS] if item["id"] not in drop
            ]
        summary.sections = parts
        if note is not None:
            summary.note = note.strip()
        if constants.PERSONAL_NOTE in (remove_sections or []):
            summary.note = ""
        summary.save(update_fields=["sections", "note", "updated_at"])
    return summary


def summary_approve(*, summary: Summary) -> Summary:
    """From now on the coach can read this summary (while the grant stays live)."""
    now = timezone.now()
    with transaction.atomic():
        summary = (
            Summary.objects.select_for_update()
            .select_related("grant", "grant__rep")
            .get(pk=summary.pk)
        )
        if summary.status == Summary.Status.APPROVED:
            return summary  # approving twice is harmless
        _editable(summary, now)
        summary.status = Summary.Status.APPROVED
        summary.approved_at = now
        summary.save(update_fields=["status", "approved_at", "updated_at"])
        _notify_coach(summary)
    return summary


def summaries_withdraw_category(*, rep: Any, category: str) -> int:
    """A withdrawn consent reaches what the rep already shared: the sections and the chosen
    insights built on that category leave every summary of the rep, approved ones included.

    Drafting already leaves them out while the consent is withheld (``_sections_out``); this
    covers the summaries made before. A chosen insight whose row no longer exists cannot be
    told apart and goes too. Returns the number of summaries changed.
    """
    scopes = {scope for scope, held in SECTION_CATEGORY.items() if held == category}
    with transaction.atomic():
        summaries = list(Summary.objects.select_for_update().filter(grant__rep=rep).order_by("pk"))
        chosen = {
            item["id"]
            for summary in summaries
            for item in summary.sections.get(constants.CHOSEN_INSIGHTS, [])
        }
        kept = {
            str(insight.pk)
            for insight in insight_list(user=rep).filter(pk__in=chosen)
            if insight.construct != category
            and not (category == "energy" and insight.outcome.startswith("energy"))
        }
        changed = []
        for summary in summaries:
            sections = {k: v for k, v in summary.sections.items() if k not in scopes}
            if constants.CHOSEN_INSIGHTS in sections:
                sections[constants.CHOSEN_INSIGHTS] = [
                    item for item in sections[constants.CHOSEN_INSIGHTS] if item["id"] in kept
                ]
            if sections != summary.sections:
                summary.sections = sections
                summary.updated_at = timezone.now()
                changed.append(summary)
        Summary.objects.bulk_update(changed, ["sections", "updated_at"])
    return len(changed)


def _notify_coach(summary: Summary) -> None:
    grant = summary.grant
    rep = grant.rep
    who = rep.display_name or rep.email
    link = f"{settings.FRONTEND_BASE_URL}/app/coach"
    # Neutral words only: what is in the summary is behind the sign-in.
    body = f"{who} shared a weekly coaching summary with you on energytrack:\n{link}\n"
    transaction.on_commit(
        lambda: send_mail("A coaching summary is ready", body, None, [grant.coach_email]),
        robust=True,
    )


def drafts_expire(*, now: dt.datetime | None = None) -> int:
    """Unapproved drafts past their date expire; their content is dropped (minimisation)."""
    now = now or timezone.now()
    return Summary.objects.filter(status=Summary.Status.DRAFT, draft_expires_at__lte=now).update(
        status=Summary.Status.EXPIRED, sections={}, note="", updated_at=now
    )


# --- the access log ---------------------------------------------------------------------------


def access_log_record(*, coach: User, summaries: Iterable[Summary], action: str) -> int:
    """One row per summary a coach was shown; written before the answer leaves the server."""
    rows = [
        AccessLogEntry(grant_id=s.grant_id, summary=s, coach=coach, action=action)
        for s in summaries
    ]
    AccessLogEntry.objects.bulk_create(rows)
    return len(rows)
