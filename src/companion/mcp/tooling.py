"""How tools are declared and how they answer: shared by every tool module.

A tool is an async function taking its arguments and `ctx: Context`, whose docstring is the
description the model reads, registered on a `Toolset` with its title, hints, access and widget.
It parses input, calls one service, and returns `answer(...)` (structured content plus the same
JSON as text). Domain errors raised inside become error results with our error body; a gated
item is not an error but an `upgrade_required` answer; `require_identity` turns an anonymous
caller into a "sign in" result that also tells ChatGPT to start account linking.

Every call by an identified learner who granted `progress:write` is counted in their `chatgpt`
learning session, with the chapter or quiz the tool noted through `note_interaction`; refused calls
(errors, locked items) are not counted.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field
from sqlalchemy.exc import SQLAlchemyError

from companion.access.service import AccessDecision
from companion.accounts.scopes import CONTENT_READ, PROGRESS_WRITE
from companion.content import service as content_service
from companion.content.schemas import Chapter, ContentPack, Quiz, Section
from companion.content.service import ContentCatalog
from companion.db import utcnow
from companion.errors import CompanionError, NotFound, UpgradeRequired
from companion.mcp.auth import SignInRequired, calling_identity, tool_call_scope
from companion.mcp.context import ToolContext, tool_context
from companion.mcp.resources import Widget
from companion.progress import sessions as learning_sessions

logger = logging.getLogger(__name__)

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
    return _upgrade_answer(decision.required_tier, decision.current_tier, decision.reason, target)


def _upgrade_answer(
    required_tier: str, current_tier: str | None, reason: str, target: dict[str, str]
) -> CallToolResult:
    return answer(
        {
            "status": "upgrade_required",
            "required_tier": required_tier,
            "current_tier": current_tier,
            "reason": reason,
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
    # A widget may call this tool itself (the quiz widget submits answers) without rendering it.
    widget_accessible: bool = False

    @property
    def name(self) -> str:
        """The tool's name: its function's name."""
        return self.function.__name__

    def meta(self) -> dict[str, Any]:
        """The tool's `_meta`: how it may be called (ChatGPT securitySchemes) and its widget."""
        if self.requires_scope is None:
            schemes: list[dict[str, Any]] = [
                {"type": "noauth"},
                {"type": "oauth2", "scopes": [CONTENT_READ]},
            ]
        else:
            schemes = [{"type": "oauth2", "scopes": [self.requires_scope]}]
        meta: dict[str, Any] = {"securitySchemes": schemes}
        if self.widget is not None:
            meta.update(self.widget.tool_meta())
        elif self.widget_accessible:
            meta["openai/widgetAccessible"] = True
        return meta


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
        widget_accessible: bool = False,
    ) -> Callable[[ToolFunctionT], ToolFunctionT]:
        """Declare a tool; its docstring is the description the model reads to choose it."""

        def declare(function: ToolFunctionT) -> ToolFunctionT:
            if not function.__doc__:
                raise ValueError(f"tool {function.__name__} needs a docstring: it is the model's description")
            self.definitions.append(
                ToolDefinition(
                    function,
                    title,
                    read_only,
                    destructive,
                    idempotent,
                    requires_scope,
                    widget,
                    widget_accessible,
                )
            )
            return function

        return declare

    def register(self, server: MCPServer[Any]) -> None:
        """Add every tool of the set to the server."""
        for definition in self.definitions:
            server.add_tool(
                _tool_call(definition.function),
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


# --- Running a call ----------------------------------------------------------------------------


@dataclass
class Interaction:
    """What one tool call served, for the caller's learning session."""

    chapter_id: str | None = None
    quiz_id: str | None = None


_interaction: ContextVar[Interaction | None] = ContextVar("companion_mcp_interaction", default=None)

# The arguments that name what a gated answer is about.
_TARGET_ARGUMENTS = ("course_id", "chapter_id", "section_id", "quiz_id")


def note_interaction(*, chapter_id: str | None = None, quiz_id: str | None = None) -> None:
    """Note the chapter this call served or the quiz it graded, for the learner's learning session."""
    interaction = _interaction.get()
    if interaction is not None:
        interaction.chapter_id = chapter_id or interaction.chapter_id
        interaction.quiz_id = quiz_id or interaction.quiz_id


@contextmanager
def _interaction_scope() -> Iterator[Interaction]:
    interaction = Interaction()
    token = _interaction.set(interaction)
    try:
        yield interaction
    finally:
        _interaction.reset(token)


async def _record_interaction(app: ToolContext, interaction: Interaction) -> None:
    """Count the call in the caller's `chatgpt` learning session; anonymous calls record nothing."""
    try:
        async with app.transaction() as session:
            identity = await calling_identity(app, session)
            if identity is None or PROGRESS_WRITE not in identity.scopes:
                return
            await learning_sessions.record_assistant_interaction(
                session,
                user_id=identity.user.id,
                interface="chatgpt",
                chapter_id=interaction.chapter_id,
                quiz_id=interaction.quiz_id,
                now=utcnow(),
            )
    except CompanionError:
        return  # the caller cannot be identified (the tool has already answered why)
    except SQLAlchemyError:
        # The tool's own work is committed: failing to count it must not turn its answer into an error.
        logger.exception("could not record the tool call in the learner's learning session")


def _refused(result: CallToolResult) -> bool:
    # A refused call (an error, a locked item) served nothing: it is not a learning interaction,
    # as a refused HTTP request is not counted in the learner's session either.
    status = result.structured_content.get("status") if result.structured_content else None
    return bool(result.is_error) or status == "upgrade_required"


def _tool_call(function: ToolFunction) -> ToolFunction:
    # functools.wraps keeps the signature, so the SDK still derives the input schema from `function`.
    @functools.wraps(function)
    async def call(*args: Any, **kwargs: Any) -> CallToolResult:
        with tool_call_scope(), _interaction_scope() as interaction:
            try:
                result = await function(*args, **kwargs)
            except UpgradeRequired as refusal:
                # A service's gate said no: an answer to pass on, as when a tool checks the gate itself.
                target = {
                    name: kwargs[name] for name in _TARGET_ARGUMENTS if isinstance(kwargs.get(name), str)
                }
                current_tier = refusal.details.get("current_tier")
                result = _upgrade_answer(refusal.required_tier, current_tier, refusal.message, target)
            except CompanionError as error:
                result = error_answer(error)
            context = next((value for value in kwargs.values() if isinstance(value, Context)), None)
            if context is not None and not _refused(result):
                await _record_interaction(tool_context(context), interaction)
        return result

    return call
