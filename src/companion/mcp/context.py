"""What every tool handler needs, built once per process: settings, database, cache and content."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AbstractAsyncContextManager, aclosing, asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

from mcp.server.mcpserver import Context
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from companion.cache import Cache, create_cache
from companion.config import Settings
from companion.content.service import ContentCatalog
from companion.content.store import store_from_settings
from companion.db import create_engine, create_sessionmaker, session_scope
from companion.llm.gateway import LLMGateway
from companion.search.service import CourseSearch


@asynccontextmanager
async def transaction(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """`db.session_scope` as a context manager: committed on success, rolled back on error."""
    # aclosing makes an exception in the body reach session_scope's rollback at once.
    sessions = cast(AsyncGenerator[AsyncSession, None], session_scope(sessionmaker))
    async with aclosing(sessions):
        async for session in sessions:
            yield session


@dataclass(frozen=True)
class ToolContext:
    """The application's services as the MCP tools see them, shared by the HTTP and stdio servers."""

    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    cache: Cache
    catalog: ContentCatalog
    search: CourseSearch
    llm: LLMGateway
    # stdio only: the API key the desktop client was started with; HTTP callers send their own.
    api_key: str | None = None

    @classmethod
    def from_app_state(cls, state: Any, *, api_key: str | None = None) -> ToolContext:
        """The context of the HTTP application, from what its lifespan put on `app.state`."""
        return cls(
            settings=state.settings,
            sessionmaker=state.sessionmaker,
            cache=state.cache,
            catalog=state.catalog,
            search=state.search,
            llm=state.llm,
            api_key=api_key,
        )

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A database session whose transaction the tool call owns."""
        return transaction(self.sessionmaker)


def tool_context(ctx: Context[ToolContext, Any]) -> ToolContext:
    """The ToolContext of the server handling this tool call (what its lifespan yielded)."""
    context: ToolContext = ctx.request_context.lifespan_context
    return context


@asynccontextmanager
async def standalone_tool_context(settings: Settings, *, api_key: str | None) -> AsyncIterator[ToolContext]:
    """A ToolContext with its own engine, cache and catalogue, for the stdio server outside the app."""
    engine = create_engine(settings.resolved_database_url, echo=settings.database_echo)
    cache = create_cache(settings.redis_url)
    catalog = ContentCatalog(store_from_settings(settings))
    # If a server already holds the embedded Qdrant, this process searches with BM25 alone (and says so).
    course_search = await asyncio.to_thread(CourseSearch.open, settings)
    try:
        await catalog.refresh()
        await course_search.start(catalog.packs())
        sessionmaker = create_sessionmaker(engine)
        yield ToolContext(
            settings=settings,
            sessionmaker=sessionmaker,
            cache=cache,
            catalog=catalog,
            search=course_search,
            llm=LLMGateway(settings, sessionmaker),
            api_key=api_key,
        )
    finally:
        course_search.close()
        await cache.close()
        await engine.dispose()
