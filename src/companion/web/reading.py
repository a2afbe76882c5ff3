"""Reading pages: the catalogue, a course's outline, the chapter reader, reading records and search."""

from __future__ import annotations

from typing import Annotated

from cachetools import LRUCache
from fastapi import APIRouter, Form, Query, Request, Response, status
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from companion.access import service as access_service
from companion.content import html as content_html
from companion.content import outline
from companion.content import service as content_service
from companion.content.dependencies import CatalogDep, PackDep
from companion.content.responses import ChapterOutline, CourseOutline
from companion.content.schemas import Chapter, ContentPack, Module
from companion.dependencies import CacheDep, SessionDep
from companion.errors import ValidationFailed
from companion.progress import service as progress_service
from companion.progress.schemas import ProgressUpdate
from companion.search import service as search_service
from companion.search.dependencies import CourseSearchDep
from companion.web import premium
from companion.web.dependencies import CsrfProtected, Learner, Visitor, count_web_activity
from companion.web.templating import render, templates

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

# Rendered chapter bodies per (course, content version, chapter): identical for every reader.
_articles: LRUCache[tuple[str, str, str], tuple[str, bool]] = LRUCache(maxsize=512)
# A reading report adds at most this much time; a tab left open overnight is not study time.
MAX_REPORTED_SECONDS = 600


def chapter_article(pack: ContentPack, chapter: Chapter) -> tuple[str, bool]:
    """The chapter's body as HTML (sections with their anchors), rendered once per content version.

    Also says whether it holds Mermaid diagrams (the page then loads the diagram renderer).
    """
    key = (pack.course.id, pack.version, chapter.chapter_id)
    cached = _articles.get(key)
    if cached is None:
        sections = [
            {
                "section": section,
                "html": content_html.markdown_to_html(section.content_markdown, anchor_prefix=section.anchor),
            }
            for section in chapter.sections
        ]
        language = pack.course.language
        article = templates.get_template("_article.html").render(
            chapter=chapter,
            sections=sections,
            lang=language,
            dir=content_html.text_direction(language),
        )
        mermaid = any(content_html.has_mermaid(section.content_markdown) for section in chapter.sections)
        cached = _articles[key] = (article, mermaid)
    return cached


def resume_url(pack: ContentPack, chapter_id: str | None, section_id: str | None) -> str | None:
    """The reader URL of a chapter, at the section to resume when there is one."""
    chapter = pack.chapter(chapter_id) if chapter_id else None
    if chapter is None:
        return None
    section = chapter.section(section_id) if section_id else None
    anchor = f"#{section.anchor}" if section else ""
    return f"/courses/{pack.course.id}/chapters/{chapter.chapter_id}{anchor}"


def sidebar_groups(
    course: CourseOutline, modules: list[Module]
) -> list[tuple[str | None, list[ChapterOutline]]]:
    """The outline's chapters in the book's order, grouped by the pack's modules; a run of chapters
    outside any module (a book's introduction) stands where it is in the book, as Docusaurus shows it."""
    module_of = {chapter_id: module for module in modules for chapter_id in module.chapters}
    by_id = {chapter.chapter_id: chapter for chapter in course.chapters}
    groups: list[tuple[str | None, list[ChapterOutline]]] = []
    shown: set[int] = set()
    for chapter in course.chapters:
        module = module_of.get(chapter.chapter_id)
        if module is None:
            if groups and groups[-1][0] is None:
                groups[-1][1].append(chapter)
            else:
                groups.append((None, [chapter]))
        elif id(module) not in shown:
            shown.add(id(module))
            groups.append((module.title, [by_id[item] for item in module.chapters if item in by_id]))
    return groups


@router.get("/")
async def catalogue(
    request: Request, catalog: CatalogDep, visitor: Visitor, session: SessionDep, cache: CacheDep
) -> Response:
    """The courses, with the reader's progress and what their plan opens."""
    packs = catalog.packs()
    user = visitor.user if visitor else None
    dashboard = (
        await progress_service.get_dashboard(session, user=user, packs=packs, cache=cache) if user else None
    )
    progress = {course.course_id: course for course in dashboard.courses} if dashboard else {}
    courses = []
    for summary, pack in zip(outline.course_summaries(packs), packs, strict=True):
        course_progress = progress.get(pack.course.id)
        upnext = course_progress.next_chapter if course_progress else None
        courses.append(
            {
                "summary": summary,
                "outline": await outline.course_outline(session, pack=pack, user=user),
                "progress": course_progress,
                "resume_url": resume_url(pack, upnext.chapter_id, upnext.resume_section_id)
                if upnext and not upnext.upgrade_required
                else None,
            }
        )
    context = {
        "courses": courses,
        "tier": access_service.tier_of(user),
        "streak": dashboard and dashboard.streak,
    }
    return render(request, "catalogue.html", context, identity=visitor)


