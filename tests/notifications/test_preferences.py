"""Delivery preferences over HTTP: defaults, partial updates, and refusals."""

from __future__ import annotations

import pytest

from apps.notifications.models import NotificationPreferences
from tests.core.problems import assert_problem

URL = "/api/v1/notifications/preferences"
DEFAULTS = {
    "push_enabled": True,
    "push_detailed": False,
    "email_digest": False,
    "reminder_enabled": False,
    "reminder_time": "17:00",
    "quiet_hours_enabled": True,
    "quiet_hours_start": "21:00",
    "quiet_hours_end": "07:30",
}


@pytest.mark.django_db
def test_defaults_without_a_row(api) -> None:
    assert api.get(URL).json() == DEFAULTS
    assert not NotificationPreferences.objects.exists()


@pytest.mark.django_db
def test_patch_changes_only_what_is_sent(api, user) -> None:
    response = api.patch(
        URL, {"reminder_enabled": True, "reminder_time": "08:15", "push_detailed": True}
    )
    assert response.status_code == 200, response.content
    assert response.json() == {
        **DEFAULTS,
        "reminder_enabled": True,
        "reminder_time": "08:15",
        "push_detailed": True,
    }
    assert api.patch(URL, {"email_digest": True}).json()["reminder_time"] == "08:15"
    assert api.get(URL).json()["email_digest"] is True


@pytest.mark.django_db
def test_a_reminder_inside_quiet_hours_is_refused(api) -> None:
    body = assert_problem(
        api.patch(URL, {"reminder_enabled": True, "reminder_time": "22:00"}),
        400,
        fields=["reminder_time"],
    )
    assert "quiet hours" in body["detail"]
    assert api.get(URL).json() == DEFAULTS  # a refused request changes nothing
    # Moving the quiet hours (or turning them off) makes the same time fine.
    ok = api.patch(
        URL,
        {
            "reminder_enabled": True,
            "reminder_time": "22:00",
            "quiet_hours_start": "23:00",
            "quiet_hours_end": "06:00",
        },
    )
    assert ok.status_code == 200
    assert_problem(api.patch(URL, {"quiet_hours_start": "21:30"}), 400, fields=["reminder_time"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reminder_time": "7:30"}, "reminder_time"),
        ({"reminder_time": "24:00"}, "reminder_time"),
        ({"reminder_time": "07:30:00"}, "reminder_time"),
        ({"reminder_time": 730}, "reminder_time"),
        ({"quiet_hours_start": "07:00", "quiet_hours_end": "07:00"}, "quiet_hours_end"),
        ({"push_enabled": "yes"}, "push_enabled"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_input_is_a_clear_400(api, body, field) -> None:
    assert_problem(api.patch(URL, body, format="json"), 400, fields=[field])
    assert not NotificationPreferences.objects.exists()


@pytest.mark.django_db
def test_preferences_are_per_user(api, user, other_user, make_client) -> None:
    api.patch(URL, {"email_digest": True})
    assert make_client(other_user).get(URL).json() == DEFAULTS
