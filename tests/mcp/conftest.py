"""The real application served over HTTP on a loopback port, and MCP clients that talk to it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2
import pytest
import uvicorn
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, Implementation
from sqlalchemy.ext.asyncio import AsyncSession

from companion.accounts import service as accounts_service
from companion.app import create_app
from companion.billing import service as billing_service
from companion.config import Settings

COURSE = "genai-fundamentals"


@pytest.fixture(scope="session")
def live_server(settings: Settings) -> Iterator[str]:
    """The application run by uvicorn in a background thread; yields its base URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    # Its OAuth metadata and DNS-rebinding checks must name the address clients really use.
    app = create_app(settings.model_copy(update={"public_base_url": base_url}))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.02)
    yield base_url
    server.should_exit = True
    thread.join(timeout=15)
    listener.close()


@asynccontextmanager
async def mcp_client(
    base_url: str, *, token: str | None = None, mode: str = "auto", client_name: str | None = None
) -> AsyncIterator[Client]:
    """An SDK client on /mcp over streamable HTTP, sending `token` as a bearer token if given, and
    introducing itself as `client_name` (an assistant's MCP client name) if given."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(
            streamable_http_client(f"{base_url}/mcp", http_client=http),
            mode=mode,
            client_info=client_info(client_name),
        ) as client,
    ):
        yield client


def client_info(name: str | None) -> Implementation | None:
    """What an MCP client named `name` says about itself at initialize (None: the SDK's default)."""
    return Implementation(name=name, version="1.0.0") if name else None


async def call(client: Client, tool: str, **arguments: Any) -> CallToolResult:
    """Call a tool and return its result (errors are results, not exceptions)."""
    result = await client.call_tool(tool, arguments)
    assert isinstance(result, CallToolResult)
    return result


def structured(result: CallToolResult) -> dict[str, Any]:
    """The structured content of a result, as a dict."""
    assert isinstance(result.structured_content, dict), result
    return result.structured_content


async def create_api_key(
    client: httpx.AsyncClient, headers: dict[str, str], scopes: list[str] | None = None
) -> str:
    """A new API key for the signed-in learner, through the REST API."""
    body: dict[str, Any] = {"name": "assistant"}
    if scopes is not None:
        body["scopes"] = scopes
    response = await client.post("/api/v1/me/api-keys", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


async def set_tier(db_session: AsyncSession, email: str, tier: str) -> None:
    """Move a learner to another plan, as billing would."""
    user = await accounts_service.get_user_by_email(db_session, email)
    assert user is not None
    await billing_service.change_tier(db_session, user=user, tier=tier)
    await db_session.commit()
