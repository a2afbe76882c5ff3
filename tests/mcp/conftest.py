"""The real application served over HTTP on a loopback port, and MCP clients that talk to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, Implementation
from sqlalchemy.ext.asyncio import AsyncSession

from companion.accounts import service as accounts_service
from companion.billing import service as billing_service
from companion.config import Settings
from tests.live import serving

COURSE = "genai-fundamentals"


@pytest.fixture(scope="session")
def live_server(settings: Settings) -> Iterator[str]:
    """The application run by uvicorn in a background thread; yields its base URL."""
    with serving(settings, start_timeout=30) as base_url:
        yield base_url


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
