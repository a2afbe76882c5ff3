"""Typed FastAPI dependencies shared by every router: settings, database session, cache, limiter.

They are `async def` even when they do not await: FastAPI runs plain `def` dependencies in a
thread pool, which costs more than the work itself on hot read paths.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from companion.cache import Cache
from companion.config import Settings
from companion.db import transaction
from companion.ratelimit import RateLimiter


async def get_app_settings(request: Request) -> Settings:
    """The settings the application was created with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session per request; the request owns the transaction and commits before responding."""
    async with transaction(request.app.state.sessionmaker) as session:
        yield session


async def get_cache(request: Request) -> Cache:
    """The application's cache (Redis or in-process)."""
    cache: Cache = request.app.state.cache
    return cache


async def get_limiter(request: Request) -> RateLimiter:
    """The application's rate limiter."""
    limiter: RateLimiter = request.app.state.limiter
    return limiter


async def client_address(request: Request) -> str:
    """The caller's address, for rate limits (never stored unless configured)."""
    return request.client.host if request.client else "unknown"


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
# scope="function": commit happens before the response is sent, so a failed commit is an error response.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
CacheDep = Annotated[Cache, Depends(get_cache)]
LimiterDep = Annotated[RateLimiter, Depends(get_limiter)]
ClientAddressDep = Annotated[str, Depends(client_address)]
