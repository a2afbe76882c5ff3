"""The end-to-end tests drive the same live server as the MCP tests."""

from tests.mcp.conftest import live_server

__all__ = ["live_server"]
