"""The Redis cache, made cheap per call and soft on failure (DESIGN.md §6: Redis is a helper).

Django's own Redis backend builds a new ``redis.Redis`` client for every operation (copying
~170 response callbacks each time): about 0.15 ms per cache call, paid by every request for its
session. This backend keeps one client per connection pool. It also treats an unreachable
Redis as a cache miss: sessions fall back to the database, the write throttle opens, a cached
day view is rebuilt. Coordination calls (``add``, ``incr``) still raise, so callers that use
them as locks decide for themselves.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)
T = TypeVar("T")
_WARN_EVERY_SECONDS = 30.0
_RETRY_AFTER_SECONDS = 5.0


class _ReusingClient(RedisCacheClient):
    def __init__(self, servers: list[str], **options: Any) -> None:
        super().__init__(servers, **options)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # The stubs do not declare Django's private helpers.
        base: Any = self
        index = base._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            # redis.Redis is thread-safe: it only borrows connections from the pool.
            client = base._client(connection_pool=base._get_connection_pool(write))
            self._clients[index] = client
        return client


# KEYS[1] the value's key, KEYS[2] the hold; ARGV[1] the value, ARGV[2] seconds to live.
_SET_UNLESS_HELD = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""


class SoftRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _ReusingClient
        self._last_warning = 0.0
        # After a failure reads, writes and counters leave Redis alone for a moment: a Redis
        # that hangs would otherwise cost every request a socket timeout per cache call
        # (seconds for a session plus a throttle), not just the first one that noticed.
        self._skip_until = 0.0
        self._scripts: dict[int, Any] = {}

    def _unavailable(self, exc: Exception) -> None:
        now = time.monotonic()
        self._skip_until = now + _RETRY_AFTER_SECONDS
        if now - self._last_warning > _WARN_EVERY_SECONDS:
            self._last_warning = now
            logger.warning("cache unavailable (%s); serving without it", type(exc).__name__)

    def _skipping(self) -> bool:
        return time.monotonic() < self._skip_until

    def _soft(self, call: Callable[[], T], fallback: T, *, skippable: bool = True) -> T:
        if skippable and self._skipping():
            return fallback
        try:
            return call()
        except UNAVAILABLE as exc:
            self._unavailable(exc)
            return fallback

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._soft(lambda: RedisCache.get(self, key, default, version), default)

    def get_many(self, keys: Any, version: int | None = None) -> dict[str, Any]:
        return self._soft(lambda: RedisCache.get_many(self, keys, version), {})

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> None:
        self._soft(lambda: RedisCache.set(self, key, value, timeout, version), None)

    def set_many(
        self, data: dict[str, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list[str]:
        return self._soft(lambda: RedisCache.set_many(self, data, timeout, version), list(data))

    def delete(self, key: Any, version: int | None = None) -> bool:
        # Always tried, even while skipping: a logout must not leave its session in the cache.
        deleted = self._soft(lambda: RedisCache.delete(self, key, version), False, skippable=False)
        return bool(deleted)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._soft(lambda: bool(RedisCache.touch(self, key, timeout, version)), False)

    def delete_prefixed(self, prefix: str) -> int:
        """Delete every key that starts with ``prefix`` (SCAN, then DEL in chunks); the number
        deleted. Walks the whole keyspace: for rare acts (an erasure), not for every request.
        Always tried, as ``delete``; an unreachable Redis deletes nothing and returns 0."""
        return self._soft(lambda: self._delete_prefixed(prefix), 0, skippable=False)

    def _delete_prefixed(self, prefix: str) -> int:
        # The glob's own characters in a key are matched literally.
        pattern = re.sub(r"([\\*?\[\]])", r"\\\1", self.make_and_validate_key(prefix)) + "*"
        client = self._cache.get_client(write=True)
        deleted = 0
        chunk: list[Any] = []
        for key in client.scan_iter(match=pattern, count=1000):
            chunk.append(key)
            if len(chunk) == 500:
                deleted += int(client.delete(*chunk))
                chunk = []
        if chunk:
            deleted += int(client.delete(*chunk))
        return deleted

    def set_unless_held(self, key: str, value: Any, timeout: int, hold_key: str) -> bool:
        """``set`` unless ``hold_key`` exists, in one atomic step (a Lua script); whether it
        was set. Soft like ``set``: an unreachable Redis sets nothing."""
        return self._soft(lambda: self._set_unless_held(key, value, timeout, hold_key), False)

    def _set_unless_held(self, key: str, value: Any, timeout: int, hold_key: str) -> bool:
        full_key = self.make_and_validate_key(key)
        client = self._cache.get_client(full_key, write=True)
        # The stubs do not declare Django's serializer attribute.
        serializer: Any = self._cache._serializer  # type: ignore[attr-defined]
        script = self._scripts.get(id(client))
        if script is None:
            # One Script per client: it sends the script's SHA (EVALSHA), loading it once.
            script = self._scripts.setdefault(id(client), client.register_script(_SET_UNLESS_HELD))
        done = script(
            keys=[full_key, self.make_and_validate_key(hold_key)],
            args=[serializer.dumps(value), int(timeout)],
        )
        return bool(done)

    def hit(self, key: str, window_seconds: int) -> int:
        """Count one event in a fixed window: one round trip (INCR and EXPIRE pipelined)."""
        if self._skipping():
            raise RedisConnectionError("skipped: Redis failed a moment ago")
        try:
            return self._hit(key, window_seconds)
        except UNAVAILABLE as exc:
            self._unavailable(exc)
            raise

    def _hit(self, key: str, window_seconds: int) -> int:
        full_key = self.make_and_validate_key(key)
        pipe = self._cache.get_client(full_key, write=True).pipeline(transaction=False)
        pipe.incr(full_key)
        pipe.expire(full_key, window_seconds, nx=True)
        count, _ = pipe.execute()
        return int(count)


def delete_prefixed(prefix: str, alias: str = "default") -> int:
    """Delete every cached value whose key starts with ``prefix``: Redis (SCAN) and Django's
    in-memory cache (tests, one machine). Another backend cannot list its keys: its values stay
    until their timeout, and that is logged. Returns the number of keys deleted."""
    backend = caches[alias]
    if isinstance(backend, SoftRedisCache):
        return backend.delete_prefixed(prefix)
    if isinstance(backend, LocMemCache):
        # The stubs do not declare LocMemCache's private dict and lock.
        local: Any = backend
        full = backend.make_and_validate_key(prefix)
        with local._lock:
            keys = [key for key in local._cache if key.startswith(full)]
            for key in keys:
                local._delete(key)
        return len(keys)
    logger.warning("cache %s cannot delete by prefix; %s* expires by its timeout", alias, prefix)
    return 0


def set_unless_held(
    key: str, value: Any, timeout: int, hold_key: str, alias: str = "default"
) -> bool:
    """Cache ``value`` unless ``hold_key`` is set (``hold``); whether it was cached.

    For a value read from the database that a deletion may have made obsolete while it was
    being read: the deletion holds, then deletes by prefix, so a copy set after the deletion is
    refused by the hold and one set before it is deleted with the rest. Atomic on Redis; on
    another backend (tests, one process) the check and the set are two steps."""
    backend = caches[alias]
    if isinstance(backend, SoftRedisCache):
        return backend.set_unless_held(key, value, timeout, hold_key)
    if backend.has_key(hold_key):
        return False
    backend.set(key, value, timeout)
    return True


def hold(hold_key: str, seconds: int, alias: str = "default") -> None:
    """Refuse ``set_unless_held`` of values guarded by ``hold_key`` for ``seconds``."""
    caches[alias].set(hold_key, 1, seconds)


class CacheUnavailable(Exception):
    pass


def count_hit(key: str, window_seconds: int, alias: str = "default") -> int:
    """Add one to a counter that lives for ``window_seconds``; the new count.

    Raises CacheUnavailable when Redis cannot be reached.
    """
    backend = caches[alias]
    try:
        if isinstance(backend, SoftRedisCache):
            return backend.hit(key, window_seconds)
        # Other backends (locmem in tests and on one machine): add-then-incr is atomic enough
        # under their own locking.
        backend.add(key, 0, window_seconds)
        try:
            return int(backend.incr(key))
        except ValueError:  # expired between add and incr
            backend.add(key, 1, window_seconds)
            return 1
    except UNAVAILABLE as exc:
        raise CacheUnavailable(str(exc)) from exc
