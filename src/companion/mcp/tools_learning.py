"""Phase-2 tools: the learner's own record — submit a quiz, record reading, progress, streak, learning path.

Every tool here needs a linked account (or the desktop server's API key): anonymous callers get a
"sign_in_required" answer. Each calls the same service function as its HTTP route.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult
from pydantic import Field

from companion.accounts.scopes import CONTENT_READ, PROGRESS_WRITE
from companion.mcp.auth import require_identity
from companion.mcp.context import ToolContext, tool_context
from companion.mcp.tooling import (
    ChapterId,
    CourseId,
    QuizId,
    Toolset,
    answer,
    find_chapter,
    find_pack,
    find_quiz,
    find_section,
    note_interaction,
)
from companion.progress import service as progress_service
from companion.progress.schemas import ProgressUpdate
from companion.quizzes import service as quizzes_service
from companion.quizzes.schemas import ANSWERS_DESCRIPTION, AttemptRead
from companion.recommendations import service as recommendations_service

learning_tools = Toolset()


@learning_tools.tool(
    title="Submit quiz answers",
    read_only=False,
    idempotent=False,
    requires_scope=PROGRESS_WRITE,
    widget_accessible=True,
)
async def submit_quiz_answers(
    course_id: CourseId,
    quiz_id: QuizId,
    answers: Annotated[
        dict[str, Any],
        Field(description=ANSWERS_DESCRIPTION + " Keys are the question_id values from get_quiz."),
    ],
    ctx: Context[ToolContext, Any],
    time_taken_seconds: Annotated[
        int | None,
        Field(ge=0, le=7 * 24 * 3600, description="How long the learner took, if known (seconds)."),
    ] = None,
) -> CallToolResult:
    """Grade the learner's answers to a chapter quiz and record the attempt: the score (0-100), whether
    it passed, and for every question whether it was right, the correct answer and the course's
    explanation. Use it once the learner has answered every question of a quiz from get_quiz.

    Each call is a new attempt. Passing completes the chapter; every submission counts for the daily
    streak. Open-ended answers are recorded as pending review. A quiz outside the learner's plan returns
    status "upgrade_required"; missing, unknown or malformed answers return a validation_error that
    names the questions to fix. Needs a linked account.
    """
    app = tool_context(ctx)
    pack = find_pack(app.catalog, course_id)
    quiz = find_quiz(pack, quiz_id)
    async with app.transaction() as session:
        identity = await require_identity(app, session, scope=PROGRESS_WRITE)
        attempt = await quizzes_service.submit_quiz(
            session,
            user=identity.user,
            pack=pack,
            quiz_id=quiz.quiz_id,
            answers=answers,
            time_taken_seconds=time_taken_seconds,
            cache=app.cache,
        )
        graded = AttemptRead.model_validate(attempt)
    note_interaction(quiz_id=quiz.quiz_id)
    return answer(
        {
            "status": "ok",
            "course_id": pack.course.id,
            "passing_score": quiz.passing_score,
            "attempt": graded.model_dump(mode="json"),
        }
    )


@learning_tools.tool(title="My progress", read_only=True, requires_scope=CONTENT_READ)
async def my_progress(
    ctx: Context[ToolContext, Any],
    course_id: Annotated[
        str | None, Field(description="Only this course (an id from list_courses); omit for every course.")
    ] = None,
) -> CallToolResult:
    """The learner's progress: per chapter its state (not_started, in_progress, completed), percentage
    read, time spent, best quiz score and attempts, which chapters their plan locks, the next chapter
    to study (or why there is none), overall completion, and their daily streak.

    Use it when the learner asks how they are doing, before suggesting what to study next, or to
    report a quiz result in context. Needs a linked account.
    """
    app = tool_context(ctx)
    pack = find_pack(app.catalog, course_id) if course_id is not None else None
    async with app.transaction() as session:
        identity = await require_identity(app, session, scope=CONTENT_READ)
        if pack is None:
            dashboard = await progress_service.get_dashboard(
                session, user=identity.user, packs=app.catalog.packs(), cache=app.cache
            )
            return answer({"status": "ok", **dashboard.model_dump(mode="json")})
        course = await progress_service.get_course_dashboard(
            session, user=identity.user, packs=app.catalog.packs(), course_id=pack.course.id, cache=app.cache
        )
    return answer({"status": "ok", **course.model_dump(mode="json")})


@learning_tools.tool(
    title="Record progress", read_only=False, idempotent=False, requires_scope=PROGRESS_WRITE
)
async def record_progress(
    course_id: CourseId,
    chapter_id: ChapterId,
    ctx: Context[ToolContext, Any],
    section_id: Annotated[
        str | None,
        Field(
            description="The section the learner just read (from read_chapter); it becomes the resume point."
        ),
    ] = None,
    time_spent_seconds: Annotated[
        int, Field(ge=0, le=24 * 3600, description="Study time to add to the chapter, in seconds.")
    ] = 0,
    completed: Annotated[
        bool, Field(description="true marks the whole chapter completed (it is never undone).")
    ] = False,
) -> CallToolResult:
    """Record what the learner just did in a chapter: a section read (counted toward the chapter's
    completion), time spent, or the chapter finished. Reading every section, or passing the chapter's
    quiz, also completes it. The chapter moves from not_started to in_progress to completed.

    Call it after the learner reads a section with you, so their progress and daily streak stay
    accurate. A chapter outside the learner's plan returns status "upgrade_required". Needs a linked
    account.
    """
    app = tool_context(ctx)
    pack = find_pack(app.catalog, course_id)
    chapter = find_chapter(pack, chapter_id)
    if section_id is not None:
        find_section(chapter, section_id)
    update = ProgressUpdate(section_id=section_id, time_spent_seconds=time_spent_seconds, completed=completed)
    async with app.transaction() as session:
        identity = await require_identity(app, session, scope=PROGRESS_WRITE)
        progress = await progress_service.record_chapter_progress(
            session,
            user=identity.user,
            pack=pack,
            chapter_id=chapter.chapter_id,
            data=update,
            cache=app.cache,
        )
    note_interaction(chapter_id=chapter.chapter_id)
    return answer({"status": "ok", "progress": progress.model_dump(mode="json")})


@learning_tools.tool(title="My streak", read_only=True, requires_scope=CONTENT_READ)
async def my_streak(ctx: Context[ToolContext, Any]) -> CallToolResult:
    """The learner's daily study streak in their own time zone: current and longest streak, total
    active days, whether they have studied today, and whether a streak freeze is held.

    Use it to celebrate consistency or to nudge the learner to keep the streak alive today (reading a
    section or submitting a quiz counts). Needs a linked account.
    """
    app = tool_context(ctx)
    async with app.transaction() as session:
        identity = await require_identity(app, session, scope=CONTENT_READ)
        streak = await progress_service.get_streak(session, user=identity.user, cache=app.cache)
    return answer({"status": "ok", "streak": streak.model_dump(mode="json")})


@learning_tools.tool(title="My learning path", read_only=True, requires_scope=CONTENT_READ)
async def my_learning_path(course_id: CourseId, ctx: Context[ToolContext, Any]) -> CallToolResult:
    """The learner's recommended order through a course: chapters in priority order, each with the
    reason it is there, and a rationale. Chapters whose quiz they have not passed come first, then
    chapters they started; completed chapters are left out; prerequisites always come first; the
    order suits their software/hardware background. Chapters their plan does not open are kept but
    marked locked with the tier they need.

    Use it when the learner asks what to study next or wants a study plan; pass on the reasons.
    The path is kept for 7 days (each chapter shows its current state). Needs a linked account.
    """
    app = tool_context(ctx)
    pack = find_pack(app.catalog, course_id)
    async with app.transaction() as session:
        identity = await require_identity(app, session, scope=CONTENT_READ)
        path = await recommendations_service.get_learning_path(session, user=identity.user, pack=pack)
    return answer({"status": "ok", "learning_path": path.model_dump(mode="json")})
