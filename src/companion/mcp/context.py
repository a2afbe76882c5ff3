"""What every tool handler needs, built once per process: settings, database, cache and content."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver import Context
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from companion.cache import Cache
from companion.config import Settings
from companion.content.service import ContentCatalog
from companion.db import transaction
from companion.runtime import open_runtime
from companion.search.index import CourseSearch


@dataclass(frozen=True)
class ToolContext:
    """The application's services as the MCP tools see them, shared by the HTTP and stdio servers."""

    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    cache: Cache
    catalog: ContentCatalog
    search: CourseSearch
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
    """A ToolContext over a runtime of its own, for the stdio server outside the HTTP application."""
    async with open_runtime(settings) as runtime:
        yield ToolContext(
            settings=settings,
            sessionmaker=runtime.sessionmaker,
            cache=runtime.cache,
            catalog=runtime.catalog,
            search=runtime.search,
            api_key=api_key,
        )
