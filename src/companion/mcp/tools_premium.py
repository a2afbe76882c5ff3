"""Premium (LLM) tools: personalised and translated chapters, adaptive path, grading, synthesis, usage.

Each is a thin adapter over the same premium service as its HTTP route: gated to the plans that include
it (an `upgrade_required` answer otherwise), budgeted and recorded in the LLM ledger. Without a
configured model they answer `llm_unavailable`. They need a linked account with `progress:write`
(they may spend the learner's monthly AI budget), except my_ai_usage, which only reads.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult
from pydantic import Field

from companion.access import service as access_service
from companion.accounts.scopes import CONTENT_READ, PROGRESS_WRITE
from companion.db import utcnow
from companion.llm import service as llm_service
from companion.mcp.auth import require_identity
from companion.mcp.context import ToolContext, tool_context
from companion.mcp.tooling import (
    ChapterId,
    CourseId,
    Toolset,
    answer,
    find_chapter,
    find_pack,
    note_interaction,
)
from companion.premium import chapters, grading, paths, synthesis
from companion.premium.schemas import SynthesisRequest

premium_tools = Toolset()


@premium_tools.tool(title="Personalise a chapter", read_only=False, requires_scope=PROGRESS_WRITE)
async def personalize_chapter(
    course_id: CourseId, chapter_id: ChapterId, ctx: Context[ToolContext, Any]
) -> CallToolResult:
    """A chapter rewritten for the learner's software and hardware background (Pro plan): the same
    sections, ids and anchors as the original, with explanations pitched at their level. Written once
    by the AI model, then served from a cache for 30 days at no cost, until the learner's background
    or the chapter changes. `usage` says what the call cost.

    Use it when the learner asks for a chapter explained for someone like them; otherwise read_chapter
    serves the original. Plans without it get "upgrade_required". Needs a linked account.
    """
    app = tool_context(ctx)
    pack = find_pack(app.catalog, course_id)
    chapter = find_chapter(pack, chapter_id)
    async with app.transaction() as session:
        identity = await require_identity(app, session, scope=PROGRESS_WRITE)
        result = await chapters.personalized_chapter(
            session, user=identity.user, pack=pack, chapter_id=chapter.chapter_id, llm=app.llm
        )
    note_interaction(chapter_id=chapter.chapter_id)
    return answer({"status": "ok", "chapter": result.model_dump(mode="json")})


@premium_tools.tool(title="Translate a chapter", read_only=False, requires_scope=PROGRESS_WRITE)
async def translate_chapter(
    course_id: CourseId,
    chapter_id: ChapterId,
    ctx: Context[ToolContext, Any],
    language: Annotated[
        str,
        Field(max_length=35, description="A language code: 'ur' (Urdu, the default), 'ar', 'es', 'pt-BR'..."),
    ] = "ur",
) -> CallToolResult:
    """A chapter translated into another language (Pro plan), Urdu by default: headings, lists, code
    blocks, math and link anchors kept exactly; `direction` is "rtl" for right-to-left languages.
    Translations are shared by all learners and cached while the chapter is unchanged.

    Use it when the learner wants to read a chapter in their language. Plans without it get
    "upgrade_required". Needs a linked account.
    """
    app = tool_context(ctx)
    pack = find_pack(app.catalog, course_id)
    chapter = find_chapter(pack, chapter_id)
    async with app.transaction() as session:
        identity = await require_identity(app, session, scope=PROGRESS_WRITE)
        result = await chapters.translated_chapter(
            session,
            user=identity.user,
            pack=pack,
            chapter_id=chapter.chapter_id,
            language=language,
            llm=app.llm,
        )
    note_interaction(chapter_id=chapter.chapter_id)
    return answer({"status": "ok", "translation": result.model_dump(mode="json")})


@premium_tools.tool(
    title="Plan my path with AI", read_only=False, idempotent=False, requires_scope=PROGRESS_WRITE
)
async def plan_adaptive_path(course_id: CourseId, ctx: Context[ToolContext, Any]) -> CallToolResult:
    """Plan the learner's path through a course with the AI model (Pro plan), reasoning over their
    progress, quiz results and background: chapters in order, each with the reason it is there. It
    replaces their active learning path (my_learning_path) for 7 days.

    Use it when the learner asks for a personal study plan beyond the rule-based my_learning_path.
    Plans without it get "upgrade_required". Needs a linked account.
    """
    app = tool_context(ctx)
    pack = find_pack(app.catalog, course_id)
    async with app.transaction() as session:
        identity = await require_identity(app, session, scope=PROGRESS_WRITE)
        result = await paths.adaptive_path(session, user=identity.user, pack=pack, llm=app.llm)
    return answer({"status": "ok", **result.model_dump(mode="json")})


@premium_tools.tool(
    title="Grade my written answers", read_only=False, idempotent=False, requires_scope=PROGRESS_WRITE
)
async def grade_open_answers(
    attempt_id: Annotated[uuid.UUID, Field(description="The attempt id returned by submit_quiz_answers.")],
    ctx: Context[ToolContext, Any],
) -> CallToolResult:
    """Grade the open-ended answers of one of the learner's quiz attempts that await grading (Pro
    plan), against each question's rubric: a score per criterion, feedback, and points. The attempt's
    score and `passed` are updated (passing completes the chapter).

    Use it after submit_quiz_answers reports `grading_status: awaiting_grading`. Plans without it get
    "upgrade_required". Needs a linked account.
    """
    app = tool_context(ctx)
    async with app.transaction() as session:
        identity = await require_identity(app, session, scope=PROGRESS_WRITE)
        result = await grading.grade_attempt(
            session,
            user=identity.user,
            attempt_id=attempt_id,
            catalog=app.catalog,
            cache=app.cache,
            llm=app.llm,
        )
    note_interaction(quiz_id=result.attempt.quiz_id)
    return answer({"status": "ok", **result.model_dump(mode="json")})


@premium_tools.tool(
    title="Connect chapters", read_only=False, idempotent=False, requires_scope=PROGRESS_WRITE
)
async def synthesize_chapters(
    course_id: CourseId,
    chapter_ids: Annotated[list[str], Field(min_length=2, max_length=6, description="2 to 6 chapter ids.")],
    ctx: Context[ToolContext, Any],
    question: Annotated[
        str | None, Field(max_length=2000, description="A question to focus the synthesis, if any.")
    ] = None,
) -> CallToolResult:
    """Connect the ideas of several chapters into one big-picture answer (Pro plan), every claim cited
    with [n] markers to the sections listed in `sources`.

    Use it when the learner asks how topics of different chapters fit together. Pass on the citations.
    Plans without it get "upgrade_required". Needs a linked account.
    """
    app = tool_context(ctx)
    pack = find_pack(app.catalog, course_id)
    request = SynthesisRequest(course_id=pack.course.id, chapter_ids=chapter_ids, question=question)
    async with app.transaction() as session:
        identity = await require_identity(app, session, scope=PROGRESS_WRITE)
    result = await synthesis.synthesize(user=identity.user, pack=pack, request=request, llm=app.llm)
    return answer({"status": "ok", **result.model_dump(mode="json")})


@premium_tools.tool(title="My AI usage", read_only=True, requires_scope=CONTENT_READ)
async def my_ai_usage(ctx: Context[ToolContext, Any]) -> CallToolResult:
    """The learner's AI feature usage this month: tokens and cost by feature and in total, their plan's
    monthly AI budget and what is left. Needs a linked account."""
    app = tool_context(ctx)
    async with app.transaction() as session:
        identity = await require_identity(app, session, scope=CONTENT_READ)
        usage = await llm_service.my_usage(
            session,
            user=identity.user,
            tier=access_service.tier_of(identity.user),
            settings=app.settings,
            now=utcnow(),
        )
    return answer({"status": "ok", "usage": usage.model_dump(mode="json")})