@router.get("/courses/{course_id}")
async def course_page(
    request: Request,
    pack: PackDep,
    visitor: Visitor,
    session: SessionDep,
    cache: CacheDep,
    catalog: CatalogDep,
) -> Response:
    """A course's table of contents: modules, chapters with lock badges and progress, quizzes."""
    user = visitor.user if visitor else None
    course = await outline.course_outline(session, pack=pack, user=user)
    progress = (
        await progress_service.get_course_dashboard(
            session, user=user, packs=catalog.packs(), course_id=pack.course.id, cache=cache
        )
        if user
        else None
    )
    upnext = progress.next_chapter if progress else None
    context = {
        "course": course,
        "groups": sidebar_groups(course, pack.course.modules),
        "progress": progress,
        "resume_url": resume_url(pack, upnext.chapter_id, upnext.resume_section_id)
        if upnext and not upnext.upgrade_required
        else None,
        "lang": pack.course.language,
        "dir": content_html.text_direction(pack.course.language),
    }
    return render(request, "course.html", context, identity=visitor)


@router.get("/courses/{course_id}/chapters/{chapter_id}")
async def reader(
    chapter_id: str,
    request: Request,
    pack: PackDep,
    visitor: Visitor,
    session: SessionDep,
    availability: premium.ModelAvailability,
) -> Response:
    """The reader: the chapter with its sidebar, navigation and the tutor; gated chapters show the upgrade."""
    chapter = content_service.get_chapter(pack, chapter_id)
    user = visitor.user if visitor else None
    access_service.check_chapter(user, chapter).enforce()
    course = await outline.course_outline(session, pack=pack, user=user)
    current = next(item for item in course.chapters if item.chapter_id == chapter_id)
    resume = None
    if current.progress and current.progress.last_section_id:
        resume = chapter.section(current.progress.last_section_id)
    by_id = {item.chapter_id: item for item in course.chapters}
    article, mermaid = chapter_article(pack, chapter)
    previous_id, next_id = pack.previous_chapter_id(chapter_id), pack.next_chapter_id(chapter_id)
    context = {
        "course": course,
        "groups": sidebar_groups(course, pack.course.modules),
        "chapter": chapter,
        "current": current,
        "article": article,
        "mermaid": mermaid,
        "previous": by_id.get(previous_id) if previous_id else None,
        "next": by_id.get(next_id) if next_id else None,
        "resume": resume,
        "course_id": pack.course.id,
        "premium": premium.premium_offers(user, availability),
        "languages": premium.languages(),
        "current_language": premium.DEFAULT_LANGUAGE,
        "lang": pack.course.language,
        "dir": content_html.text_direction(pack.course.language),
    }
    return render(request, "reader.html", context, identity=visitor)


@router.post(
    "/courses/{course_id}/chapters/{chapter_id}/reading",
    dependencies=[CsrfProtected],
    status_code=status.HTTP_204_NO_CONTENT,
)
async def record_reading(
    chapter_id: str,
    pack: PackDep,
    learner: Learner,
    session: SessionDep,
    cache: CacheDep,
    section_id: Annotated[str | None, Form(max_length=200)] = None,
    seconds: Annotated[int, Form(ge=0)] = 0,
) -> Response:
    """Record a section read after a short dwell, and the time spent reading, in the learner's progress."""
    try:
        data = ProgressUpdate(
            section_id=section_id or None, time_spent_seconds=min(seconds, MAX_REPORTED_SECONDS)
        )
    except ValidationError as error:
        raise ValidationFailed("The reading report is not valid.") from error
    await progress_service.record_chapter_progress(
        session, user=learner.user, pack=pack, chapter_id=chapter_id, data=data, cache=cache
    )
    await count_web_activity(session, learner, chapter_id=chapter_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/search")
async def search_page(
    request: Request,
    catalog: CatalogDep,
    course_search: CourseSearchDep,
    visitor: Visitor,
    q: Annotated[str, Query(max_length=500)] = "",
    course_id: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Search the courses: passages with highlighted matches, each linking to its section in the reader."""
    query = q.strip()
    results = None
    if query:
        results = await search_service.search(
            course_search,
            catalog=catalog,
            user=visitor.user if visitor else None,
            query=query,
            course_id=course_id or None,
            limit=20,
        )
    context = {"query": query, "course_id": course_id, "results": results, "courses": catalog.packs()}
    return render(request, "search.html", context, identity=visitor)
