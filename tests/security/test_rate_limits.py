"""OWASP API2/API4: the endpoints that check a secret (password, reset link, invitation
token) and the ones that cost the server most (imports, writes) are rate-limited, answer 429
in the problem shape with Retry-After, and a refused request does nothing.

Login itself: tests/accounts/test_apis.py (test_login_throttle_*). The CRM webhook is limited
per client IP, never per connection (docs/decisions.md "The CRM webhook is throttled per client
IP"; test_webhook_deliveries_are_limited_per_client_ip below); its HMAC check decides the rest
and an unsigned request writes nothing (tests/performance/test_webhooks.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from apps.accounts.models import ApiToken, Invitation, User
from apps.accounts.services import api_token_create, invitation_create, team_create
from apps.coaching import services as coaching_services
from apps.coaching.models import ShareGrant
from apps.core.throttles import (
    AccountLoginThrottle,
    ImportThrottle,
    LoginThrottle,
    PasswordResetThrottle,
    WebhookThrottle,
    WriteThrottle,
)
from apps.journal.models import ENTRY_MODELS
from apps.performance.models import ImportJob
from tests.core.problems import assert_problem
from tests.journal.sweep import ENTRY_BODIES
from tests.security.scene import NEW_PASSWORD, PASSWORD, client_for, consenting, recent

# Every limited request of a test in one window of the fixed-window throttles (conftest.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttle_window")]


def slow_down(
    monkeypatch: pytest.MonkeyPatch, throttle: type[SimpleRateThrottle], rate: str
) -> None:
    # DRF copies DEFAULT_THROTTLE_RATES onto the class at import, so patch the class.
    assert throttle.scope is not None
    monkeypatch.setattr(
        throttle, "THROTTLE_RATES", {**throttle.THROTTLE_RATES, throttle.scope: rate}
    )


def assert_throttled(response: Any, *, window_seconds: int) -> None:
    assert_problem(response, 429, code="throttled")
    assert 0 < int(response["Retry-After"]) <= window_seconds, response["Retry-After"]


def test_password_reset_requests_are_limited_per_client(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any, tasks_inline
) -> None:
    user = consenting()
    slow_down(monkeypatch, PasswordResetThrottle, "3/min")
    client = APIClient()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            response = client.post("/api/v1/auth/password/reset", {"email": user.email})
            assert response.status_code == 202, response.content
    with django_capture_on_commit_callbacks(execute=True):
        throttled = client.post("/api/v1/auth/password/reset", {"email": user.email})
    assert_throttled(throttled, window_seconds=60)
    assert len(mail.outbox) == 3, "the refused request still sent a reset mail"
    # Guessing reset links shares the limit: the confirm step is refused as well.
    confirm = client.post(
        "/api/v1/auth/password/reset/confirm",
        {"uid": "x", "token": "y", "new_password": NEW_PASSWORD},
    )
    assert_throttled(confirm, window_seconds=60)


def _team_invitation(user: User) -> str:
    team = team_create(name="Inviting team", creator=consenting())
    _invitation, raw = invitation_create(
        team=team, email=user.email, role="rep", invited_by=consenting()
    )
    return raw


def _coach_invitation(user: User) -> str:
    _grant, raw = coaching_services.grant_create(
        rep=consenting(), coach_email=user.email, scopes=["energy_trend"]
    )
    return raw


@pytest.mark.parametrize(
    ("url", "make_token", "accepted"),
    [
        (
            "/api/v1/invitations/accept",
            _team_invitation,
            lambda: Invitation.objects.filter(accepted_at__isnull=False).exists(),
        ),
        (
            "/api/v1/coaching/invitations/accept",
            _coach_invitation,
            lambda: ShareGrant.objects.filter(accepted_at__isnull=False).exists(),
        ),
    ],
    ids=["team invitation", "coach invitation"],
)
def test_invitation_tokens_cannot_be_guessed_quickly(
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    make_token: Callable[[User], str],
    accepted: Callable[[], bool],
) -> None:
    invitee = consenting()
    raw = make_token(invitee)
    slow_down(monkeypatch, LoginThrottle, "3/min")
    client = client_for(invitee)
    for _ in range(3):
        assert_problem(client.post(url, {"token": "guess-" + uuid.uuid4().hex}), 400)
    # The right token is refused too once the guesses are used up: guessing learns nothing.
    assert_throttled(client.post(url, {"token": raw}), window_seconds=60)
    assert not accepted()


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/auth/password/change", {"old_password": "guess", "new_password": NEW_PASSWORD}),
        ("/api/v1/privacy/account/delete", {"password": "guess"}),
    ],
    ids=["password change", "account deletion"],
)
def test_an_api_token_cannot_guess_the_accounts_password(
    monkeypatch: pytest.MonkeyPatch, url: str, body: dict[str, str]
) -> None:
    """A leaked API token is not the password: it must not become unlimited guesses at it."""
    user = consenting()
    _token, raw = api_token_create(user=user, name="script")
    slow_down(monkeypatch, LoginThrottle, "3/min")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    for _ in range(3):
        assert_problem(client.post(url, body), 400)
    right = {**body, "old_password": PASSWORD} if "old_password" in body else {"password": PASSWORD}
    assert_throttled(client.post(url, right), window_seconds=60)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert ApiToken.objects.filter(user=user).exists()


def test_imports_are_limited_per_user(
    monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    rep = consenting()
    slow_down(monkeypatch, ImportThrottle, "2/hour")
    client = client_for(rep)

    def upload(number: int) -> Any:
        content = f"kind,external_id,occurred_at,outcome\ncall,rl-{number},{recent()},busy\n"
        file = SimpleUploadedFile("calls.csv", content.encode(), "text/csv")
        return client.post(
            "/api/v1/performance/imports",
            {"file": file, "format": "energytrack"},
            format="multipart",
        )

    for number in range(2):
        assert upload(number).status_code == 201
    assert_throttled(upload(2), window_seconds=3600)
    assert ImportJob.objects.count() == 2
    # Reading the import list is not an import: not limited.
    assert client.get("/api/v1/performance/imports").status_code == 200


def test_writes_are_limited_per_user_and_reads_are_not(monkeypatch: pytest.MonkeyPatch) -> None:
    rep = consenting()
    slow_down(monkeypatch, WriteThrottle, "3/min")
    client = client_for(rep)
    for _ in range(3):
        response = client.put(f"/api/v1/journal/energy/{uuid.uuid4()}", ENTRY_BODIES["energy"])
        assert response.status_code == 201, response.content
    assert_throttled(
        client.put(f"/api/v1/journal/energy/{uuid.uuid4()}", ENTRY_BODIES["energy"]),
        window_seconds=60,
    )
    assert ENTRY_MODELS["energy"].objects.filter(user=rep).count() == 3
    assert client.get("/api/v1/journal/energy").status_code == 200


def test_unsubscribe_links_are_limited_per_client(settings: Any) -> None:
    settings.NOTIFICATIONS_UNSUBSCRIBE_RATE = "2/min"
    client = APIClient()
    url = "/api/v1/notifications/email/unsubscribe"
    for _ in range(2):
        assert_problem(client.post(url, {"token": "forged"}), 400)
    assert_throttled(client.post(url, {"token": "forged"}), window_seconds=60)


def test_genuine_one_click_unsubscribes_from_one_mail_provider_are_limited_per_account(
    settings: Any,
) -> None:
    """A mail provider posts every user's RFC 8058 one-click unsubscribe from the same few
    addresses: genuine links count per account, so the third rep from that address still gets
    through, while one link posted over and over is limited, and forged ones per address."""
    from apps.notifications.services import email_unsubscribe_token

    settings.NOTIFICATIONS_UNSUBSCRIBE_RATE = "2/min"
    provider = APIClient(REMOTE_ADDR="203.0.113.25")
    url = "/api/v1/notifications/email/unsubscribe"
    links = [f"{url}?token={email_unsubscribe_token(user=consenting())}" for _ in range(3)]

    def one_click(link: str) -> Any:
        return provider.post(
            link, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
        )

    assert [one_click(link).status_code for link in links] == [200, 200, 200]
    assert one_click(links[0]).status_code == 200
    assert_throttled(one_click(links[0]), window_seconds=60)
    for _ in range(2):
        assert_problem(provider.post(url, {"token": "forged"}), 400)
    assert_throttled(provider.post(url, {"token": "forged"}), window_seconds=60)
    assert one_click(links[1]).status_code == 200


def test_a_forged_forwarded_for_header_does_not_lift_the_login_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = consenting()
    slow_down(monkeypatch, LoginThrottle, "3/min")
    client = APIClient()
    statuses = [
        client.post(
            "/api/v1/auth/login",
            {"email": user.email, "password": f"guess-{n}"},
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        ).status_code
        for n in range(6)
    ]
    assert statuses == [400, 400, 400, 429, 429, 429], statuses


def test_webhook_deliveries_are_limited_per_client_ip(monkeypatch: pytest.MonkeyPatch) -> None:
    # Unsigned floods from one address stop at the limit; the limit is per address, so a
    # stranger's flood does not use up the CRM's own allowance.
    slow_down(monkeypatch, WebhookThrottle, "3/min")
    url = f"/api/v1/performance/webhooks/{uuid.uuid4()}"
    headers = {"HTTP_X_ENERGYTRACK_TIMESTAMP": "0", "HTTP_X_ENERGYTRACK_SIGNATURE": "forged"}
    client = APIClient()
    statuses = [client.post(url, {}, format="json", **headers).status_code for _ in range(3)]
    assert 429 not in statuses
    assert_throttled(client.post(url, {}, format="json", **headers), window_seconds=60)
    other = APIClient(REMOTE_ADDR="198.51.100.7")
    assert other.post(url, {}, format="json", **headers).status_code != 429


def test_addresses_of_one_ipv6_64_share_the_login_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host gets a whole /64: counting each address would give it 2^64 tries."""
    user = consenting()
    slow_down(monkeypatch, LoginThrottle, "3/min")
    statuses = [
        APIClient(REMOTE_ADDR=f"2001:db8:1:2::{n + 1:x}")
        .post("/api/v1/auth/login", {"email": user.email, "password": f"guess-{n}"})
        .status_code
        for n in range(6)
    ]
    assert statuses == [400, 400, 400, 429, 429, 429], statuses
    # Another /64 has its own count.
    other = APIClient(REMOTE_ADDR="2001:db8:1:3::1")
    assert (
        other.post("/api/v1/auth/login", {"email": user.email, "password": "x"}).status_code == 400
    )


