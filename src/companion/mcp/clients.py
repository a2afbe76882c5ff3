"""Which assistant is calling: the MCP client's own name, mapped to a learning-session interface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver import Context

from companion.progress.schemas import Interface

# Substrings of a client's name or User-Agent, lower-cased, and the interface they mean.
_KNOWN_CLIENTS: tuple[tuple[str, Interface], ...] = (
    ("openai", "chatgpt"),  # ChatGPT connectors call themselves "openai-mcp"
    ("chatgpt", "chatgpt"),
    ("claude", "claude"),  # Claude desktop, claude.ai ("Claude-User"), Claude Code
    ("anthropic", "claude"),
)
_NAME_LENGTH = 100


@dataclass(frozen=True)
class AssistantClient:
    """The calling MCP client: the interface its learning sessions count under, and its own name."""

    interface: Interface
    name: str | None


def interface_of(name: str | None) -> Interface:
    """`chatgpt` or `claude` for those assistants, `mcp` for any other MCP client (or an unnamed one)."""
    lowered = (name or "").lower()
    return next((interface for key, interface in _KNOWN_CLIENTS if key in lowered), "mcp")


def identify_client(ctx: Context[Any, Any]) -> AssistantClient:
    """The client named in its `initialize` (stdio, stateful HTTP, or the per-request envelope);
    over stateless HTTP, where a call carries no client info, its User-Agent's product name."""
    params = ctx.session.client_params
    name = params.client_info.name if params is not None else None
    if not name:
        agent = (ctx.headers or {}).get("user-agent", "")
        name = agent.split(" ", 1)[0] or None
    if name is not None:
        name = name[:_NAME_LENGTH]
    return AssistantClient(interface=interface_of(name), name=name)
