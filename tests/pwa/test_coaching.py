"""Coaching in the app, end to end in a real browser: the rep invites a coach, the coach takes
up the e-mailed link (creating the account on the way), the rep checks a weekly draft, removes
a part and approves it, the coach reads what was approved and the rep sees that read."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from apps.accounts.models import User
from apps.coaching import services
from apps.coaching.models import ShareGrant, Summary
from tests.pwa.conftest import poll, settle, sign_in, wait_for_worker
from tests.pwa.test_accessibility import axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
COACH = "coach@clinic.example"


def _invitation_path() -> str:
    poll_mail = [m for m in mail.outbox if COACH in m.to]
    assert poll_mail, "no invitation mail was sent"
    link = re.search(r"https?://\S+", poll_mail[-1].body)
    assert link is not None, poll_mail[-1].body
    parts = urlsplit(link.group(0))
    return f"{parts.path}?{parts.query}"


def _rep_invites_the_coach(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/app/privacy")
    settle(page)
    page.get_by_label("The coach's e-mail address").fill(COACH)
    # The default: every computed part; no personal note unless the rep ticks it.
    expect(page.get_by_label("a note you write yourself")).not_to_be_checked()
    page.get_by_role("button", name="Invite the coach").click()
    expect(page.get_by_text(f"Invitation sent to {COACH}.")).to_be_visible()
    expect(page.get_by_text("invited, not accepted yet")).to_be_visible()
    # Ready for the next invitation: the address is cleared, the choices are kept.
    expect(page.get_by_label("The coach's e-mail address")).to_have_value("")
    expect(page.get_by_label("weekly energy and its direction")).to_be_checked()
    expect(page.get_by_label("Share for how many days")).to_have_value("90")


def test_a_share_from_invitation_to_a_read_summary(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    # No display name: the coach sees the rep's address instead.
    User.objects.filter(pk=consenting_rep.pk).update(display_name="")
    rep_page = new_context(bypass_csp=True).new_page()
    sign_in(rep_page, live_server.url)
    _rep_invites_the_coach(rep_page, live_server.url)
    grant = ShareGrant.objects.get(rep=consenting_rep)
    assert grant.scopes == ["energy_trend", "sleep_regularity", "sales_quality_trend"]

    # The coach opens the e-mailed link on another device, signed out.
    coach_page = new_context(bypass_csp=True).new_page()
    coach_page.goto(live_server.url + _invitation_path())
    settle(coach_page)
    invite_axe = axe_violations(coach_page)
    coach_page.get_by_label("Your name (the rep sees it)").fill("Carla Coach")
    coach_page.get_by_label("Choose a password").fill("violet-kayak-mountain-42")
    coach_page.get_by_role("button", name="Accept").click()
    expect(coach_page.get_by_role("heading", name="Shared with me")).to_be_visible()
    expect(coach_page.get_by_text("Nothing has been shared with you yet.")).to_be_visible()
    assert coach_page.url.endswith("/app/coach")
    expect(coach_page.get_by_role("link", name="Coaching")).to_be_visible()

    # The weekly job drafts the summary; the rep checks it.
    assert services.summaries_draft(grant_ids=[grant.pk]) == 1
    rep_page.reload()
    settle(rep_page)
    draft = rep_page.locator("article.draft")
    expect(draft).to_have_count(1)
    expect(draft.get_by_role("heading")).to_contain_text(f"For {COACH}")
    privacy_axe = axe_violations(rep_page)
    draft.get_by_role(
        "button", name="Remove from this summary: qualified meetings and their share"
    ).click()
    poll(
        rep_page,
        lambda: "sales_quality_trend" not in Summary.objects.get(grant=grant).sections,
        "the part to be removed",
    )
    expect(draft.get_by_text("qualified meetings and their share", exact=True)).to_have_count(0)
    expect(draft.get_by_text("weekly energy and its direction", exact=True)).to_have_count(1)
    rep_page.get_by_role("button", name="Approve and share").click()
    expect(rep_page.get_by_text(f"Shared with {COACH}.")).to_be_visible()
    expect(rep_page.get_by_text("No summary is waiting for you.")).to_be_visible()
    assert Summary.objects.get(grant=grant).status == Summary.Status.APPROVED

    # The coach reads what was approved: the rep's name, the energy part, not the removed one.
    coach_page.reload()
    settle(coach_page)
    summary = coach_page.locator("main section.card")
    expect(summary).to_have_count(1)
    expect(summary.get_by_role("heading")).to_have_text(consenting_rep.email)
    expect(summary.get_by_text("weekly energy and its direction")).to_be_visible()
    expect(summary.get_by_text("qualified meetings and their share")).to_have_count(0)
    coach_axe = axe_violations(coach_page)
    # Read through the service worker, yet no copy is kept on the coach's device.
    wait_for_worker(coach_page)
    coach_page.reload()
    settle(coach_page)
    expect(summary).to_have_count(1)
    kept = coach_page.evaluate(
        "async () => (await Promise.all((await caches.keys()).map(async (name) =>"
        " (await (await caches.open(name)).keys()).map((r) => r.url)))).flat()"
    )
    assert not [url for url in kept if "/coaching/coach/" in url], kept

    # The rep sees the read in the access log.
    rep_page.reload()
    settle(rep_page)
    # Two list reads (before and after the reload), each logged.
    expect(rep_page.get_by_text(re.compile(r"^Carla Coach read the summary of"))).to_have_count(2)
    assert {"invite": invite_axe, "privacy": privacy_axe, "coach": coach_axe} == {
        "invite": [],
        "privacy": [],
        "coach": [],
    }


def test_a_coach_with_an_account_signs_in_and_comes_back_to_the_invitation(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    from tests.factories import UserFactory
    from tests.pwa.conftest import PASSWORD

    UserFactory(email=COACH)
    rep_page = new_context().new_page()
    sign_in(rep_page, live_server.url)
    _rep_invites_the_coach(rep_page, live_server.url)

    page = new_context().new_page()
    page.goto(live_server.url + _invitation_path())
    settle(page)
    page.get_by_label("Choose a password").fill("violet-kayak-mountain-42")
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_role("alert")).to_contain_text("You already have an account")
    page.get_by_role("button", name="Sign in").click()
    page.locator("input[name=email]").fill(COACH)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    expect(page.get_by_text(f"You accept as {COACH}.")).to_be_visible()
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_role("heading", name="Shared with me")).to_be_visible()
    assert ShareGrant.objects.get(rep=consenting_rep).coach.email == COACH


def test_the_coach_screens_in_dutch(
    live_server: Any, new_context: Any, consenting_rep: User
) -> None:
    """A Dutch coach: every word on the invitation and the shared screen from nl.js, no raw
    key, nothing wider than the phone."""
    from tests.pwa.test_i18n import all_keys
    from tests.pwa.test_languages import missing, visible_words

    grant, token = services.grant_create(
        rep=consenting_rep,
        coach_email=COACH,
        scopes=["energy_trend"],
        insight_ids=[],
        expires_in_days=90,
    )
    page = new_context(locale="nl-NL", viewport={"width": 360, "height": 740}).new_page()
    keys = re.compile("|".join(re.escape(key) for key in sorted(all_keys(), key=len, reverse=True)))
    page.goto(f"{live_server.url}/app/coach-invite?token={token}")
    settle(page)
    expect(page.locator("h1")).to_have_text("Uitnodiging voor coaching")
    words = {"invite": visible_words(page)}
    page.get_by_label("Kies een wachtwoord").fill("violet-kayak-mountain-42")
    page.get_by_role("button", name="Accepteren").click()
    expect(page.locator("h1")).to_have_text("Met mij gedeeld")
    expect(page.locator("#tabs")).to_contain_text("Coaching")
    words["coach"] = visible_words(page)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")

    assert overflow <= 0
    assert {where: sorted(set(keys.findall(text))) for where, text in words.items()} == {
        "invite": [],
        "coach": [],
    }
    assert missing(page) == []
    assert ShareGrant.objects.get(pk=grant.pk).accepted_at is not None
