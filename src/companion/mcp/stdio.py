"""The MCP server over stdin/stdout for desktop assistants (Claude Desktop, IDEs, ...)."""

from __future__ import annotations

from companion.config import Settings
from companion.errors import Unauthorized
from companion.mcp.auth import verify_bearer
from companion.mcp.context import standalone_tool_context
from companion.mcp.server import create_server
from companion.observability import configure_logging


async def serve_stdio(settings: Settings, *, api_key: str | None) -> None:
    """Serve until stdin closes, acting for the API key's learner, or anonymously without one."""
    configure_logging(log_format=settings.log_format, level=settings.log_level)  # to stderr
    async with standalone_tool_context(settings, api_key=api_key) as context:
        if api_key is not None:
            # Refuse a bad key at start rather than on the first tool call.
            async with context.transaction() as session:
                if await verify_bearer(session, api_key) is None:
                    raise Unauthorized("The API key is invalid or revoked.")
        await create_server(lambda: context).run_stdio_async()
