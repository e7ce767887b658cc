"""Django's cached-database sessions, with the Redis copy trusted only briefly.

The session row in PostgreSQL is the truth; the copy in Redis saves a query per request.
Django caches that copy for the session's whole age (30 days), so a sign-out whose deletion of
the copy did not reach Redis (a Redis that times out: the cache is soft, DESIGN.md §6) left the
signed-out session usable from the copy once Redis answered again. Here the copy lives at most
``SESSION_CACHE_SECONDS``; after that the next request reads the row, which a sign-out deleted.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends import cached_db
from django.contrib.sessions.backends.db import SessionStore as DBStore

logger = logging.getLogger("django.contrib.sessions")


def _cache_seconds(age: int) -> int:
    return max(0, min(age, settings.SESSION_CACHE_SECONDS))


class SessionStore(cached_db.SessionStore):
    # Django's own load/save with the copy's lifetime capped. The stubs do not declare the
    # private helpers they use, hence ``store: Any``.

    def load(self) -> dict[str, Any]:
        store: Any = self
        try:
            data = store._cache.get(self.cache_key)
        except Exception:  # as Django's: a backend may refuse the key; then the row decides
            data = None
        if data is not None:
            return dict(data)
        row = store._get_session_from_db()
        if not row:
            return {}
        data = self.decode(row.session_data)
        age = self.get_expiry_age(expiry=row.expire_date)
        store._cache.set(self.cache_key, data, _cache_seconds(age))
        return dict(data)

    async def aload(self) -> dict[str, Any]:
        store: Any = self
        try:
            data = await store._cache.aget(await self.acache_key())
        except Exception:
            data = None
        if data is not None:
            return dict(data)
        row = await store._aget_session_from_db()
        if not row:
            return {}
        data = self.decode(row.session_data)
        age = await self.aget_expiry_age(expiry=row.expire_date)
        await store._cache.aset(await self.acache_key(), data, _cache_seconds(age))
        return dict(data)

    def save(self, must_create: bool = False) -> None:
        # The database's save, then the copy with the short lifetime (cached_db's own save
        # would cache it for the session's whole age).
        store: Any = self
        DBStore.save(self, must_create)
        try:
            store._cache.set(self.cache_key, store._session, _cache_seconds(self.get_expiry_age()))
        except Exception:
            logger.exception("Error saving to cache (%s)", store._cache)

    async def asave(self, must_create: bool = False) -> None:
        store: Any = self
        await DBStore.asave(self, must_create)
        try:
            age = await self.aget_expiry_age()
            await store._cache.aset(await self.acache_key(), store._session, _cache_seconds(age))
        except Exception:
            logger.exception("Error saving to cache (%s)", store._cache)
