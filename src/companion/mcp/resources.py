"""MCP resources: the ChatGPT Apps widget templates and the assistant skills as documents."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.resources import TextResource

from companion.mcp.prompts import load_skills

WIDGETS_DIR = Path(__file__).parent / "widgets"
# The MIME type ChatGPT renders as an Apps SDK widget.
WIDGET_MIME_TYPE = "text/html+skybridge"


@dataclass(frozen=True)
class Widget:
    """A self-contained HTML template that renders a tool's structured output inside ChatGPT."""

    name: str
    title: str
    description: str
    invoking: str
    invoked: str

    @property
    def uri(self) -> str:
        """The widget's resource URI, referenced by tools as their output template."""
        return f"ui://widget/{self.name}.html"

    def tool_meta(self) -> dict[str, Any]:
        """The `_meta` keys a tool rendered by this widget carries."""
        return {
            "openai/outputTemplate": self.uri,
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


def register_resources(server: MCPServer[Any]) -> None:
    """Add the widget templates and the skill documents to the server."""
    for widget in WIDGETS:
        server.add_resource(
            TextResource(
                uri=widget.uri,
                name=widget.name,
                title=widget.title,
                description=widget.description,
                mime_type=WIDGET_MIME_TYPE,
                text=(WIDGETS_DIR / f"{widget.name}.html").read_text(encoding="utf-8"),
                meta={
                    "openai/widgetDescription": widget.description,
                    "openai/widgetPrefersBorder": True,
                    # Self-contained: no network access and no external assets.
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
