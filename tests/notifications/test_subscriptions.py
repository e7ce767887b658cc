"""Subscribe / unsubscribe over HTTP, and the bad input the issue names: non-https
endpoints, private network addresses (also behind a host name), malformed keys."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from apps.notifications import push
from apps.notifications.models import PushSubscription
from tests.core.problems import assert_problem
from tests.notifications.fakepush import FakeBrowser, b64url_encode

URL = "/api/v1/notifications/push/subscriptions"
PUBLIC = "https://push.example.net/wpush/v2/abc"


@pytest.fixture
def public_dns(monkeypatch):
    """The outside world's DNS, as a table: push.example.net is public, the others not."""
    table = {
        "push.example.net": ["93.184.215.14"],
        "fcm.googleapis.com": ["142.250.179.170", "2a00:1450:400e:80f::200a"],
        "evil.example.net": ["10.1.2.3"],
        "metadata.example.net": ["169.254.169.254"],
        "mixed.example.net": ["93.184.215.14", "192.168.1.20"],
        "rebind6.example.net": ["::ffff:127.0.0.1"],
        # DNS64 answers for an IPv4-only name: 64:ff9b::/96 plus the IPv4 address.
        "dns64.example.net": ["64:ff9b::a9fe:a9fe"],
        "dns64-public.example.net": ["64:ff9b::5db8:d70e"],
    }
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host in table:
            return [
                (
                    socket.AF_INET6 if ":" in ip else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (ip, port),
                )
                for ip in table[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def _body(endpoint: str, browser: FakeBrowser | None = None) -> dict:
    return (browser or FakeBrowser()).subscription_json(endpoint)


@pytest.mark.django_db
def test_subscribe_is_idempotent_per_endpoint(api, user, public_dns) -> None:
    browser = FakeBrowser()
    first = api.post(URL, _body(PUBLIC, browser), format="json")
    assert first.status_code == 201, first.content
    assert first.json()["push_service"] == "push.example.net"
    again = api.post(URL, _body(PUBLIC, browser), format="json")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert PushSubscription.objects.filter(user=user).count() == 1
    listed = api.get(URL).json()
    assert [s["id"] for s in listed] == [first.json()["id"]]


@pytest.mark.django_db
def test_new_keys_for_the_same_endpoint_replace_the_old_ones(api, user, public_dns) -> None:
    api.post(URL, _body(PUBLIC), format="json")
    newer = FakeBrowser()
    api.post(URL, _body(PUBLIC, newer), format="json")
    stored = PushSubscription.objects.get(user=user)
    assert (stored.p256dh, stored.auth) == (newer.p256dh, newer.auth)


@pytest.mark.django_db
def test_an_endpoint_moves_to_the_account_signed_in_on_that_browser(
    api, user, other_user, make_client, public_dns
) -> None:
    make_client(other_user).post(URL, _body(PUBLIC), format="json")
    response = api.post(URL, _body(PUBLIC), format="json")
    assert response.status_code == 201
    assert PushSubscription.objects.get().user == user
    assert make_client(other_user).get(URL).json() == []


@pytest.mark.django_db
def test_unsubscribe_by_endpoint_and_by_id(api, user, public_dns) -> None:
    api.post(URL, _body(PUBLIC), format="json")
    assert (
        api.post(f"{URL[:-13]}unsubscribe", {"endpoint": PUBLIC}, format="json").status_code == 204
    )
    assert not PushSubscription.objects.exists()
    created = api.post(URL, _body(PUBLIC), format="json").json()
    assert api.delete(f"{URL}/{created['id']}").status_code == 204
    assert not PushSubscription.objects.exists()


@pytest.mark.django_db
def test_another_users_subscription_is_a_404_and_stays(
    api, other_user, make_client, public_dns
) -> None:
    theirs = make_client(other_user).post(URL, _body(PUBLIC), format="json").json()
    assert_problem(api.delete(f"{URL}/{theirs['id']}"), 404)
    assert_problem(
        api.post("/api/v1/notifications/push/unsubscribe", {"endpoint": PUBLIC}, format="json"),
        404,
    )
    assert PushSubscription.objects.filter(user=other_user).count() == 1


@pytest.mark.django_db
def test_subscriptions_per_rep_are_capped(api, user, public_dns) -> None:
    from apps.notifications.services import MAX_SUBSCRIPTIONS_PER_USER

    for index in range(MAX_SUBSCRIPTIONS_PER_USER + 2):
        assert api.post(URL, _body(f"{PUBLIC}{index}"), format="json").status_code == 201
    endpoints = set(PushSubscription.objects.values_list("endpoint", flat=True))
    assert len(endpoints) == MAX_SUBSCRIPTIONS_PER_USER
    assert f"{PUBLIC}0" not in endpoints  # the oldest went


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("endpoint", "detail"),
    [
        ("http://push.example.net/abc", "must be an https:// URL"),
        ("ftp://push.example.net/abc", "must be an https:// URL"),
        ("https:///no-host", "must be an https:// URL"),
        ("not a url", "must be an https:// URL"),
        ("https://user:pw@push.example.net/abc", "credentials"),
        ("https://10.0.0.8/wpush", "private, loopback or link-local"),
        ("https://192.168.1.1/wpush", "private, loopback or link-local"),
        ("https://172.16.5.4/wpush", "private, loopback or link-local"),
        ("https://100.64.0.1/wpush", "private, loopback or link-local"),
        ("https://169.254.169.254/latest/meta-data", "private, loopback or link-local"),
        ("https://0.0.0.0/wpush", "private, loopback or link-local"),
        ("https://[::1]/wpush", "private, loopback or link-local"),
        ("https://[fe80::1]/wpush", "private, loopback or link-local"),
        ("https://[fd00::1]/wpush", "private, loopback or link-local"),
        ("https://[::ffff:10.0.0.1]/wpush", "private, loopback or link-local"),
        ("https://224.0.0.1/wpush", "private, loopback or link-local"),
        ("https://127.0.0.1/wpush", "private, loopback or link-local"),
        ("https://localhost/wpush", "private, loopback or link-local"),
        ("https://2130706433/wpush", "private, loopback or link-local"),
        ("https://evil.example.net/wpush", "private, loopback or link-local"),
        ("https://metadata.example.net/wpush", "private, loopback or link-local"),
        ("https://mixed.example.net/wpush", "private, loopback or link-local"),
        ("https://rebind6.example.net/wpush", "private, loopback or link-local"),
        # NAT64 (RFC 6052) reaches the IPv4 address in the last 32 bits: metadata, 10/8 ...
        ("https://[64:ff9b::a9fe:a9fe]/wpush", "private, loopback or link-local"),
        ("https://[64:ff9b::10.0.0.1]/wpush", "private, loopback or link-local"),
        ("https://[64:ff9b:1::a00:1]/wpush", "private, loopback or link-local"),
        ("https://dns64.example.net/wpush", "private, loopback or link-local"),
        # IPv4-compatible (::a.b.c.d, RFC 4291 deprecated) and site-local (fec0::/10).
        ("https://[::127.0.0.1]/wpush", "private, loopback or link-local"),
        ("https://[::a9fe:a9fe]/wpush", "private, loopback or link-local"),
        ("https://[fec0::1]/wpush", "private, loopback or link-local"),
        ("https://does-not-exist.invalid/wpush", "does not resolve"),
        ("https://push.example.net:99999/abc", "not a valid URL"),
        ("https://" + "a" * 2050 + ".net/", "2048 characters"),
    ],
)
def test_unsafe_endpoints_are_refused_with_a_clear_400(
    api, user, public_dns, settings, endpoint, detail
) -> None:
    settings.PUSH_ALLOW_LOOPBACK = False
    settings.DEBUG = False
    response = api.post(URL, _body(endpoint), format="json")
    body = assert_problem(response, 400, fields=["endpoint"])
    assert detail in body["detail"], body["detail"]
    assert not PushSubscription.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "endpoint",
    ["https://[64:ff9b::93.184.215.14]/wpush", "https://dns64-public.example.net/wpush"],
)
def test_nat64_addresses_of_public_ipv4_hosts_are_accepted(
    api: Any, public_dns: None, settings: Any, endpoint: str
) -> None:
    # An IPv6-only network reaches IPv4-only push services through NAT64: not refused.
    settings.PUSH_ALLOW_LOOPBACK = False
    settings.DEBUG = False
    assert api.post(URL, _body(endpoint), format="json").status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:8765/push/a", "https://localhost/push/b"])
