"""Phase-1 tools: browse the catalogue, read chapters and sections, navigate, fetch quizzes, check access.

Every tool here works anonymously; a linked account (or API key) only changes what the gate opens.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult
from pydantic import Field

from companion.access import service as access_service
from companion.accounts.models import User
from companion.accounts.policies import Identity
from companion.content import outline
from companion.content import service as content_service
from companion.content.schemas import Chapter, ContentPack
from companion.mcp.auth import current_identity
from companion.mcp.context import ToolContext, tool_context
from companion.mcp.resources import CHAPTER_READER, QUIZ
from companion.mcp.tooling import (
    ChapterId,
    CourseId,
    QuizId,
    SectionId,
    Toolset,
    answer,
    find_chapter,
    find_pack,
    find_quiz,
    find_section,
    note_interaction,
    upgrade_required,
)
from companion.search import service as search_service

content_tools = Toolset()


async def _caller(app: ToolContext) -> Identity | None:
    async with app.transaction() as session:
        return await current_identity(app, session)


async def _caller_user(app: ToolContext) -> User | None:
    identity = await _caller(app)
    return identity.user if identity else None


async def _chapter_answer(
    app: ToolContext, pack: ContentPack, chapter: Chapter, user: User | None
) -> CallToolResult:
    decision = access_service.check_chapter(user, chapter)
    if not decision.allowed:
        return upgrade_required(
            decision, course_id=pack.course.id, chapter_id=chapter.chapter_id, title=chapter.title
        )
    document = await content_service.chapter_document(app.cache, pack, chapter.chapter_id)
    note_interaction(chapter_id=chapter.chapter_id)
    return answer({"status": "ok", "chapter": document})


@content_tools.tool(title="List courses", read_only=True)
async def list_courses(ctx: Context[ToolContext, Any]) -> CallToolResult:
    """List the courses Course Companion teaches, with ids, descriptions and how many chapters are free.

    Start here when the learner asks what they can study, or when you need a course_id.
    """
    app = tool_context(ctx)
    courses = [summary.model_dump(mode="json") for summary in outline.course_summaries(app.catalog.packs())]
    return answer({"status": "ok", "courses": courses})


@content_tools.tool(title="Course outline", read_only=True)
async def get_course_outline(
    course_id: CourseId,
    ctx: Context[ToolContext, Any],
    include_sections: Annotated[
        bool, Field(description="List each chapter's sections (ids and titles), not just count them.")
    ] = False,
    cursor: Annotated[
        str | None, Field(description="next_cursor from the previous call, for the next chapters.")
    ] = None,
) -> CallToolResult:
    """The table of contents of a course: modules, chapters in order with their quiz ids and section
    counts, and for each chapter whether the caller may open it on their plan.

    Use it to find chapter_id and quiz_id values, to plan what to study next, or to show the learner
    what the course covers. Section ids come with include_sections (or from read_chapter). A long
    book answers a page of chapters at a time: pass next_cursor back as cursor for the rest.
    """
    app = tool_context(ctx)
    pack = find_pack(app.catalog, course_id)
    async with app.transaction() as session:
        identity = await current_identity(app, session)
        user = identity.user if identity else None
        course_outline = await outline.course_outline(
            session,
            pack=pack,
            user=user,
            detail="sections" if include_sections else "chapters",
            cursor=cursor,
            limit=outline.DEFAULT_PAGE,
        )
    return answer(
        {"status": "ok", "your_tier": access_service.tier_of(user), **course_outline.model_dump(mode="json")}
    )


@content_tools.tool(title="Read a chapter", read_only=True, widget=CHAPTER_READER)
async def read_chapter(
    course_id: CourseId, chapter_id: ChapterId, ctx: Context[ToolContext, Any]
) -> CallToolResult:
    """The full text of a chapter, verbatim: learning objectives, every section (Markdown, examples,
    key concepts, anchors), summary, its quiz_id and the previous/next chapter ids.

    Ground every explanation in this text and cite sections by title. A chapter outside the caller's
    plan returns status "upgrade_required" with the tier needed and a reason to pass on.
    """
    app = tool_context(ctx)
    pack = find_pack(app.catalog, course_id)
    chapter = find_chapter(pack, chapter_id)
    return await _chapter_answer(app, pack, chapter, await _caller_user(app))


@content_tools.tool(title="Read a section", read_only=True, widget=CHAPTER_READER)
async def read_section(
    course_id: CourseId, chapter_id: ChapterId, section_id: SectionId, ctx: Context[ToolContext, Any]
) -> CallToolResult:
    """One section of a chapter, verbatim, with the previous and next sections (which may be in the
    neighbouring chapters). Prefer it to read_chapter when one topic is enough.

    A section of a chapter outside the caller's plan returns status "upgrade_required".
    """
    app = tool_context(ctx)
    pack = find_pack(app.catalog, course_id)
    chapter = find_chapter(pack, chapter_id)
    section = find_section(chapter, section_id)
    decision = access_service.check_chapter(await _caller_user(app), chapter)
    if not decision.allowed:
        return upgrade_required(
            decision, course_id=course_id, chapter_id=chapter_id, section_id=section_id, title=chapter.title
        )
    note_interaction(chapter_id=chapter_id)
    section_read = content_service.section_document(pack, chapter, section)
    return answer({"status": "ok", **section_read.model_dump(mode="json")})


async def _neighbour_answer(
    ctx: Context[ToolContext, Any], course_id: str, chapter_id: str, step: int
) -> CallToolResult:
    app = tool_context(ctx)
    pack = find_pack(app.catalog, course_id)
    find_chapter(pack, chapter_id)
    neighbour_id = pack.next_chapter_id(chapter_id) if step > 0 else pack.previous_chapter_id(chapter_id)
    if neighbour_id is None:
        edge = "last" if step > 0 else "first"
        return answer(
            {
                "status": "end_of_course" if step > 0 else "start_of_course",
                "course_id": course_id,
                "chapter_id": chapter_id,
                "message": f"'{chapter_id}' is the {edge} chapter of the course.",
            }
        )
    return await _chapter_answer(app, pack, find_chapter(pack, neighbour_id), await _caller_user(app))


@content_tools.tool(title="Next chapter", read_only=True, widget=CHAPTER_READER)
async def next_chapter(
    course_id: CourseId, chapter_id: ChapterId, ctx: Context[ToolContext, Any]
) -> CallToolResult:
    """Open the chapter that follows `chapter_id` in course order (same answer as read_chapter for it).

    Use it when the learner has finished a chapter and wants to go on. At the end of the course the
    status is "end_of_course"; a locked next chapter returns "upgrade_required".
    """
    return await _neighbour_answer(ctx, course_id, chapter_id, step=1)


@content_tools.tool(title="Previous chapter", read_only=True, widget=CHAPTER_READER)
async def previous_chapter(
    course_id: CourseId, chapter_id: ChapterId, ctx: Context[ToolContext, Any]
) -> CallToolResult:
    """Open the chapter before `chapter_id` in course order (same answer as read_chapter for it).

    Use it to revisit earlier material. At the start of the course the status is "start_of_course".
    """
    return await _neighbour_answer(ctx, course_id, chapter_id, step=-1)


@content_tools.tool(title="Get a quiz", read_only=True, widget=QUIZ)
async def get_quiz(course_id: CourseId, quiz_id: QuizId, ctx: Context[ToolContext, Any]) -> CallToolResult:
    """A chapter's quiz as the learner sees it: questions, options, points, passing score and time
    limit. It never contains answers or explanations, so ask the questions and let the learner answer.

    A quiz of a chapter outside the caller's plan returns status "upgrade_required".
    """
    app = tool_context(ctx)
    pack = find_pack(app.catalog, course_id)
    find_quiz(pack, quiz_id)
    decision = access_service.check_quiz(await _caller_user(app), pack, quiz_id)
    if not decision.allowed:
        return upgrade_required(decision, course_id=course_id, quiz_id=quiz_id)
    document = await content_service.learner_quiz_document(app.cache, pack, quiz_id)
    return answer({"status": "ok", "quiz": document})


@content_tools.tool(title="Check access", read_only=True)
async def check_access(
    ctx: Context[ToolContext, Any],
    course_id: Annotated[
        str | None, Field(description="Course id; required with chapter_id or quiz_id.")
    ] = None,
    chapter_id: Annotated[str | None, Field(description="A chapter to check.")] = None,
    quiz_id: Annotated[str | None, Field(description="A quiz to check.")] = None,
    feature: Annotated[
        str | None,
        Field(description="A feature to check: " + ", ".join(sorted(access_service.FEATURE_TIERS)) + "."),
    ] = None,
) -> CallToolResult:
    """Whether the caller's plan includes a chapter, a quiz or a feature, the tier it needs, and a reason
    to show the learner. Give exactly one of chapter_id, quiz_id or feature.

    Use it before promising something, or to explain what an upgrade would unlock.
    """
    app = tool_context(ctx)
    check = access_service.check_access(
        await _caller_user(app),
        app.catalog,
        course_id=course_id,
        chapter_id=chapter_id,
        quiz_id=quiz_id,
        feature=feature,
    )
    return answer({"status": "ok", **check.model_dump(mode="json")})


@content_tools.tool(title="Search the course", read_only=True)
async def search_course(
    query: Annotated[
        str, Field(min_length=1, max_length=500, description="The learner's question or keywords.")
    ],
    ctx: Context[ToolContext, Any],
    course_id: Annotated[
        str | None, Field(description="Limit to one course (from list_courses); all courses when omitted.")
    ] = None,
    chapter_id: Annotated[str | None, Field(description="Limit to one chapter.")] = None,
    difficulty: Annotated[
        Literal["beginner", "intermediate", "advanced"] | None, Field(description="Limit to a difficulty.")
    ] = None,
    topic: Annotated[str | None, Field(description="Limit to chapters tagged with this topic.")] = None,
    limit: Annotated[int, Field(ge=1, le=20, description="How many passages to return.")] = 5,
) -> CallToolResult:
    """Find the course passages that answer a question, best first, each with a citation (chapter,
    section, link) and a highlighted snippet.

    Use it before explaining a concept, so the explanation is grounded in the course text, and cite
    the sections you used. Passages of chapters outside the caller's plan come back `locked` with the
    tier that opens them and no text: mention that the topic is covered there. `mode` says whether
    embeddings took part ("hybrid") or keyword search answered alone ("lexical").
    """
    app = tool_context(ctx)
    if course_id is not None:
        find_pack(app.catalog, course_id)
    user = await _caller_user(app)
    result = await search_service.search(
        app.search,
        catalog=app.catalog,
        user=user,
        query=query,
        course_id=course_id,
        chapter_id=chapter_id,
        difficulty=difficulty,
        topic=topic,
        limit=limit,
    )
    return answer({"status": "ok", **result.model_dump(mode="json")})


@content_tools.tool(title="Who am I", read_only=True)
async def whoami(ctx: Context[ToolContext, Any]) -> CallToolResult:
    """Who the assistant is acting for: the linked learner's name, email, plan and granted scopes,
    or that the caller is anonymous and how to link an account.

    Use it when the learner asks whether their account is connected, or before personal requests.
    """
    app = tool_context(ctx)
    identity = await _caller(app)
    if identity is None:
        return answer(
            {
                "status": "ok",
                "signed_in": False,
                "tier": access_service.tier_of(None),
                "how_to_sign_in": (
                    "Link a Course Companion account (your assistant asks you to sign in), or start the "
                    "desktop server with an API key created in your account settings."
                ),
            }
        )
    user = identity.user
    return answer(
        {
            "status": "ok",
            "signed_in": True,
            "user": {
                "id": str(user.id),
                "email": user.email,
                "full_name": user.full_name,
                "timezone": user.timezone,
            },
            "tier": access_service.tier_of(user),
            "scopes": sorted(identity.scopes),
            "auth_method": identity.method,
        }
    )
