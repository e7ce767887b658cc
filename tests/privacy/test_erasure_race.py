"""A request that began signed in while the account's erasure was committing: whatever it
writes waits for the erasure's locks and then finds the user gone. It is answered as signed out
(401, the one error shape; 403 where DRF answers signed-out requests so), stores nothing, and
is never a 500."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from apps.accounts.models import User
from apps.privacy.services import user_erase
from tests.races import while_another_transaction_holds

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _day_before(days: int) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(days=days)).isoformat()


# One write per app that stores something of the rep's; each failed with a 500 before.
WRITES: dict[str, tuple[str, str, Any]] = {
    "coaching grant": (
        "post",
        "/api/v1/coaching/grants",
        {"coach_email": "new.coach@example.com", "scopes": ["energy_trend"]},
    ),
    "notification preferences": (
        "patch",
        "/api/v1/notifications/preferences",
        {"email_digest": False},
    ),
    "meeting": (
        "put",
        "/api/v1/performance/meetings/{id}",
        {"occurred_at": _day_before(1), "status": "held", "budget": True},
    ),
    "consent grant": ("post", "/api/v1/privacy/consents/sleep/grant", None),
    "export request": ("post", "/api/v1/privacy/exports", None),
    "API token": ("post", "/api/v1/auth/tokens", {"name": "script"}),
    "profile": ("patch", "/api/v1/auth/me", {"display_name": "Renamed"}),
}


@pytest.mark.parametrize("write", list(WRITES))
def test_a_write_that_waited_for_the_accounts_erasure_is_answered_as_signed_out(
    api, consenting_user: User, write: str
) -> None:
    method, path, body = WRITES[write]
    assert api.get("/api/v1/auth/me").status_code == 200  # warm-up: the race waits for the write

    with while_another_transaction_holds(lambda: user_erase(user=consenting_user)):
        response = getattr(api, method)(path.format(id=uuid.uuid4()), body, format="json")

    if write == "API token":
        # Session-only, so no challenge to send: a 403, as DRF answers a signed-out request there.
        assert response.status_code == 403, response.content
    else:
        assert response.status_code == 401, response.content
        assert response["WWW-Authenticate"]
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"].endswith("/not-authenticated")
    assert not User.objects.filter(pk=consenting_user.pk).exists()


def test_a_database_error_of_an_existing_account_stays_a_500(consenting_user: User) -> None:
    """Only an erased account turns a failed write into a 401: another database error of a
    signed-in rep is left unhandled (a 500, reported as the bug it is)."""
    from django.db import IntegrityError
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from apps.core.exceptions import problem_exception_handler

    request = Request(APIRequestFactory().patch("/api/v1/notifications/preferences"))
    request.user = consenting_user

    assert problem_exception_handler(IntegrityError("other"), {"request": request}) is None
