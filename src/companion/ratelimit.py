"""Rate limits through the `limits` library: Redis-backed when configured, in memory otherwise.

When Redis cannot be reached the limits are not dropped: each process counts in its own memory
until Redis answers again (per process rather than shared, so briefly looser with many workers).
"""

from __future__ import annotations

import logging

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from companion.errors import RateLimited

logger = logging.getLogger(__name__)


class RateLimiter:
    """Named limits (e.g. "5/minute") checked per key, falling back to process memory on a Redis outage."""

    def __init__(self, redis_url: str | None) -> None:
        self._storage: Storage = (
            RedisStorage(
                "async+" + redis_url,
                implementation="redispy",
                wrap_exceptions=True,
                socket_timeout=0.5,
                socket_connect_timeout=0.5,
            )
            if redis_url
            else MemoryStorage()
        )
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._fallback_storage = MemoryStorage()
        self._fallback = MovingWindowRateLimiter(self._fallback_storage)

    async def hit(self, limit: str, *keys: str, message: str) -> None:
        """Count one hit; raise RateLimited when the limit is exceeded."""
        item: RateLimitItem = parse(limit)
        try:
            allowed = await self._limiter.hit(item, *keys)
        except StorageError as error:
            logger.warning("rate limit storage unavailable, counting in process memory: %s", error)
            allowed = await self._fallback.hit(item, *keys)
        if not allowed:
            raise RateLimited(message, details={"limit": limit, "retry_after_seconds": 60})

    async def is_exceeded(self, limit: str, *keys: str) -> bool:
        """Whether the limit is already used up, without counting a hit."""
        item = parse(limit)
        try:
            return not await self._limiter.test(item, *keys)
        except StorageError:
            return not await self._fallback.test(item, *keys)

    async def clear(self, limit: str, *keys: str) -> None:
        """Forget the hits counted for these keys."""
        item = parse(limit)
        try:
            await self._limiter.clear(item, *keys)
        except StorageError:
            await self._fallback.clear(item, *keys)

    async def reset(self) -> None:
        """Forget every count (tests)."""
        await self._fallback_storage.reset()
        try:
            await self._storage.reset()
        except StorageError as error:
            logger.warning("rate limit storage unavailable for reset: %s", error)
