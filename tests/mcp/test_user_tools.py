"""The extension point for tools about the learner's own record (phase 2), and its sign-in answer."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from mcp.client.client import Client
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult

from companion.mcp.auth import require_identity
from companion.mcp.context import ToolContext, tool_context
from companion.mcp.server import create_server
from companion.mcp.tooling import Toolset, answer
from tests.conftest import SignUp
from tests.mcp.conftest import call, create_api_key, structured

probe_tools = Toolset()


@probe_tools.tool(
    title="Save a note",
    read_only=False,
    requires_scope="progress:write",
    summary=lambda result: f"Saved a note for {result['email']}.",
)
async def save_note(note: str, ctx: Context[ToolContext, Any]) -> CallToolResult:
    """Test tool shaped like a phase-2 user tool: it acts on the caller's own record."""
    app = tool_context(ctx)
    async with app.transaction() as session:
        identity = await require_identity(app, session, scope="progress:write")
    return answer({"status": "ok", "email": identity.user.email, "note": note})


def server_for(app: FastAPI, *, api_key: str | None) -> MCPServer[ToolContext]:
    """The real server plus the probe tool, in process, acting for `api_key` as stdio does."""
    state = app.state
    context = ToolContext.from_app_state(state, api_key=api_key)
    server = create_server(lambda: context)
    probe_tools.register(server)
    return server


async def test_user_tools_declare_that_they_need_an_account(app: FastAPI) -> None:
    async with Client(server_for(app, api_key=None)) as mcp:
        tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
    note = tools["save_note"]
    assert note.meta == {"securitySchemes": [{"type": "oauth2", "scopes": ["progress:write"]}]}
    assert note.annotations is not None and note.annotations.read_only_hint is False


async def test_anonymous_caller_is_asked_to_link_an_account(app: FastAPI, client: httpx.AsyncClient) -> None:
    async with Client(server_for(app, api_key=None)) as mcp:
        result = await call(mcp, "save_note", note="hello")
    assert result.is_error is True
    body = structured(result)
    assert body["status"] == "sign_in_required"
    assert body["error"]["code"] == "unauthorized"
    assert body["error"]["details"]["required_scope"] == "progress:write"
    assert "Link your account" in result.content[0].text  # type: ignore[union-attr]
    challenge = result.meta["mcp/www_authenticate"][0]  # type: ignore[index]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
    assert "/.well-known/oauth-protected-resource/mcp" in challenge


async def test_a_credential_without_the_scope_is_asked_to_grant_it(
    app: FastAPI, client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    learner = await sign_up()
    key = await create_api_key(client, learner["headers"], scopes=["content:read"])
    async with Client(server_for(app, api_key=key)) as mcp:
        result = await call(mcp, "save_note", note="hello")
    assert structured(result)["status"] == "sign_in_required"
    assert 'error="insufficient_scope"' in result.meta["mcp/www_authenticate"][0]  # type: ignore[index]


async def test_the_learner_acts_on_their_own_record(
    app: FastAPI, client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    learner = await sign_up(email="owner@example.com")
    key = await create_api_key(client, learner["headers"])
    async with Client(server_for(app, api_key=key)) as mcp:
        result = await call(mcp, "save_note", note="hello")
    assert result.is_error is False
    assert structured(result) == {"status": "ok", "email": "owner@example.com", "note": "hello"}