def test_guesses_for_one_account_from_many_addresses_are_limited(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = consenting()
    slow_down(monkeypatch, AccountLoginThrottle, "3/hour")
    statuses = [
        APIClient(REMOTE_ADDR=f"198.51.100.{n + 1}")
        .post("/api/v1/auth/login", {"email": user.email.upper(), "password": f"guess-{n}"})
        .status_code
        for n in range(5)
    ]
    assert statuses == [400, 400, 400, 429, 429], statuses
    # The right password is refused too while the account is limited; other accounts are not.
    refused = APIClient(REMOTE_ADDR="203.0.113.9").post(
        "/api/v1/auth/login", {"email": user.email, "password": PASSWORD}
    )
    assert_throttled(refused, window_seconds=3600)
    someone = consenting()
    assert (
        APIClient(REMOTE_ADDR="203.0.113.9")
        .post("/api/v1/auth/login", {"email": someone.email, "password": PASSWORD})
        .status_code
        == 200
    )


def test_the_admin_sign_in_is_limited_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """A staff password opens every rep's account: the admin's login form counts like the
    API's."""
    from django.test import Client

    staff = consenting()
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    slow_down(monkeypatch, LoginThrottle, "3/min")
    client = Client()
    statuses = [
        client.post(
            "/admin/login/", {"username": staff.email, "password": f"guess-{n}"}
        ).status_code
        for n in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429], statuses
    assert int(client.post("/admin/login/", {"username": staff.email})["Retry-After"]) > 0
