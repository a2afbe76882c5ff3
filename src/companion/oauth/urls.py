"""Where the OAuth authorization server and the MCP resource live; no MCP SDK import (it costs a second)."""

from __future__ import annotations

from companion.config import Settings

ISSUER_PATH = "/oauth"
CONSENT_PATH = "/oauth/consent"


def issuer_url(settings: Settings) -> str:
    """The authorization server's issuer: our public address under /oauth."""
    return settings.public_base_url.rstrip("/") + ISSUER_PATH


def resource_url(settings: Settings) -> str:
    """The protected resource tokens are issued for: the MCP endpoint."""
    return settings.public_base_url.rstrip("/") + "/mcp"
