"""Export and erasure of coaching data from both sides of a share (apps/coaching/privacy.py)."""

from __future__ import annotations

import json

import pytest
from django.core.serializers.json import DjangoJSONEncoder

from apps.coaching import services
from apps.coaching.models import AccessLogEntry, ShareGrant, Summary
from apps.privacy.registry import PrivacyHandler, covered_models, handlers
from tests.coaching.helpers import ALL_SCOPES, approved, make_insight, share
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def coaching() -> PrivacyHandler:
    return next(h for h in handlers() if h.app_label == "coaching")


def test_every_coaching_model_is_covered():
    assert {ShareGrant, Summary, AccessLogEntry} <= covered_models()


def _scene(user):
    coach = UserFactory()
    grant = share(user, coach, scopes=ALL_SCOPES, insights=[make_insight(user)])
    summary = approved(grant)
    services.access_log_record(coach=coach, summaries=[summary], action="detail")
    return coach, grant, summary


def test_rep_export_has_shares_summaries_and_reads(consenting_user):
    user = consenting_user
    coach, grant, summary = _scene(user)
    document = coaching().export_user(user)
    assert [g["id"] for g in document["shares_given"]] == [grant.pk]
    assert document["shares_given"][0]["scopes"] == ALL_SCOPES
    assert [s["id"] for s in document["summaries"]] == [summary.pk]
    assert document["summaries"][0]["sections"] == summary.sections
    assert [r["coach__email"] for r in document["reads_of_my_summaries"]] == [coach.email]
    assert document["shares_received"] == document["my_reads_as_coach"] == []
    json.dumps(document, cls=DjangoJSONEncoder)  # machine-readable as it is


def test_coach_export_has_no_summary_content(consenting_user):
    user = consenting_user
    coach, grant, summary = _scene(user)
    document = coaching().export_user(coach)
    assert [g["id"] for g in document["shares_received"]] == [grant.pk]
    assert [r["summary_id"] for r in document["my_reads_as_coach"]] == [summary.pk]
    assert document["shares_given"] == document["summaries"] == []
    text = json.dumps(document, cls=DjangoJSONEncoder)
    assert summary.sections["chosen_insights"][0]["message"] not in text
    assert "mean_energy" not in text


def test_erasing_the_rep_removes_grants_summaries_and_log(user):
    coach, _grant, _summary = _scene(user)
    other_rep = UserFactory()
    kept = approved(share(other_rep, coach))
    assert coaching().erase_user(user) == 3
    assert not ShareGrant.objects.filter(rep=user).exists()
    assert list(Summary.objects.all()) == [kept]
    assert not AccessLogEntry.objects.exists()


def test_erasing_the_coach_removes_every_grant_to_them(user):
    coach, grant, _summary = _scene(user)
    other_coach_grant = share(user)
    approved(other_coach_grant)
    assert coaching().erase_user(coach) == 3
    assert list(ShareGrant.objects.all()) == [other_coach_grant]
    assert list(Summary.objects.values_list("grant_id", flat=True)) == [other_coach_grant.pk]
    assert not AccessLogEntry.objects.exists()
    assert not ShareGrant.objects.filter(pk=grant.pk).exists()
