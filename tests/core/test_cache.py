"""The Redis cache backend and the write throttle, against a real Redis and a dead port."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from apps.core.cache import CacheUnavailable, SoftRedisCache, count_hit
from tests.journal.helpers import VALID, entry_url, put

pytestmark = pytest.mark.redis


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


def _cache_settings(location: str) -> dict[str, Any]:
    return {
        "default": {
            "BACKEND": "apps.core.cache.SoftRedisCache",
            "LOCATION": location,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }


@pytest.fixture
def live() -> Iterator[SoftRedisCache]:
    backend = SoftRedisCache(settings.REDIS_URL, _cache_settings(settings.REDIS_URL)["default"])
    yield backend
    # Only this test's keys: the same Redis database carries the suite's broker queues.
    client = backend._cache.get_client(write=True)
    keys = client.keys(f"{backend.key_prefix}:*")
    if keys:
        client.delete(*keys)


@pytest.fixture
def dead() -> SoftRedisCache:
    location = f"redis://127.0.0.1:{_closed_port()}/0"
    return SoftRedisCache(location, _cache_settings(location)["default"])


def test_values_round_trip_through_one_reused_client(live: SoftRedisCache) -> None:
    live.set("a", {"x": 1}, 30)
    live.set_many({"b": b"bytes", "c": "text"}, 30)

    assert live.get("a") == {"x": 1}
    assert live.get_many(["b", "c", "missing"]) == {"b": b"bytes", "c": "text"}
    # One redis.Redis per pool, not one per call (the cost this backend exists to remove).
    assert live._cache.get_client() is live._cache.get_client(write=True)


def test_hit_counts_in_a_window_that_expires(live: SoftRedisCache) -> None:
    assert [live.hit("writes:u1:1", 60) for _ in range(3)] == [1, 2, 3]
    client = live._cache.get_client()
    ttl = client.ttl(live.make_key("writes:u1:1"))
    # The expiry is set once, by the first hit, and never pushed back by later ones.
    assert 0 < ttl <= 60


def test_an_unreachable_redis_is_a_miss_and_fails_fast(dead: SoftRedisCache) -> None:
    started = time.monotonic()

    assert dead.get("a", "fallback") == "fallback"
    assert dead.get_many(["a", "b"]) == {}
    dead.set("a", 1, 30)
    assert dead.delete("a") is False
    assert dead.touch("a", 30) is False
    assert time.monotonic() - started < 2


def test_counting_on_an_unreachable_redis_says_so() -> None:
    location = f"redis://127.0.0.1:{_closed_port()}/0"
    with override_settings(CACHES=_cache_settings(location)), pytest.raises(CacheUnavailable):
        count_hit("writes:u1:1", 60)


@pytest.mark.django_db
def test_writes_beyond_the_rate_get_429_with_retry_after(
    fresh_throttle_window: Any, api: Any, consenting_user: Any, three_writes_a_minute: None
) -> None:
    with override_settings(CACHES=_cache_settings(settings.REDIS_URL)):
        statuses = [put(api, "energy", uuid.uuid4(), VALID["energy"]).status_code for _ in range(3)]
        refused = put(api, "energy", uuid.uuid4(), VALID["energy"])
        read = api.get(entry_url("energy"))

    assert statuses == [201, 201, 201]
    assert refused.status_code == 429
    assert refused.json()["status"] == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert read.status_code == 200  # reads are not counted


@pytest.mark.django_db
def test_with_redis_down_writes_and_sessions_still_work(
    fresh_throttle_window: Any, api: Any, consenting_user: Any, three_writes_a_minute: None
) -> None:
    location = f"redis://127.0.0.1:{_closed_port()}/0"
    with override_settings(CACHES=_cache_settings(location)):
        statuses = [put(api, "energy", uuid.uuid4(), VALID["energy"]).status_code for _ in range(4)]
        # The days of VALID's entries: the default range ends today and would lose them.
        days = api.get("/api/v1/journal/days?date_from=2026-11-20&date_to=2026-11-26")

    # The session comes from the database; the day view is built without its cache. The
    # journal counts its writes in PostgreSQL, so its limit holds without Redis too.
    assert statuses == [201, 201, 201, 429]
    assert days.status_code == 200
    assert sum(len(d["entries"]["energy"]) for d in days.json()["days"]) == 3


@pytest.mark.django_db
def test_with_redis_down_the_redis_counted_limits_let_writes_through(
    api: Any, consenting_user: Any, three_writes_a_minute: None
) -> None:
    location = f"redis://127.0.0.1:{_closed_port()}/0"
    with override_settings(CACHES=_cache_settings(location)):
        statuses = [api.post("/api/v1/notifications/read-all").status_code for _ in range(5)]

    # Writes other than the journal's are counted in Redis; without it they are not refused.
    assert statuses == [200] * 5


def test_after_a_failure_redis_is_left_alone_for_a_moment_except_for_deletes(
    dead: SoftRedisCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert dead.get("a") is None  # the failure that opens the pause
    attempts: list[str] = []
    real_get_client = dead._cache.get_client

    def counting(*args: Any, **kwargs: Any) -> Any:
        attempts.append("client")
        return real_get_client(*args, **kwargs)

    monkeypatch.setattr(dead._cache, "get_client", counting)
    assert dead.get("a", "fallback") == "fallback"
    dead.set("a", 1, 30)
    with pytest.raises(Exception, match="skipped"):
        dead.hit("writes:u1:1", 60)
    assert attempts == []  # none of those went near Redis
    assert dead.delete("a") is False
    assert attempts == ["client"]  # a delete is always tried (a logout must reach Redis)


def test_delete_prefixed_deletes_only_keys_with_that_prefix(live: SoftRedisCache) -> None:
    # Glob characters in the prefix are matched as themselves, not as a pattern.
    doomed = ["journal:days:7:2026-01-01:2026-01-31", "journal:days:7:a", "journal:days:7:*x"]
    kept = ["journal:days:70:a", "journal:days:8:a", "journal:days:7", "other:journal:days:7:a"]
    for key in doomed + kept:
        live.set(key, "v", 60)
    live.set("journal:days:[7]:a", "v", 60)

    assert live.delete_prefixed("journal:days:7:") == 3
    assert live.delete_prefixed("journal:days:[7]:") == 1

    assert [live.get(key) for key in doomed] == [None, None, None]
    assert [live.get(key) for key in kept] == ["v"] * len(kept)


def test_a_hold_refuses_guarded_sets_until_it_expires(live: SoftRedisCache) -> None:
    assert live.set_unless_held("days:7:a", {"v": 1}, 30, "held:7") is True
    assert live.get("days:7:a") == {"v": 1}
    client = live._cache.get_client(write=True)
    assert 25 <= client.ttl(live.make_and_validate_key("days:7:a")) <= 30

    live.set("held:7", 1, 1)
    assert live.set_unless_held("days:7:a", {"v": 2}, 30, "held:7") is False
    assert live.set_unless_held("days:8:a", {"v": 2}, 30, "held:8") is True  # another hold
    assert live.get("days:7:a") == {"v": 1}

    time.sleep(1.2)
    assert live.set_unless_held("days:7:a", {"v": 3}, 30, "held:7") is True
    assert live.get("days:7:a") == {"v": 3}


def test_a_guarded_set_on_an_unreachable_redis_sets_nothing(dead: SoftRedisCache) -> None:
    assert dead.set_unless_held("days:7:a", {"v": 1}, 30, "held:7") is False


def test_delete_prefixed_on_an_unreachable_redis_deletes_nothing_quickly(
    dead: SoftRedisCache,
) -> None:
    started = time.monotonic()
    assert dead.delete_prefixed("journal:days:7:") == 0
    assert time.monotonic() - started < 2
