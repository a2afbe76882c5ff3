"""The cache: Redis when configured, an in-process TTL cache otherwise; an outage is only a miss."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from cachetools import TLRUCache

from companion import metrics

if TYPE_CHECKING:  # the client (about 25 MB with its imports) is loaded only when Redis is configured
    from redis.asyncio import Redis

logger = logging.getLogger(__name__)

# Key patterns and lifetimes follow seed 000's caching table.
CHAPTER_TTL = 24 * 3600
QUIZ_TTL = 24 * 3600
PROGRESS_TTL = 300
STREAK_TTL = 300


def progress_key(user_id: object) -> str:
    return f"progress:{user_id}"


def streak_key(user_id: object) -> str:
    return f"streak:{user_id}"


def chapter_key(course_id: str, version: str, chapter_id: str) -> str:
    return f"chapter:{course_id}:{version}:{chapter_id}"


def quiz_key(course_id: str, version: str, quiz_id: str) -> str:
    return f"quiz:{course_id}:{version}:{quiz_id}"


def _count_lookup(hit: bool) -> None:
    metrics.CACHE_LOOKUPS.labels(outcome="hit" if hit else "miss").inc()


class Cache(Protocol):
    """What every cache backend offers; values are JSON-serialisable."""

    async def get(self, key: str) -> Any | None: ...

    async def set(self, key: str, value: Any, ttl: int) -> None: ...

    async def delete(self, *keys: str) -> None: ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


class MemoryCache:
    """An in-process cache with a lifetime per entry, bounded in size."""

    def __init__(self, maxsize: int = 50_000) -> None:
        self._entries: TLRUCache[str, tuple[float, Any]] = TLRUCache(
            maxsize=maxsize, ttu=lambda _key, value, now: now + value[0], timer=time.monotonic
        )

    async def get(self, key: str) -> Any | None:
        entry = self._entries.get(key)
        _count_lookup(entry is not None)
        return None if entry is None else entry[1]

    async def set(self, key: str, value: Any, ttl: int) -> None:
        self._entries[key] = (float(ttl), value)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._entries.pop(key, None)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._entries.clear()


class RedisCache:
    """Redis-backed cache; every Redis failure is logged and treated as a miss."""

    def __init__(self, url: str, *, prefix: str = "companion:") -> None:
        from redis.asyncio import Redis
        from redis.exceptions import RedisError

        self._redis: Redis = Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._prefix = prefix
        # What a Redis outage raises: each is a miss, never an error for the request.
        self._failures = (RedisError, OSError)

    async def get(self, key: str) -> Any | None:
        try:
            raw = await self._redis.get(self._prefix + key)
        except self._failures as error:
            logger.warning("cache get failed, treating as a miss: %s", error)
            _count_lookup(False)
            return None
        _count_lookup(raw is not None)
        return None if raw is None else json.loads(raw)

    async def set(self, key: str, value: Any, ttl: int) -> None:
        try:
            await self._redis.set(self._prefix + key, json.dumps(value, default=str), ex=ttl)
        except self._failures as error:
            logger.warning("cache set failed, continuing without cache: %s", error)

    async def delete(self, *keys: str) -> None:
        if not keys:
            return
        try:
            await self._redis.delete(*(self._prefix + key for key in keys))
        except self._failures as error:
            logger.warning("cache delete failed: %s", error)

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except self._failures:
            return False

    async def close(self) -> None:
        await self._redis.aclose()


async def get_or_build(cache: Cache, key: str, ttl: int, build: Callable[[], Any]) -> Any:
    """Cache-aside: the cached value, or `build()` stored for `ttl` seconds."""
    cached = await cache.get(key)
    if cached is not None:
        return cached
    value = build()
    await cache.set(key, value, ttl)
    return value


def create_cache(redis_url: str | None) -> Cache:
    """Redis when a URL is configured, else the in-process cache."""
    return RedisCache(redis_url) if redis_url else MemoryCache()
