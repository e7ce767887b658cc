"""Weekly summaries: drafted from scoped aggregates, previewed, edited and approved by the
rep; read by the coach only when approved and the share is live; every read logged."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail

from apps.coaching import services
from apps.coaching.models import AccessLogEntry, Summary
from tests.coaching.helpers import (
    ALL_SCOPES,
    LAST_WEEK,
    NOW,
    approved,
    draft,
    make_days,
    make_insight,
    share,
)
from tests.core.problems import assert_problem
from tests.factories import UserFactory
from tests.privacy.races import withdraw_while

pytestmark = pytest.mark.django_db

SUMMARIES = "/api/v1/coaching/summaries"
COACH_SUMMARIES = "/api/v1/coaching/coach/summaries"
ACCESS_LOG = "/api/v1/coaching/access-log"


def four_weeks_before(energy: float, held: int, qualified: int) -> list[dict[str, Any]]:
    return [
        {"energy_mean": energy, "meetings_held": held, "qualified_meetings": qualified}
        for _ in range(28)
    ]


@pytest.fixture
def week_of_data(consenting_user) -> None:
    """Four ordinary weeks, then a better week 2026-W47 with regular sleep."""
    make_days(consenting_user, LAST_WEEK - dt.timedelta(days=28), four_weeks_before(5.0, 1, 0))
    make_days(
        consenting_user,
        LAST_WEEK,
        [
            {
                "energy_mean": 6.0 + (i % 2) * 0.5,
                "sleep_minutes": 450 + i * 5,
                "bedtime_minutes": -30.0 + i * 5,
                "meetings_held": 2,
                "qualified_meetings": 1,
                # Drinks are in the day features but must never reach a summary.
                "drinks": 13.7,
            }
            for i in range(7)
        ],
    )


def test_draft_holds_only_the_scoped_aggregates(user, week_of_data):
    insight = make_insight(user)
    grant = share(user, scopes=ALL_SCOPES, insights=[insight])
    summary = draft(grant)
    assert summary.status == "draft"
    assert summary.week_start == LAST_WEEK
    assert set(summary.sections) == {
        "energy_trend",
        "sleep_regularity",
        "sales_quality_trend",
        "chosen_insights",
    }
    energy = summary.sections["energy_trend"]
    assert energy["mean_energy"] == 6.2  # mean of 6.0, 6.5, 6.0, 6.5, 6.0, 6.5, 6.0
    assert energy["previous_mean_energy"] == 5.0
    assert energy["trend"] == "up"
    assert energy["days_logged"] == 7
    assert energy["text"].startswith("Average energy this week: 6.2 on 1-9 (7 days logged)")
    # Regularity is a category, never a clock time or a duration.
    assert summary.sections["sleep_regularity"] == {
        "category": "regular",
        "nights_logged": 7,
        "text": "Sleep was regular this week (7 nights logged).",
    }
    sales = summary.sections["sales_quality_trend"]
    assert (sales["meetings_held"], sales["qualified_meetings"]) == (14, 7)
    assert sales["qualified_share"] == 0.5
    assert sales["previous_qualified_share"] == 0.0
    assert sales["trend"] == "up"
    assert summary.sections["chosen_insights"] == [
        {
            "id": str(insight.pk),
            "message": (
                "On days after you slept 7 h or more, your qualified meetings averaged 2.4 "
                "instead of 1.1 (20 vs 18 days). This goes together with it; it does not "
                "prove a cause."
            ),
        }
    ]
    # The insight's random UUID is the one identifier allowed; leave it out so that its hex
    # digits cannot pass for a leaked figure.
    stored = repr(summary.sections).replace(str(insight.pk), "<insight>")
    assert "13.7" not in stored and "drink" not in stored
    assert "450" not in stored and "-30" not in stored


def test_dutch_rep_gets_dutch_words(user, week_of_data):
    user.locale = "nl"
    user.save(update_fields=["locale"])
    summary = draft(share(user, scopes=["energy_trend", "sleep_regularity"]))
    assert summary.sections["energy_trend"]["text"].startswith("Gemiddelde energie deze week: 6,2")
    assert summary.sections["sleep_regularity"]["text"].startswith("Slaap was deze week regelmatig")


def test_withdrawn_consent_leaves_its_parts_out(user, week_of_data):
    from apps.privacy.services import consent_withdraw

    sleep_insight = make_insight(user)
    energy_insight = make_insight(
        user, factor="exercise_minutes", construct="exercise", outcome="energy_mean", mean_high=6.5
    )
    sales_insight = make_insight(
        user, factor="exercise_minutes", construct="exercise", mean_high=2.9
    )
    grant = share(user, scopes=ALL_SCOPES, insights=[sleep_insight, energy_insight, sales_insight])
    consent_withdraw(user=user, category="sleep", delete_entries=False)
    consent_withdraw(user=user, category="energy", delete_entries=False)
    summary = draft(grant)
    assert set(summary.sections) == {"sales_quality_trend", "chosen_insights"}
    assert [i["id"] for i in summary.sections["chosen_insights"]] == [str(sales_insight.pk)]


def test_withdrawn_consent_leaves_summaries_already_shared(user, week_of_data, api):
    """Approved before the withdrawal: the coach no longer reads the withdrawn category's
    sections or insights; the rest of the summary stays shared."""
    from apps.privacy.services import consent_withdraw

    sleep_insight = make_insight(user)
    energy_insight = make_insight(
        user, factor="exercise_minutes", construct="exercise", outcome="energy_mean", mean_high=6.5
    )
    sales_insight = make_insight(
        user, factor="exercise_minutes", construct="exercise", mean_high=2.9
    )
    coach = UserFactory()
    grant = share(
        user, coach, scopes=ALL_SCOPES, insights=[sleep_insight, energy_insight, sales_insight]
    )
    summary = approved(grant)
    assert {"sleep_regularity", "energy_trend"} <= set(summary.sections)
    assert len(summary.sections["chosen_insights"]) == 3

    consent_withdraw(user=user, category="sleep", delete_entries=False)
    summary.refresh_from_db()
    assert "sleep_regularity" not in summary.sections
    assert "energy_trend" in summary.sections
    assert [i["id"] for i in summary.sections["chosen_insights"]] == [
        str(energy_insight.pk),
        str(sales_insight.pk),
    ]

    consent_withdraw(user=user, category="energy", delete_entries=True)
    api.force_authenticate(coach)
    shown = api.get(f"{COACH_SUMMARIES}/{summary.pk}").json()
    assert set(shown["sections"]) == {"sales_quality_trend", "chosen_insights"}
    # The coach sees the messages only; the one left is the sales insight's.
    summary.refresh_from_db()
    assert [i["id"] for i in summary.sections["chosen_insights"]] == [str(sales_insight.pk)]
    assert shown["sections"]["chosen_insights"] == [
        {"message": summary.sections["chosen_insights"][0]["message"]}
    ]


def test_drafting_is_idempotent_and_skips_inactive_grants(user):
    live = share(user)
    pending = share(user, accept=False)
    revoked = share(user)
    services.grant_revoke(grant=revoked)
    ids = [live.pk, pending.pk, revoked.pk]
    assert services.summaries_draft(grant_ids=ids) == 1
    assert services.summaries_draft(grant_ids=ids) == 0
    assert services.summaries_draft_due() == 0
    assert list(Summary.objects.values_list("grant_id", "week_start")) == [(live.pk, LAST_WEEK)]


def test_an_edited_draft_is_never_overwritten_by_a_rerun(user):
    grant = share(user, scopes=["energy_trend", "personal_note"])
    summary = draft(grant)
    services.summary_update(summary=summary, note="Rough week, new client")
    services.summaries_draft(grant_ids=[grant.pk])
    summary.refresh_from_db()
    assert summary.note == "Rough week, new client"


def test_rep_previews_removes_parts_adds_a_note_and_approves(user, api, week_of_data):
    insight_a, insight_b = make_insight(user), make_insight(user, mean_high=3.1)
    grant = share(user, scopes=ALL_SCOPES, insights=[insight_a, insight_b])
    summary = draft(grant)
    url = f"{SUMMARIES}/{summary.pk}"
    preview = api.get(url).json()
    assert preview["status"] == "draft"
    assert preview["visible_to_coach"] is False
    assert preview["week"] == "2026-W47"
    assert (preview["week_start"], preview["week_end"]) == ("2026-11-16", "2026-11-22")
    assert preview["note"] == ""

    response = api.patch(
        url,
        {
            "remove_sections": ["sleep_regularity"],
            "remove_insight_ids": [str(insight_b.pk)],
            "note": "  Focus on discovery calls  ",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body["sections"]) == {"energy_trend", "sales_quality_trend", "chosen_insights"}
    assert [i["id"] for i in body["sections"]["chosen_insights"]] == [str(insight_a.pk)]
    assert body["note"] == "Focus on discovery calls"

    # The coach cannot see the draft yet.
    coach_api_response = _coach_client(grant).get(f"{COACH_SUMMARIES}/{summary.pk}")
    assert_problem(coach_api_response, 404)

    approved_body = api.post(f"{url}/approve").json()
    assert approved_body["status"] == "approved"
    assert approved_body["visible_to_coach"] is True

    seen = _coach_client(grant).get(f"{COACH_SUMMARIES}/{summary.pk}")
    assert seen.status_code == 200, seen.content
    coach_view = seen.json()
    assert coach_view["rep_email"] == user.email
    assert set(coach_view["sections"]) == {"energy_trend", "sales_quality_trend", "chosen_insights"}
    # The coach gets the words of an insight, not the rep's object ids.
    assert coach_view["sections"]["chosen_insights"] == [
        {"message": preview["sections"]["chosen_insights"][0]["message"]}
    ]
    assert coach_view["note"] == "Focus on discovery calls"
    assert str(insight_a.pk) not in seen.content.decode()


def test_approved_summaries_can_no_longer_be_changed(user, api):
    summary = approved(share(user, scopes=["energy_trend", "personal_note"]))
    response = api.patch(f"{SUMMARIES}/{summary.pk}", {"note": "later"}, format="json")
    assert_problem(response, 409)
    again = api.post(f"{SUMMARIES}/{summary.pk}/approve")
    assert again.status_code == 200  # approving twice is harmless
    summary.refresh_from_db()
    assert summary.note == ""


def test_note_needs_the_personal_note_scope(user, api):
    summary = draft(share(user, scopes=["energy_trend"]))
    response = api.patch(f"{SUMMARIES}/{summary.pk}", {"note": "hello"}, format="json")
    assert_problem(response, 400, fields=["note"])
    assert api.get(f"{SUMMARIES}/{summary.pk}").json()["note"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"remove_sections": ["alcohol"]}, "remove_sections.0"),
        ({"remove_sections": "energy_trend"}, "remove_sections"),
        ({"remove_insight_ids": ["nope"]}, "remove_insight_ids.0"),
        ({"note": 5}, "note"),
        ({"note": "x" * 2001}, "note"),
        ({"sections": {}}, "sections"),
    ],
)
def test_bad_edits_are_400s_and_change_nothing(user, api, body, field):
    summary = draft(share(user, scopes=["energy_trend", "personal_note"]))
    before = (summary.sections, summary.note)
    response = api.patch(f"{SUMMARIES}/{summary.pk}", body, format="json")
    assert_problem(response, 400, fields=[field])
    summary.refresh_from_db()
    assert (summary.sections, summary.note) == before


def test_coach_mail_on_approval_is_neutral(user, week_of_data, django_capture_on_commit_callbacks):
    grant = share(user, scopes=ALL_SCOPES, insights=[make_insight(user)])
    summary = draft(grant)
    with django_capture_on_commit_callbacks(execute=True):
        services.summary_approve(summary=summary)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [grant.coach_email]
    body = mail.outbox[0].body.replace("energytrack", "")
    for secret in ("6.2", "energy", "sleep", "slept", "qualified"):
        assert secret not in body


# --- the coach's list, revocation, expiry -----------------------------------------------------


def _coach_client(grant):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(grant.coach)
    return client


def test_coach_lists_only_approved_summaries_of_live_grants(user, clock):
    coach = UserFactory()
    grant = share(user, coach)
    shown = approved(grant)
    draft(grant, LAST_WEEK - dt.timedelta(days=7))  # not approved
    other_rep = UserFactory()
    other = approved(share(other_rep, coach))
    revoked_grant = share(UserFactory(), coach)
    hidden = approved(revoked_grant)
    services.grant_revoke(grant=revoked_grant)

    client = _coach_client(grant)
    ids = [s["id"] for s in client.get(COACH_SUMMARIES).json()["results"]]
    assert sorted(ids) == sorted([str(shown.pk), str(other.pk)])
    assert str(hidden.pk) not in ids
    assert_problem(client.get(f"{COACH_SUMMARIES}/{hidden.pk}"), 404)

    # When the share expires, everything of it disappears for the coach.
    clock.move_to(NOW + dt.timedelta(days=91))
    client = _coach_client(grant)  # a fresh session: the old one timed out meanwhile
    assert client.get(COACH_SUMMARIES).json()["results"] == []
    assert_problem(client.get(f"{COACH_SUMMARIES}/{shown.pk}"), 404)


def test_revocation_hides_every_summary_at_once(user, api):
    grant = share(user)
    summaries = [approved(grant, LAST_WEEK - dt.timedelta(days=7 * i)) for i in range(3)]
    coach = _coach_client(grant)
    assert len(coach.get(COACH_SUMMARIES).json()["results"]) == 3
    assert api.post(f"/api/v1/coaching/grants/{grant.pk}/revoke").status_code == 200
    assert coach.get(COACH_SUMMARIES).json()["results"] == []
    for summary in summaries:
        assert_problem(coach.get(f"{COACH_SUMMARIES}/{summary.pk}"), 404)
    # The rep keeps them, marked as no longer visible; no new drafts are made.
    mine = api.get(SUMMARIES).json()["results"]
    assert {s["visible_to_coach"] for s in mine} == {False}
    assert (
        services.summaries_draft(grant_ids=[grant.pk], week_start=LAST_WEEK + dt.timedelta(7)) == 0
    )


def test_a_coach_without_a_grant_gets_404(user):
    summary = approved(share(user))
    stranger_coach = UserFactory()
    other_grant = share(UserFactory(), stranger_coach)  # a coach, but not of this rep
    client = _coach_client(other_grant)
    assert_problem(client.get(f"{COACH_SUMMARIES}/{summary.pk}"), 404)
    assert str(summary.pk) not in client.get(COACH_SUMMARIES).content.decode()
    # The rep's own endpoints are no way in either.
    assert_problem(client.get(f"{SUMMARIES}/{summary.pk}"), 404)
    assert not AccessLogEntry.objects.filter(summary=summary).exists()


def test_rep_previews_are_404_for_the_coach(user):
    summary = approved(share(user))
    client = _coach_client(summary.grant)
    assert_problem(client.get(f"{SUMMARIES}/{summary.pk}"), 404)
    assert_problem(client.post(f"{SUMMARIES}/{summary.pk}/approve"), 404)
    assert client.get(SUMMARIES).json()["results"] == []


def test_unapproved_drafts_expire(user, api, clock):
    grant = share(user, scopes=["energy_trend", "personal_note"])
    summary = draft(grant)
    services.summary_update(summary=summary, note="private thought")
    clock.move_to(NOW + dt.timedelta(days=15))
    # Even before the daily job ran, an expired draft cannot be approved.
    assert_problem(api.post(f"{SUMMARIES}/{summary.pk}/approve"), 409, code="draft-expired")
    assert services.drafts_expire() == 1
    assert services.drafts_expire() == 0
    summary.refresh_from_db()
    assert (summary.status, summary.sections, summary.note) == ("expired", {}, "")
    assert api.get(f"{SUMMARIES}?status=expired").json()["results"][0]["id"] == str(summary.pk)


def test_approving_under_a_revoked_grant_is_refused(user, api):
    grant = share(user)
    summary = draft(grant)
    services.grant_revoke(grant=grant)
    assert_problem(api.post(f"{SUMMARIES}/{summary.pk}/approve"), 409, code="share-inactive")
    summary.refresh_from_db()
    assert summary.status == "draft"


# --- access log -------------------------------------------------------------------------------


def test_every_coach_read_is_logged_and_the_rep_sees_the_log(user, api):
    grant = share(user)
    first, second = approved(grant), approved(grant, LAST_WEEK - dt.timedelta(days=7))
    coach = _coach_client(grant)
    coach.get(COACH_SUMMARIES)
    coach.get(f"{COACH_SUMMARIES}/{first.pk}")
    coach.get(f"{COACH_SUMMARIES}/{first.pk}")

    log = api.get(ACCESS_LOG).json()["results"]
    assert len(log) == 4
    assert [(e["action"], e["summary_id"]) for e in log[:2]] == [
        ("detail", str(first.pk)),
        ("detail", str(first.pk)),
    ]
    assert sorted(e["summary_id"] for e in log[2:]) == sorted([str(first.pk), str(second.pk)])
    assert {e["coach_email"] for e in log} == {grant.coach.email}
    assert {e["grant_id"] for e in log} == {str(grant.pk)}
    assert log[0]["week"] == "2026-W47"
    # Filter by grant; the coach sees no log (it is the rep's).
    assert len(api.get(f"{ACCESS_LOG}?grant_id={grant.pk}").json()["results"]) == 4
    assert coach.get(ACCESS_LOG).json()["results"] == []


def test_a_404_read_is_not_logged_and_a_revoked_grant_logs_nothing(user, api):
    grant = share(user)
    summary = approved(grant)
    services.grant_revoke(grant=grant)
    coach = _coach_client(grant)
    coach.get(COACH_SUMMARIES)
    coach.get(f"{COACH_SUMMARIES}/{summary.pk}")
    assert api.get(ACCESS_LOG).json()["results"] == []


def test_lists_use_a_fixed_number_of_queries(user, api, django_assert_max_num_queries):
    coach = UserFactory()
    for _ in range(5):
        grant = share(UserFactory(), coach)
        approved(grant)
        approved(grant, LAST_WEEK - dt.timedelta(days=7))
    mine = share(user, coach)
    for i in range(5):
        approved(mine, LAST_WEEK - dt.timedelta(days=7 * i))
    client = _coach_client(mine)
    with django_assert_max_num_queries(8):
        assert len(client.get(COACH_SUMMARIES).json()["results"]) == 15
    with django_assert_max_num_queries(8):
        assert len(api.get(SUMMARIES).json()["results"]) == 5
    with django_assert_max_num_queries(8):
        assert len(api.get(ACCESS_LOG).json()["results"]) == 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_withdrawal_committed_while_a_summary_is_drafted_keeps_its_category_out(
    user, week_of_data
):
    """The draft is built from day rows read before it is stored: a withdrawal that commits in
    between must not find the category in a draft (which the rep may approve for the coach)."""
    grant = share(user, scopes=["energy_trend", "sleep_regularity", "sales_quality_trend"])

    withdraw_while(
        user, "energy", lambda: services.summaries_draft(grant_ids=[grant.pk], week_start=LAST_WEEK)
    )

    summary = Summary.objects.get(grant=grant, week_start=LAST_WEEK)
    assert "energy_trend" not in summary.sections
    assert "sales_quality_trend" in summary.sections
