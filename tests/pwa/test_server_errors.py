"""A refused request is explained in the app's language: the server's problem details are
English, so the app words known codes and statuses itself (and keeps an unnamed refusal's
English detail only for an English app)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Route, expect

from apps.accounts.models import User
from apps.core.errors import problem
from tests.pwa.conftest import sign_in
from tests.pwa.test_i18n import load

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PREFERENCES = "**/api/v1/notifications/preferences"
ENGLISH_DETAIL = "Request was throttled. Expected available in 60 seconds."


def refuse_saving(status: int, body: dict[str, Any]) -> Any:
    def handle(route: Route) -> None:
        if route.request.method != "PATCH":
            route.continue_()
            return
        route.fulfill(
            status=status,
            content_type="application/problem+json",
            body=json.dumps({"type": "about:blank", "title": "x", "status": status, **body}),
        )

    return handle


@pytest.mark.parametrize(
    ("language", "status", "body", "shown"),
    [
        ("nl", 429, {"detail": ENGLISH_DETAIL, "code": "throttled"}, "problem.ratelimited"),
        (
            "nl",
            500,
            {"detail": "Something went wrong on our side.", "code": "server-error"},
            "problem.server",
        ),
        (
            "nl",
            503,
            {"detail": "The database is unavailable.", "code": "service-unavailable"},
            "problem.unavailable",
        ),
        ("nl", 400, {"detail": "Not a valid thing.", "errors": {}}, "problem.refused"),
        ("nl", 409, {"detail": "Changed meanwhile.", "code": "conflict"}, "problem.conflict"),
        ("en", 429, {"detail": ENGLISH_DETAIL, "code": "throttled"}, "problem.ratelimited"),
        ("en", 400, {"detail": "Not a valid thing.", "errors": {}}, None),
        # As the server sends them: the name in the type, no ``code``.
        (
            "nl",
            409,
            problem(409, "Changed after deletion.", code="edited-after-deletion"),
            "problem.edited-after-deletion",
        ),
        ("en", 409, problem(409, "Day taken.", code="day-exists"), "problem.day-exists"),
    ],
    ids=[
        "nl-429",
        "nl-500",
        "nl-503",
        "nl-400",
        "nl-409",
        "en-429",
        "en-400",
        "nl-type",
        "en-type",
    ],
)
def test_a_refused_save_is_explained_in_the_apps_language(
    live_server: Any,
    new_context: Any,
    consenting_rep: User,
    language: str,
    status: int,
    body: dict[str, Any],
    shown: str | None,
) -> None:
    consenting_rep.locale = language
    consenting_rep.save(update_fields=["locale"])
    context = new_context(locale="nl-NL" if language == "nl" else "en-US")
    context.route(PREFERENCES, refuse_saving(status, body))
    page = context.new_page()
    sign_in(page, live_server.url)
    page.locator("#settings-link").click()
    section = page.locator("section[aria-labelledby=notify-title]")
    section.locator("button[type=submit]").click()

    expected = body["detail"] if shown is None else json.loads(load(language)[shown])
    expect(section.locator("[role=status]")).to_have_text(expected)
    if language == "nl":
        expect(section).not_to_contain_text(body["detail"])
