"""Serving the MCP server at /mcp of the application, with OAuth account linking around it.

This module imports the MCP SDK (a second of CPU): the application mounts it on first use (`deferred`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlparse

from fastapi import FastAPI
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.routes import create_protected_resource_routes
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import AnyHttpUrl
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import BaseRoute, Route

from companion.accounts.scopes import ALL_SCOPES
from companion.config import Settings
from companion.db import transaction
from companion.mcp.auth import CompanionTokenVerifier, OptionalBearerBackend, refuse_invalid_token
from companion.mcp.context import ToolContext
from companion.mcp.deferred import MCP_PATH, PROTECTED_RESOURCE_PATH
from companion.mcp.server import create_server
from companion.oauth.provider import CompanionOAuthProvider, issuer_url, resource_url
from companion.oauth.router import authorization_server_routes


@dataclass(frozen=True)
class McpMount:
    """The MCP server mounted on the application; `running()` belongs inside the app's lifespan."""

    server: MCPServer[ToolContext]

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the streamable HTTP session manager (and so the server's lifespan) while the app runs."""
        # The manager's task group must be entered and left by one task, and an application's lifespan
        # is not always left by the task that entered it (test fixtures), so it gets a task of its own.
        started, stopping = asyncio.Event(), asyncio.Event()

        async def run() -> None:
            async with self.server.session_manager.run():
                started.set()
                await stopping.wait()

        task = asyncio.create_task(run())
        waiter = asyncio.create_task(started.wait())
        await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
        if not started.is_set():
            waiter.cancel()
            task.result()  # it failed to start: raise why
        try:
            yield
        finally:
            stopping.set()
            await task


def _transport_security(settings: Settings) -> TransportSecuritySettings:
    # DNS-rebinding protection: only our public host (and loopback, for local clients) may be named.
    public = urlparse(settings.public_base_url)
    loopback = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[public.netloc, *loopback],
        allowed_origins=[
            f"{public.scheme}://{public.netloc}",
            *settings.cors_origins,
            *(f"http://{host}" for host in loopback),
        ],
    )


def build_mcp(app: FastAPI, settings: Settings) -> tuple[McpMount, list[BaseRoute]]:
    """The MCP server and the routes of /mcp, its protected-resource metadata and the OAuth endpoints."""

    def app_transaction() -> AbstractAsyncContextManager[AsyncSession]:
        # The sessionmaker exists once the app's lifespan has started.
        return transaction(app.state.sessionmaker)

    def app_tool_context() -> ToolContext:
        return ToolContext.from_app_state(app.state)

    server = create_server(app_tool_context)
    # Stateless, JSON responses: any API process can answer any request (no sticky sessions).
    server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=True,
        transport_security=_transport_security(settings),
    )
    endpoint = AuthenticationMiddleware(
        AuthContextMiddleware(StreamableHTTPASGIApp(server.session_manager)),
        backend=OptionalBearerBackend(CompanionTokenVerifier(app_transaction)),
        on_error=refuse_invalid_token(settings),
    )
    # Stateless: no server-initiated messages, so no GET event stream (it would stay open and silent);
    # the streamable HTTP transport lets a server answer that GET with 405.
    routes: list[BaseRoute] = [Route(MCP_PATH, endpoint=endpoint, methods=["POST", "DELETE"])]

    metadata = create_protected_resource_routes(
        resource_url=AnyHttpUrl(resource_url(settings)),
        authorization_servers=[AnyHttpUrl(issuer_url(settings))],
        scopes_supported=list(ALL_SCOPES),
        resource_name="Course Companion",
    )
    for route in metadata:  # at /.well-known/oauth-protected-resource/mcp (RFC 9728), and at the root
        routes.append(route)
        routes.append(
            Route(PROTECTED_RESOURCE_PATH, endpoint=route.endpoint, methods=sorted(route.methods or ()))
        )

    provider = CompanionOAuthProvider(settings=settings, transaction=app_transaction)
    routes.extend(authorization_server_routes(provider, settings))
    return McpMount(server), routes
