"""Rate limits through the `limits` library: Redis-backed when configured, in memory otherwise."""

from __future__ import annotations

import logging

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from companion.errors import RateLimited

logger = logging.getLogger(__name__)


class RateLimiter:
    """Named limits (e.g. "5/minute") checked per key; a storage outage lets requests through."""

    def __init__(self, redis_url: str | None) -> None:
        self._storage: Storage = (
            RedisStorage("async+" + redis_url, implementation="redispy", wrap_exceptions=True)
            if redis_url
            else MemoryStorage()
        )
        self._limiter = MovingWindowRateLimiter(self._storage)

    async def hit(self, limit: str, *keys: str, message: str) -> None:
        """Count one hit; raise RateLimited when the limit is exceeded."""
        item: RateLimitItem = parse(limit)
        try:
            allowed = await self._limiter.hit(item, *keys)
        except StorageError as error:
            logger.warning("rate limit storage unavailable, allowing request: %s", error)
            return
        if not allowed:
            raise RateLimited(message, details={"limit": limit})

    async def is_exceeded(self, limit: str, *keys: str) -> bool:
        """Whether the limit is already used up, without counting a hit."""
        try:
            return not await self._limiter.test(parse(limit), *keys)
        except StorageError:
            return False

    async def clear(self, limit: str, *keys: str) -> None:
        """Forget the hits counted for these keys."""
        try:
            await self._limiter.clear(parse(limit), *keys)
        except StorageError:
            return
