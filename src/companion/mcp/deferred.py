"""/mcp and the OAuth endpoints around it, routed from the start and built on their first request.

The MCP SDK costs about a second of CPU to import and tens of MB to hold. The application routes its
paths at once (with the same methods, so 404 and 405 answers and the route table are unchanged), but
imports the SDK and builds the server only when one of them is first asked for; that request, and any
arriving meanwhile, wait for it. A start thus answers `/healthz` sooner, and a server no assistant links
to never pays for the SDK.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from fastapi import FastAPI
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from companion.config import Settings
from companion.oauth.urls import ISSUER_PATH, resource_url

if TYPE_CHECKING:
    from companion.mcp.http import McpMount

logger = logging.getLogger(__name__)

MCP_PATH = "/mcp"
PROTECTED_RESOURCE_PATH = "/.well-known/oauth-protected-resource"
AUTHORIZATION_SERVER_METADATA_PATH = "/.well-known/oauth-authorization-server"
_METADATA_METHODS = ("GET", "HEAD", "OPTIONS")


def route_table(settings: Settings) -> list[tuple[str, tuple[str, ...]]]:
    """The paths and methods `mcp.http.build_mcp` routes, in its order (a test holds them equal)."""
    # RFC 9728: the resource's metadata sits under the well-known path followed by the resource's path.
    resource_path = urlparse(resource_url(settings)).path
    return [
        (MCP_PATH, ("DELETE", "POST")),
        (PROTECTED_RESOURCE_PATH + (resource_path if resource_path != "/" else ""), _METADATA_METHODS),
        (PROTECTED_RESOURCE_PATH, _METADATA_METHODS),
        (AUTHORIZATION_SERVER_METADATA_PATH, _METADATA_METHODS),
        (AUTHORIZATION_SERVER_METADATA_PATH + ISSUER_PATH, _METADATA_METHODS),
        (ISSUER_PATH + "/authorize", ("GET", "HEAD", "POST")),
        (ISSUER_PATH + "/token", ("OPTIONS", "POST")),
        (ISSUER_PATH + "/register", ("OPTIONS", "POST")),
        (ISSUER_PATH + "/revoke", ("OPTIONS", "POST")),
    ]


class _Endpoint:
    """The ASGI app of one routed path: builds the MCP mount if needed, then hands the request over."""

    def __init__(self, deferred: DeferredMcp, position: int) -> None:
        self._deferred = deferred
        self._position = position

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = (await self._deferred.routes())[self._position]
        _, child_scope = route.matches(scope)
        scope.update(child_scope)
        await route.handle(scope, receive, send)


class DeferredMcp:
    """The MCP server of one application: its routes now, its server on first use."""

    def __init__(self, app: FastAPI, settings: Settings) -> None:
        self._app = app
        self._settings = settings
        self.table = route_table(settings)
        self.placeholders: list[BaseRoute] = [
            Route(path, endpoint=_Endpoint(self, position), methods=list(methods))
            for position, (path, methods) in enumerate(self.table)
        ]
        self._built: list[BaseRoute] | None = None
        self._lock = asyncio.Lock()
        self._stack = contextlib.AsyncExitStack()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """While the application runs; stops the MCP server's session manager, if it was started."""
        self._lock = asyncio.Lock()  # of this lifespan's event loop
        try:
            yield
        finally:
            stack, self._stack = self._stack, contextlib.AsyncExitStack()
            self._built = None  # a session manager runs once: a later lifespan builds a new one
            await stack.aclose()

    async def routes(self) -> list[BaseRoute]:
        """The real routes, in the order of `placeholders`; the first call imports and starts the server."""
        if self._built is None:
            async with self._lock:
                if self._built is None:
                    mount, built = await self._build()
                    await self._stack.enter_async_context(mount.running())
                    self._built = built
        return self._built

    async def _build(self) -> tuple[McpMount, list[BaseRoute]]:
        # The import (the slow part) runs in a worker thread, so other requests keep being answered.
        http = await asyncio.to_thread(importlib.import_module, "companion.mcp.http")
        mount, built = http.build_mcp(self._app, self._settings)
        table = [
            (getattr(route, "path", None), tuple(sorted(getattr(route, "methods", None) or ())))
            for route in built
        ]
        if table != [(path, tuple(sorted(methods))) for path, methods in self.table]:
            raise RuntimeError(f"the MCP routes differ from the table routed at start: {table}")
        return mount, built
