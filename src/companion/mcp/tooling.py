"""How tools are declared and how they answer: shared by every tool module.

A tool is an async function taking its arguments and `ctx: Context`, whose docstring is the
description the model reads, registered on a `Toolset` with its title, hints, access and widget.
It parses input, calls one service, and returns `answer(...)` (structured content plus the same
JSON as text). Domain errors raised inside become error results with our error body; a gated
item is not an error but an `upgrade_required` answer; `require_identity` turns an anonymous
caller into a "sign in" result that also tells ChatGPT to start account linking.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from companion.access.service import AccessDecision
from companion.content import service as content_service
from companion.content.schemas import Chapter, ContentPack, Quiz, Section
from companion.content.service import ContentCatalog
from companion.errors import CompanionError, NotFound
from companion.mcp.auth import SignInRequired
from companion.mcp.resources import Widget

ToolFunction = Callable[..., Awaitable[CallToolResult]]
ToolFunctionT = TypeVar("ToolFunctionT", bound=ToolFunction)

# --- Arguments shared by tools -----------------------------------------------------------------

CourseId = Annotated[
    str, Field(description="Course id as listed by list_courses, for example 'genai-fundamentals'.")
]
ChapterId = Annotated[
    str, Field(description="Chapter id from get_course_outline, for example '01-intro-genai'.")
]
SectionId = Annotated[
    str,
    Field(description="Section id from get_course_outline or read_chapter, for example '01-what-is-genai'."),
]
QuizId = Annotated[
    str, Field(description="Quiz id from get_course_outline or read_chapter, for example '01-quiz'.")
]


# --- Answers -----------------------------------------------------------------------------------


def answer(structured: dict[str, Any]) -> CallToolResult:
    """A successful result: structured content, and the same JSON as text for clients that read only text."""
    text = json.dumps(structured, ensure_ascii=False, default=str)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)


def upgrade_required(decision: AccessDecision, **target: str) -> CallToolResult:
    """The gate said no: what is locked, the tier needed and why, for the assistant to tell the learner."""
    return answer(
        {
            "status": "upgrade_required",
            "required_tier": decision.required_tier,
            "current_tier": decision.current_tier,
            "reason": decision.reason,
            **target,
            "guidance": (
                "Tell the learner this is part of a paid plan and offer the chapters they can open. "
                "Do not reproduce or summarise the locked content from memory."
            ),
        }
    )


def error_answer(error: CompanionError) -> CallToolResult:
    """A failed call, with our error body; a sign-in answer also carries the OAuth challenge."""
    structured: dict[str, Any] = {"status": "error", **error.to_body()}
    meta = None
    if isinstance(error, SignInRequired):
        structured["status"] = "sign_in_required"
        # ChatGPT starts account linking when a tool error carries this challenge (SEP-1489).
        meta = {"mcp/www_authenticate": [error.challenge]}
    return CallToolResult(
        content=[TextContent(type="text", text=error.message)],
        structured_content=structured,
        is_error=True,
        meta=meta,
    )


# --- Looking up what the arguments name --------------------------------------------------------


class UnknownArgument(NotFound):
    """An argument names something that does not exist; says which argument and where to look."""

    def __init__(self, argument: str, value: str, *, hint: str) -> None:
        super().__init__(
            f"Unknown {argument} '{value}'. {hint}", details={"argument": argument, "value": value}
        )


def find_pack(catalog: ContentCatalog, course_id: str) -> ContentPack:
    """The course's current pack, or an error naming `course_id`."""
    try:
        return catalog.pack(course_id)
    except NotFound as error:
        raise UnknownArgument("course_id", course_id, hint="Call list_courses for the course ids.") from error


def find_chapter(pack: ContentPack, chapter_id: str) -> Chapter:
    """The chapter, or an error naming `chapter_id`."""
    try:
        return content_service.get_chapter(pack, chapter_id)
    except NotFound as error:
        raise UnknownArgument(
            "chapter_id", chapter_id, hint=f"Call get_course_outline('{pack.course.id}') for the chapter ids."
        ) from error


def find_section(chapter: Chapter, section_id: str) -> Section:
    """The chapter's section, or an error naming `section_id`."""
    section = chapter.section(section_id)
    if section is None:
        raise UnknownArgument(
            "section_id",
            section_id,
            hint=f"Chapter '{chapter.chapter_id}' has sections: "
            + ", ".join(s.section_id for s in chapter.sections)
            + ".",
        )
    return section


def find_quiz(pack: ContentPack, quiz_id: str) -> Quiz:
    """The quiz, or an error naming `quiz_id`."""
    try:
        return content_service.get_quiz(pack, quiz_id)
    except NotFound as error:
        raise UnknownArgument(
            "quiz_id",
            quiz_id,
            hint=f"Call get_course_outline('{pack.course.id}') for each chapter's quiz_id.",
        ) from error


# --- Declaring tools ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolDefinition:
    """A tool function and what clients are told about it."""

    function: ToolFunction
    title: str
    read_only: bool
    destructive: bool
    idempotent: bool
    # None: anyone may call it; a scope: it acts on the caller's own record and needs that scope.
    requires_scope: str | None
    widget: Widget | None

    @property
    def name(self) -> str:
        """The tool's name: its function's name."""
        return self.function.__name__

    def meta(self) -> dict[str, Any]:
        """The tool's `_meta`: how it may be called (ChatGPT securitySchemes) and its widget."""
        if self.requires_scope is None:
            schemes: list[dict[str, Any]] = [
                {"type": "noauth"},
                {"type": "oauth2", "scopes": ["content:read"]},
            ]
        else:
            schemes = [{"type": "oauth2", "scopes": [self.requires_scope]}]
        return {"securitySchemes": schemes, **(self.widget.tool_meta() if self.widget else {})}


@dataclass
class Toolset:
    """A group of tools declared with `@toolset.tool(...)` and added to a server with `register`."""

    definitions: list[ToolDefinition] = field(default_factory=list)

    def tool(
        self,
        *,
        title: str,
        read_only: bool,
        destructive: bool = False,
        idempotent: bool = True,
        requires_scope: str | None = None,
        widget: Widget | None = None,
    ) -> Callable[[ToolFunctionT], ToolFunctionT]:
        """Declare a tool; its docstring is the description the model reads to choose it."""

        def declare(function: ToolFunctionT) -> ToolFunctionT:
            if not function.__doc__:
                raise ValueError(f"tool {function.__name__} needs a docstring: it is the model's description")
            self.definitions.append(
                ToolDefinition(function, title, read_only, destructive, idempotent, requires_scope, widget)
            )
            return function

        return declare

    def register(self, server: MCPServer[Any]) -> None:
        """Add every tool of the set to the server."""
        for definition in self.definitions:
            server.add_tool(
                _answering_errors(definition.function),
                name=definition.name,
                title=definition.title,
                description=inspect.cleandoc(definition.function.__doc__ or ""),
                annotations=ToolAnnotations(
                    title=definition.title,
                    read_only_hint=definition.read_only,
                    destructive_hint=definition.destructive,
                    idempotent_hint=definition.idempotent,
                    open_world_hint=False,
                ),
                meta=definition.meta(),
            )


def _answering_errors(function: ToolFunction) -> ToolFunction:
    # functools.wraps keeps the signature, so the SDK still derives the input schema from `function`.
    @functools.wraps(function)
    async def call(*args: Any, **kwargs: Any) -> CallToolResult:
        try:
            return await function(*args, **kwargs)
        except CompanionError as error:
            return error_answer(error)

    return call
