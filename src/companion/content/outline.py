"""The catalogue and a course's table of contents as a caller sees them (access and progress per chapter).

Kept apart from content.service because it reads the learner's progress, and the progress domain
itself depends on content.service.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from companion.access import service as access_service
from companion.accounts.models import User
from companion.content.responses import (
    Access,
    ChapterOutline,
    CourseOutline,
    CourseSummary,
    ModuleOutline,
    OutlineDetail,
    SectionSummary,
)
from companion.content.schemas import Chapter, ContentPack
from companion.errors import ValidationFailed
from companion.progress import service as progress_service
from companion.progress.schemas import ChapterStateSummary

# Pages of the outline over HTTP and MCP: a long book's outline in one answer is over a megabyte.
DEFAULT_PAGE = 50
MAX_PAGE = 500
NOT_STARTED = ChapterStateSummary(state="not_started", completion_percentage=0.0, last_section_id=None)


def course_summaries(packs: list[ContentPack]) -> list[CourseSummary]:
    """The catalogue entries of these courses."""
    return [
        CourseSummary(
            course_id=pack.course.id,
            title=pack.course.title,
            description=pack.course.description,
            language=pack.course.language,
            chapter_count=len(pack.chapters),
            free_chapter_count=sum(1 for chapter in pack.chapters if chapter.access_tier == "free"),
            content_version=pack.version,
        )
        for pack in packs
    ]


def access_of(decision: access_service.AccessDecision) -> Access:
    """The gate's decision as a response body."""
    return Access(
        allowed=decision.allowed,
        required_tier=decision.required_tier,
        current_tier=decision.current_tier,
        reason=decision.reason,
    )


def _page(pack: ContentPack, *, cursor: str | None, limit: int | None) -> tuple[list[Chapter], str | None]:
    """Up to `limit` chapters from `cursor` (the first chapter id of the page) on, and the next cursor."""
    start = 0
    if cursor is not None:
        ids = [chapter.chapter_id for chapter in pack.chapters]
        if cursor not in ids:
            raise ValidationFailed(
                f"No chapter '{cursor}' in course '{pack.course.id}' to continue the outline from.",
                details={"field": "cursor", "cursor": cursor},
            )
        start = ids.index(cursor)
    end = len(pack.chapters) if limit is None else min(start + limit, len(pack.chapters))
    return pack.chapters[start:end], pack.chapters[end].chapter_id if end < len(pack.chapters) else None


async def course_outline(
    session: AsyncSession,
    *,
    pack: ContentPack,
    user: User | None,
    detail: OutlineDetail = "chapters",
    cursor: str | None = None,
    limit: int | None = None,
) -> CourseOutline:
    """The table of contents with, per chapter, the caller's access and (when signed in) progress.

    Compact by default: each chapter counts its sections, and lists them with `detail="sections"`.
    `limit` pages the chapters in course order; `next_cursor` names the first chapter of the next page.
    """
    chapters_page, next_cursor = _page(pack, cursor=cursor, limit=limit)
    states = (
        await progress_service.chapter_states(session, user_id=user.id, course_id=pack.course.id)
        if user
        else {}
    )
    chapters = []
    for chapter in chapters_page:
        quiz = pack.quiz_for_chapter(chapter.chapter_id)
        chapters.append(
            ChapterOutline(
                chapter_id=chapter.chapter_id,
                chapter_number=chapter.chapter_number,
                title=chapter.title,
                subtitle=chapter.subtitle,
                module=chapter.module,
                difficulty_level=chapter.difficulty_level,
                estimated_time_minutes=chapter.estimated_time_minutes,
                prerequisites=chapter.prerequisites,
                access_tier=chapter.access_tier,
                access=access_of(access_service.check_chapter(user, chapter)),
                quiz_id=quiz.quiz_id if quiz else None,
                section_count=len(chapter.sections),
                sections=[
                    SectionSummary(
                        section_id=section.section_id,
                        title=section.title,
                        anchor=section.anchor,
                        estimated_time_minutes=section.estimated_time_minutes,
                    )
                    for section in chapter.sections
                ]
                if detail == "sections"
                else None,
                progress=states.get(chapter.chapter_id, NOT_STARTED) if user else None,
            )
        )
    return CourseOutline(
        course_id=pack.course.id,
        title=pack.course.title,
        description=pack.course.description,
        content_version=pack.version,
        modules=[
            ModuleOutline(
                id=module.id,
                title=module.title,
                parent=module.parent,
                description=module.description,
                collapsed=module.collapsed,
                chapters=module.chapters if detail == "sections" else None,
            )
            for module in pack.course.modules
        ],
        chapter_count=len(pack.chapters),
        chapters=chapters,
        next_cursor=next_cursor,
    )
