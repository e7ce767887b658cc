"""Sessions live in PostgreSQL with a copy in Redis: a sign-out must end the session even when
Redis cannot take the deletion (a real, private Redis that pauses its writes)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync
from django.test import override_settings
from rest_framework.test import APIClient

from apps.core.cache import _RETRY_AFTER_SECONDS
from apps.core.sessions import SessionStore
from tests.reliability.services import PrivateRedis

pytestmark = [pytest.mark.redis, pytest.mark.django_db]

LOGIN = "/api/v1/auth/login"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/auth/me"
PASSWORD = "correct horse battery"  # what UserFactory sets
CACHED_SECONDS = 4


@pytest.fixture
def sessions_in_private_redis(private_redis: PrivateRedis) -> Iterator[redis.Redis]:
    cache = {
        "default": {
            "BACKEND": "apps.core.cache.SoftRedisCache",
            "LOCATION": private_redis.url,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    with override_settings(CACHES=cache, SESSION_CACHE_SECONDS=CACHED_SECONDS):
        client = redis.Redis.from_url(private_redis.url, decode_responses=True)
        yield client
        client.close()


def _session_keys(client: redis.Redis) -> list[str]:
    return [key for key in map(str, client.keys("*")) if "sessions" in key]


def test_the_cached_copy_of_a_session_lives_briefly(
    user: Any, sessions_in_private_redis: redis.Redis
) -> None:
    api = APIClient()
    assert api.post(LOGIN, {"email": user.email, "password": PASSWORD}).status_code == 200
    assert api.get(ME).status_code == 200
    [key] = _session_keys(sessions_in_private_redis)
    assert 0 < sessions_in_private_redis.ttl(key) <= CACHED_SECONDS
    # Read again from PostgreSQL once the copy expired: the session itself lasts its 30 days.
    time.sleep(CACHED_SECONDS + 0.5)
    assert _session_keys(sessions_in_private_redis) == []
    assert api.get(ME).status_code == 200
    [key] = _session_keys(sessions_in_private_redis)
    assert 0 < sessions_in_private_redis.ttl(key) <= CACHED_SECONDS


def test_a_sign_out_that_redis_missed_ends_the_session_once_the_copy_expires(
    user: Any, sessions_in_private_redis: redis.Redis
) -> None:
    api = APIClient()
    assert api.post(LOGIN, {"email": user.email, "password": PASSWORD}).status_code == 200
    assert api.get(ME).status_code == 200
    cookie = api.cookies["sessionid"].value

    # Redis takes no writes for a while (a failover, a full memory): the sign-out's deletion
    # of the cached copy times out and is dropped; the database row is deleted.
    sessions_in_private_redis.execute_command("CLIENT", "PAUSE", 1500, "WRITE")
    assert api.post(LOGOUT).status_code == 204
    time.sleep(1.6)
    assert _session_keys(sessions_in_private_redis), "the copy is still in Redis"

    # The cookie of the ended session (a stolen copy, a second tab) once Redis is back, in a
    # process that did not see the failure (this one leaves Redis alone for a few seconds
    # after it): the copy is trusted at most SESSION_CACHE_SECONDS after it was cached, then
    # the database says the session is gone.
    time.sleep(max(0.0, _RETRY_AFTER_SECONDS - 1.6) + 1.5)
    thief = APIClient()
    thief.cookies["sessionid"] = cookie
    assert thief.get(ME).status_code in (401, 403)


def test_the_async_session_methods_cap_the_copy_too(
    user: Any, sessions_in_private_redis: redis.Redis
) -> None:
    store = SessionStore()
    store["marker"] = "async"
    async_to_sync(store.asave)(must_create=True)
    [key] = _session_keys(sessions_in_private_redis)
    assert 0 < sessions_in_private_redis.ttl(key) <= CACHED_SECONDS
    sessions_in_private_redis.delete(key)

    again = SessionStore(store.session_key)
    assert async_to_sync(again.aload)() == {"marker": "async"}  # from the database row
    [key] = _session_keys(sessions_in_private_redis)
    assert 0 < sessions_in_private_redis.ttl(key) <= CACHED_SECONDS
