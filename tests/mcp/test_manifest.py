"""The App manifest, the skills and the widgets agree with the server they describe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from mcp.server.mcpserver import MCPServer

from companion.accounts.scopes import ALL_SCOPES, SCOPE_DESCRIPTIONS
from companion.mcp.context import ToolContext
from companion.mcp.prompts import load_skills
from companion.mcp.resources import WIDGET_MIME_TYPE, WIDGETS
from companion.mcp.server import TOOLSETS, create_server
from companion.mcp.tooling import ToolDefinition

MANIFEST = Path(__file__).parents[2] / "src" / "companion" / "mcp" / "app-manifest.yaml"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    """The parsed manifest."""
    data: dict[str, Any] = yaml.safe_load(MANIFEST.read_text())
    return data


@pytest.fixture(scope="module")
def definitions() -> dict[str, ToolDefinition]:
    """Every tool the server registers, by name."""
    return {definition.name: definition for toolset in TOOLSETS for definition in toolset.definitions}


def server_without_services() -> MCPServer[ToolContext]:
    """The server as clients list it; its tools are not called, so it needs no services."""

    def no_services() -> ToolContext:
        raise AssertionError("not started")

    return create_server(no_services)


async def test_every_available_tool_is_served_and_every_served_tool_is_listed(
    manifest: dict[str, Any], definitions: dict[str, ToolDefinition]
) -> None:
    listed = {tool["name"]: tool for tool in manifest["tools"]}
    available = {name for name, tool in listed.items() if tool["status"] == "available"}
    planned = {name for name, tool in listed.items() if tool["status"] == "planned"}
    assert {tool["status"] for tool in listed.values()} <= {"available", "planned"}
    served = {tool.name for tool in await server_without_services().list_tools()}
    assert served == set(definitions)
    assert available == served, "mark shipped tools available in app-manifest.yaml (and only those)"
    assert not planned & served


def test_listed_tools_match_their_declarations(
    manifest: dict[str, Any], definitions: dict[str, ToolDefinition]
) -> None:
    for tool in manifest["tools"]:
        definition = definitions.get(tool["name"])
        if definition is None:
            continue
        assert tool["read_only"] == definition.read_only, tool["name"]
        assert tool["access"] == ("public" if definition.requires_scope is None else "user"), tool["name"]
        assert tool.get("scope") == definition.requires_scope, tool["name"]
        assert tool.get("widget") == (definition.widget.uri if definition.widget else None), tool["name"]


async def test_widgets_skills_and_scopes_match(manifest: dict[str, Any]) -> None:
    server = server_without_services()
    resources = {resource.uri: resource for resource in await server.list_resources()}
    assert [widget["uri"] for widget in manifest["widgets"]] == [widget.uri for widget in WIDGETS]
    for widget in manifest["widgets"]:
        assert widget["mime_type"] == WIDGET_MIME_TYPE == resources[widget["uri"]].mime_type
    prompts = {prompt.name for prompt in await server.list_prompts()}
    assert set(manifest["skills"]) == {skill.name for skill in load_skills()} == prompts
    assert manifest["auth"]["scopes"] == SCOPE_DESCRIPTIONS
    assert list(SCOPE_DESCRIPTIONS) == list(ALL_SCOPES)


def test_skills_are_complete_and_name_only_real_tools(manifest: dict[str, Any]) -> None:
    known_tools = {tool["name"] for tool in manifest["tools"]}
    for skill in load_skills():
        assert skill.description and len(skill.triggers) >= 3, skill.name
        assert skill.tools and set(skill.tools) <= known_tools, skill.name
        for heading in ("## Purpose", "## Workflow", "## Principles"):
            assert heading in skill.instructions, (skill.name, heading)
        assert "template" in skill.instructions.lower(), skill.name
        for tool in skill.tools:  # the workflow names the tools it declares
            assert f"`{tool}`" in skill.instructions, (skill.name, tool)


@pytest.mark.parametrize("widget", WIDGETS, ids=lambda widget: widget.name)
def test_widgets_are_self_contained(widget: Any) -> None:
    html = (
        Path(__file__).parents[2] / "src" / "companion" / "mcp" / "widgets" / f"{widget.name}.html"
    ).read_text()
    assert "window.openai" in html and "toolOutput" in html
    # No CDN or remote asset: everything is inline.
    for marker in ('src="http', "src='http", 'href="http', "@import", "<link"):
        assert marker not in html, marker


async def test_auth_paths_exist_on_the_app(manifest: dict[str, Any], client: httpx.AsyncClient) -> None:
    auth = manifest["auth"]
    paths = [
        manifest["mcp"]["url"],
        auth["protected_resource_metadata"],
        auth["authorization_server_metadata"],
        *auth["endpoints"].values(),
    ]
    for path in paths:
        assert (await client.get(path)).status_code != 404, path