def test_loopback_is_allowed_only_in_development_or_tests(api, settings, endpoint) -> None:
    settings.DEBUG = False
    settings.PUSH_ALLOW_LOOPBACK = True
    assert api.post(URL, _body(endpoint), format="json").status_code == 201
    settings.PUSH_ALLOW_LOOPBACK = False
    settings.DEBUG = True
    assert api.post(URL, _body(endpoint), format="json").status_code == 200
    settings.DEBUG = False
    assert_problem(api.post(URL, _body(endpoint + "x"), format="json"), 400, fields=["endpoint"])


@pytest.mark.django_db
def test_http_to_a_public_host_is_refused_even_when_loopback_is_allowed(api, public_dns) -> None:
    body = assert_problem(
        api.post(URL, _body("http://push.example.net/x"), format="json"), 400, fields=["endpoint"]
    )
    assert "https://" in body["detail"]


def _point(raw: bytes) -> str:
    return b64url_encode(raw)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("keys", "field", "detail"),
    [
        ({"p256dh": "not*base64", "auth": FakeBrowser().auth}, "keys.p256dh", "base64url"),
        (
            {"p256dh": _point(b"\x04" + b"\x01" * 40), "auth": FakeBrowser().auth},
            "keys.p256dh",
            "65 bytes",
        ),
        (
            {"p256dh": _point(b"\x02" + b"\x01" * 64), "auth": FakeBrowser().auth},
            "keys.p256dh",
            "65 bytes",
        ),
        (
            {"p256dh": _point(b"\x04" + b"\x01" * 64), "auth": FakeBrowser().auth},
            "keys.p256dh",
            "P-256 curve",
        ),
        ({"p256dh": FakeBrowser().p256dh, "auth": _point(b"\x01" * 8)}, "keys.auth", "16-byte"),
        ({"p256dh": FakeBrowser().p256dh, "auth": "%%%%"}, "keys.auth", "base64url"),
    ],
)
def test_malformed_keys_are_refused(api, public_dns, keys, field, detail) -> None:
    body = {"endpoint": PUBLIC, "keys": keys}
    problem = assert_problem(api.post(URL, body, format="json"), 400, fields=[field])
    assert detail in problem["errors"][field][0]
    assert not PushSubscription.objects.exists()


