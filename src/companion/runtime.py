"""The process's shared services (database, cache, content catalogue, search), opened in one place.

The HTTP application's lifespan and the stdio MCP server both start through `open_runtime`, so the
two cannot drift in what they open, in what order, or in how they shut down.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from companion.cache import Cache, create_cache
from companion.config import Settings
from companion.content.service import ContentCatalog
from companion.content.store import store_from_settings
from companion.db import create_engine, create_sessionmaker
from companion.search.index import CourseSearch


@dataclass(frozen=True)
class Runtime:
    """What every door (API, MCP over HTTP or stdio) serves from: one of each per process."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    cache: Cache
    catalog: ContentCatalog
    search: CourseSearch


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Open the engine, cache, catalogue (current versions loaded) and search; close them on exit."""
    engine = create_engine(settings.resolved_database_url, echo=settings.database_echo)
    cache = create_cache(settings.redis_url)
    course_search: CourseSearch | None = None
    try:
        catalog = ContentCatalog(store_from_settings(settings))
        await catalog.refresh()
        # One vector store client and one model per process (embedded Qdrant allows one client per
        # directory: a second process searches with BM25 alone and says so). Indexes missing here are
        # built in the background.
        course_search = await asyncio.to_thread(CourseSearch.open, settings)
        await course_search.start(catalog.packs())
        yield Runtime(
            settings=settings,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            cache=cache,
            catalog=catalog,
            search=course_search,
        )
    finally:
        if course_search is not None:
            course_search.close()
        await cache.close()
        await engine.dispose()
