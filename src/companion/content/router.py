"""Content endpoints: catalogue, outline, chapters, sections, navigation, learner quizzes, access checks."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from companion.access import service as access_service
from companion.accounts.policies import OptionalReaderDep, PublicDep, recheck_refusal
from companion.content import outline
from companion.content import service as content_service
from companion.content.dependencies import CatalogDep, PackDep
from companion.content.http import cached_json
from companion.content.responses import (
    AccessCheck,
    ChapterNeighbour,
    ChapterRead,
    CourseOutline,
    CourseSummary,
    OutlineDetail,
    QuizRead,
    SectionNeighbour,
    SectionRead,
)
from companion.dependencies import CacheDep, SessionDep
from companion.progress.dependencies import TRACKED

router = APIRouter(prefix="/api/v1", tags=["content"])


@router.get("/courses", response_model=list[CourseSummary])
async def list_courses(request: Request, _public: PublicDep, catalog: CatalogDep) -> Response:
    """The course catalogue; readable without an account."""
    packs = catalog.packs()

    async def body() -> list[dict[str, Any]]:
        return [summary.model_dump(mode="json") for summary in outline.course_summaries(packs)]

    return await cached_json(
        request,
        body,
        identity=("catalog", *(f"{pack.course.id}@{pack.version}" for pack in packs)),
        public=True,
    )


@router.get(
    "/courses/{course_id}",
    response_model=CourseOutline,
    responses={422: {"description": "validation_error: no chapter of the course is the `cursor`"}},
)
async def course_outline(
    pack: PackDep,
    identity: OptionalReaderDep,
    session: SessionDep,
    detail: Annotated[
        OutlineDetail,
        Query(description="`chapters` counts each chapter's sections; `sections` lists them too."),
    ] = "chapters",
    cursor: Annotated[
        str | None, Query(max_length=200, description="The `next_cursor` of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=outline.MAX_PAGE, description="Chapters per page.")] = (
        outline.DEFAULT_PAGE
    ),
) -> CourseOutline:
    """The table of contents: per chapter, whether you may open it, the tier it needs, your progress.

    Chapters come in course order, `limit` at a time; `next_cursor` fetches the next page (a short
    course fits on one). `detail=sections` adds each chapter's sections (ids, titles, anchors).
    """
    return await outline.course_outline(
        session,
        pack=pack,
        user=identity.user if identity else None,
        detail=detail,
        cursor=cursor,
        limit=limit,
    )


@router.get(
    "/courses/{course_id}/chapters/{chapter_id}",
    response_model=ChapterRead,
    dependencies=TRACKED,
    responses={403: {"description": "upgrade_required: the chapter needs a higher tier"}, 304: {}},
)
async def read_chapter(
    chapter_id: str, request: Request, pack: PackDep, identity: OptionalReaderDep
) -> Response:
    """A chapter verbatim (Markdown plus structured fields); gated chapters need the right tier."""
    chapter = content_service.get_chapter(pack, chapter_id)
    await recheck_refusal(request, identity, lambda user: access_service.check_chapter(user, chapter))

    async def body() -> dict[str, Any]:
        return content_service.chapter_body(pack, chapter_id)

    # The encoded body is kept per content version, so the shared cache is never asked on this path.
    return await cached_json(
        request,
        body,
        identity=("chapter", pack.course.id, pack.version, chapter_id),
        public=chapter.access_tier == "free",
    )


@router.get(
    "/courses/{course_id}/chapters/{chapter_id}/sections/{section_id}",
    response_model=SectionRead,
    dependencies=TRACKED,
)
async def read_section(
    chapter_id: str, section_id: str, request: Request, pack: PackDep, identity: OptionalReaderDep
) -> Response:
    """One section verbatim with links to the sections before and after it."""
    chapter = content_service.get_chapter(pack, chapter_id)
    section = content_service.get_section(chapter, section_id)
    await recheck_refusal(request, identity, lambda user: access_service.check_chapter(user, chapter))

    async def body() -> dict[str, Any]:
        return content_service.section_document(pack, chapter, section).model_dump(mode="json")

    return await cached_json(
        request,
        body,
        identity=("section", pack.course.id, pack.version, chapter_id, section_id),
        public=chapter.access_tier == "free",
    )


@router.get("/courses/{course_id}/chapters/{chapter_id}/{direction}", response_model=ChapterNeighbour)
async def neighbour_chapter(
    chapter_id: str, direction: Literal["next", "previous"], pack: PackDep, identity: OptionalReaderDep
) -> ChapterNeighbour:
    """The chapter after (`next`) or before (`previous`) this one, and whether you may open it."""
    content_service.get_chapter(pack, chapter_id)
    neighbour_id = (
        pack.next_chapter_id(chapter_id) if direction == "next" else pack.previous_chapter_id(chapter_id)
    )
    if neighbour_id is None:
        edge = "last" if direction == "next" else "first"
        return ChapterNeighbour(
            direction=direction,
            chapter_id=None,
            title=None,
            access=None,
            message=f"This is the {edge} chapter.",
        )
    neighbour = content_service.get_chapter(pack, neighbour_id)
    decision = access_service.check_chapter(identity.user if identity else None, neighbour)
    return ChapterNeighbour(
        direction=direction,
        chapter_id=neighbour_id,
        title=neighbour.title,
        access=outline.access_of(decision),
        message=f'{direction.capitalize()} chapter: "{neighbour.title}".',
    )


@router.get(
    "/courses/{course_id}/chapters/{chapter_id}/sections/{section_id}/{direction}",
    response_model=SectionNeighbour,
)
async def neighbour_section(
    chapter_id: str,
    section_id: str,
    direction: Literal["next", "previous"],
    pack: PackDep,
    identity: OptionalReaderDep,
) -> SectionNeighbour:
    """The section after or before this one, continuing across chapters."""
    content_service.get_section(content_service.get_chapter(pack, chapter_id), section_id)
    ref = (
        pack.next_section(chapter_id, section_id)
        if direction == "next"
        else pack.previous_section(chapter_id, section_id)
    )
    if ref is None:
        edge = "end" if direction == "next" else "start"
        return SectionNeighbour(
            direction=direction, section=None, access=None, message=f"This is the {edge} of the course."
        )
    decision = access_service.check_chapter(identity.user if identity else None, ref.chapter)
    return SectionNeighbour(
        direction=direction,
        section=content_service.section_link(ref),
        access=outline.access_of(decision),
        message=f'{direction.capitalize()} section: "{ref.section.title}" in "{ref.chapter.title}".',
    )


@router.get("/courses/{course_id}/quizzes/{quiz_id}", response_model=QuizRead, dependencies=TRACKED)
async def read_quiz(
    quiz_id: str, request: Request, pack: PackDep, identity: OptionalReaderDep, cache: CacheDep
) -> Response:
    """A quiz as a learner sees it: the questions and options, never the answers."""
    await recheck_refusal(request, identity, lambda user: access_service.check_quiz(user, pack, quiz_id))
    chapter = content_service.get_chapter(pack, content_service.get_quiz(pack, quiz_id).chapter_id)
    return await cached_json(
        request,
        lambda: content_service.learner_quiz_document(cache, pack, quiz_id),
        identity=("quiz", pack.course.id, pack.version, quiz_id),
        public=chapter.access_tier == "free",
    )


@router.get(
    "/access/check",
    response_model=AccessCheck,
    responses={404: {"description": "not_found: no such course, chapter, quiz or feature."}},
)
async def check_access(
    catalog: CatalogDep,
    identity: OptionalReaderDep,
    course_id: str | None = Query(
        default=None, max_length=200, description="The course of the chapter or quiz."
    ),
    chapter_id: str | None = Query(default=None, max_length=200),
    quiz_id: str | None = Query(default=None, max_length=200),
    feature: str | None = Query(
        default=None,
        max_length=100,
        description="A feature: " + ", ".join(sorted(access_service.FEATURE_TIERS)) + ".",
    ),
) -> AccessCheck:
    """May the caller open a chapter or quiz, or use a feature? Give exactly one; answers with the tier
    required and why."""
    return access_service.check_access(
        identity.user if identity else None,
        catalog,
        course_id=course_id,
        chapter_id=chapter_id,
        quiz_id=quiz_id,
        feature=feature,
    )