@pytest.mark.django_db
def test_padded_base64_keys_are_accepted_and_normalised(api, public_dns) -> None:
    browser = FakeBrowser()
    body = {
        "endpoint": PUBLIC,
        "keys": {"p256dh": browser.p256dh + "=", "auth": browser.auth + "=="},
    }
    assert api.post(URL, body, format="json").status_code == 201
    assert PushSubscription.objects.get().p256dh == browser.p256dh


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"endpoint": PUBLIC},
        {"endpoint": PUBLIC, "keys": {"p256dh": "x"}},
        {"endpoint": 42, "keys": {"p256dh": "x", "auth": "y"}},
        {"endpoint": PUBLIC, "keys": {"p256dh": "x", "auth": "y"}, "unknown": 1},
    ],
)
def test_structurally_wrong_bodies_are_400(api, body) -> None:
    assert_problem(api.post(URL, body, format="json"), 400)


@pytest.mark.django_db
def test_public_key_endpoint(api, vapid_keys, settings) -> None:
    assert api.get("/api/v1/notifications/push/public-key").json() == {
        "enabled": True,
        "public_key": vapid_keys[1],
    }
    settings.VAPID_PRIVATE_KEY = ""
    assert api.get("/api/v1/notifications/push/public-key").json() == {
        "enabled": False,
        "public_key": None,
    }


@pytest.mark.django_db
def test_anonymous_requests_are_401(make_client) -> None:
    assert_problem(make_client(None).post(URL, _body(PUBLIC), format="json"), 401)
    assert_problem(make_client(None).get("/api/v1/notifications/"), 401)


def test_resolver_failures_are_endpoint_errors() -> None:
    def broken(host: str, port: int) -> list[str]:
        raise socket.gaierror("no")

    with pytest.raises(push.EndpointError, match="does not resolve"):
        push.validate_endpoint("https://x.example/", allow_loopback=False, resolver=broken)
    with pytest.raises(push.EndpointError, match="private"):
        push.validate_endpoint(
            "https://x.example/", allow_loopback=False, resolver=lambda h, p: ["10.0.0.1"]
        )
    assert (
        push.validate_endpoint(
            "https://x.example/a", allow_loopback=False, resolver=lambda h, p: ["93.184.215.14"]
        )
        == "https://x.example/a"
    )
