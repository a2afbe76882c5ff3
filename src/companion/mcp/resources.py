"""MCP resources: the widgets, declared for MCP Apps hosts and for ChatGPT, and the skills as documents."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp.server.apps import Apps, ResourceCsp
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.resources import TextResource

from companion.mcp.prompts import load_skills

WIDGETS_DIR = Path(__file__).parent / "widgets"
# ChatGPT's Apps SDK type, served at the URI of the `openai/outputTemplate` key, kept while ChatGPT
# reads that form; MCP Apps hosts (Claude, and ChatGPT too) use `_meta.ui.resourceUri` and the
# `text/html;profile=mcp-app` resource of the Apps extension.
SKYBRIDGE_MIME_TYPE = "text/html+skybridge"
# Where the host bridge (one script for both kinds of host) is inlined into each widget.
BRIDGE_MARKER = "<!-- companion:host-bridge -->"


@dataclass(frozen=True)
class Widget:
    """A self-contained HTML view of a tool's structured output, rendered by the assistant's host."""

    name: str
    title: str
    description: str
    invoking: str
    invoked: str

    @property
    def uri(self) -> str:
        """The MCP Apps resource (`text/html;profile=mcp-app`) tools name in `_meta.ui.resourceUri`."""
        return f"ui://course-companion/{self.name}.html"

    @property
    def openai_template_uri(self) -> str:
        """The same widget as ChatGPT's legacy `openai/outputTemplate` (`text/html+skybridge`)."""
        return f"ui://widget/{self.name}.html"

    def html(self) -> str:
        """The widget's document, with the host bridge inlined (hosts allow no external script)."""
        source = (WIDGETS_DIR / f"{self.name}.html").read_text(encoding="utf-8")
        bridge = (WIDGETS_DIR / "host-bridge.js").read_text(encoding="utf-8")
        return source.replace(BRIDGE_MARKER, f"<script>\n{bridge}</script>", 1)

    def tool_meta(self) -> dict[str, Any]:
        """The `_meta` keys a tool rendered by this widget carries, for both kinds of host."""
        return {
            "ui": {"resourceUri": self.uri},
            "openai/outputTemplate": self.openai_template_uri,
            "openai/toolInvocation/invoking": self.invoking,
            "openai/toolInvocation/invoked": self.invoked,
            # The widget itself calls tools (navigation, quiz submission).
            "openai/widgetAccessible": True,
        }


CHAPTER_READER = Widget(
    name="chapter-reader",
    title="Chapter reader",
    description="A course chapter or section with its table of contents and navigation between sections.",
    invoking="Opening the chapter…",
    invoked="Chapter ready",
)
QUIZ = Widget(
    name="quiz",
    title="Quiz",
    description="A chapter quiz the learner answers in place; answers are graded by Course Companion.",
    invoking="Fetching the quiz…",
    invoked="Quiz ready",
)
WIDGETS = (CHAPTER_READER, QUIZ)


def widget_apps() -> Apps:
    """The MCP Apps extension with every widget as a `ui://` app resource; the server advertises it."""
    apps = Apps()
    for widget in WIDGETS:
        apps.add_html_resource(
            widget.uri,
            widget.html(),
            name=widget.name,
            title=widget.title,
            description=widget.description,
            # Self-contained: no network access and no external assets.
            csp=ResourceCsp(connect_domains=[], resource_domains=[]),
            prefers_border=True,
        )
    return apps


def register_resources(server: MCPServer[Any]) -> None:
    """Add the widgets in ChatGPT's legacy form and the skill documents to the server."""
    for widget in WIDGETS:
        server.add_resource(
            TextResource(
                uri=widget.openai_template_uri,
                name=f"{widget.name} (ChatGPT)",
                title=widget.title,
                description=widget.description,
                mime_type=SKYBRIDGE_MIME_TYPE,
                text=widget.html(),
                meta={
                    "openai/widgetDescription": widget.description,
                    "openai/widgetPrefersBorder": True,
                    "openai/widgetCSP": {"connect_domains": [], "resource_domains": []},
                },
            )
        )
    for skill in load_skills():
        server.add_resource(
            TextResource(
                uri=skill.uri,
                name=skill.name,
                title=skill.title,
                description=skill.description,
                mime_type="text/markdown",
                text=skill.path.read_text(encoding="utf-8"),
            )
        )
