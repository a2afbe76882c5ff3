"""The MCP SDK is imported on the first MCP or OAuth request, behind routes that exist from the start."""

from __future__ import annotations

import subprocess
import sys

import httpx

from companion.app import create_app
from companion.config import Settings
from companion.mcp.http import build_mcp


def test_the_routes_at_start_are_the_routes_built() -> None:
    for base in ("http://127.0.0.1:8000", "https://learn.example.org/companion/"):
        settings = Settings(environment="test", public_base_url=base, _env_file=None)  # type: ignore[call-arg]
        app = create_app(settings)
        _, built = build_mcp(app, settings)
        assert [(route.path, sorted(route.methods)) for route in app.state.mcp.placeholders] == [  # type: ignore[attr-defined]
            (route.path, sorted(route.methods or ()))
            for route in built  # type: ignore[attr-defined]
        ]


def test_starting_the_application_does_not_import_the_sdk() -> None:
    code = "import sys, companion.cli, companion.app; companion.app.create_app(); print('mcp' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


async def test_the_first_metadata_request_builds_the_server(live_server: str) -> None:
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
        response = await http.get("/.well-known/oauth-protected-resource/mcp")
        assert response.status_code == 200
        assert response.json()["resource"] == f"{live_server}/mcp"
        refused = await http.put("/oauth/token")
        assert refused.status_code == 405
