"""Serving published content: the catalogue of current course versions and cached chapter/quiz documents."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from companion import cache as cache_keys
from companion.cache import Cache
from companion.content import publishing
from companion.content.responses import SectionLink, SectionRead
from companion.content.schemas import Chapter, ContentPack, Quiz, Section, SectionRef
from companion.content.store import ContentStore
from companion.errors import NotFound

logger = logging.getLogger(__name__)


class ContentCatalog:
    """The current published version of every course; a new version replaces the old in one swap."""

    def __init__(self, store: ContentStore | None = None) -> None:
        self._store = store
        self._packs: dict[str, ContentPack] = {}
        # Bumped whenever the packs change, so whatever was derived from the old ones can tell.
        self.generation = 0
        # False until the store has answered once: until then there is nothing to serve (503).
        self.loaded = store is None

    @classmethod
    def from_packs(cls, packs: list[ContentPack]) -> ContentCatalog:
        """A catalogue over packs already in memory (tests, benchmarks)."""
        catalog = cls()
        catalog._packs = {pack.course.id: pack for pack in packs}
        return catalog

    async def refresh(self) -> list[str]:
        """Pick up newly published versions from the store; returns the course ids that changed."""
        if self._store is None:
            return []
        store = self._store
        current = dict(self._packs)
        changed: list[str] = []
        for course_id in await asyncio.to_thread(publishing.list_course_ids, store):
            version = await asyncio.to_thread(publishing.current_version, store, course_id)
            if version is None or (course_id in current and current[course_id].version == version):
                continue
            current[course_id] = await asyncio.to_thread(publishing.load_version, store, course_id, version)
            changed.append(course_id)
        self.loaded = True
        if changed:
            self._packs = current  # one assignment: readers see the old or the new catalogue, never a mix
            self.generation += 1
            logger.info("content versions loaded: %s", {cid: current[cid].version[:12] for cid in changed})
        return changed

    def packs(self) -> list[ContentPack]:
        """Every course's current pack, in course-id order."""
        return [self._packs[course_id] for course_id in sorted(self._packs)]

    def pack(self, course_id: str) -> ContentPack:
        """The current pack of a course; unknown courses raise NotFound."""
        pack = self._packs.get(course_id)
        if pack is None:
            raise NotFound(f"No course '{course_id}'.", details={"course_id": course_id})
        return pack


def get_chapter(pack: ContentPack, chapter_id: str) -> Chapter:
    """A chapter of the pack; unknown chapters raise NotFound."""
    chapter = pack.chapter(chapter_id)
    if chapter is None:
        raise NotFound(
            f"No chapter '{chapter_id}' in course '{pack.course.id}'.",
            details={"course_id": pack.course.id, "chapter_id": chapter_id},
        )
    return chapter


def get_section(chapter: Chapter, section_id: str) -> Section:
    """A section of the chapter; unknown sections raise NotFound naming the chapter's sections."""
    section = chapter.section(section_id)
    if section is None:
        raise NotFound(
            f"No section '{section_id}' in chapter '{chapter.chapter_id}'.",
            details={
                "chapter_id": chapter.chapter_id,
                "section_id": section_id,
                "section_ids": [known.section_id for known in chapter.sections],
            },
        )
    return section


def section_link(ref: SectionRef | None) -> SectionLink | None:
    """Where a section is (chapter, section, title), for navigation; None past either end."""
    if ref is None:
        return None
    return SectionLink(
        chapter_id=ref.chapter.chapter_id, section_id=ref.section.section_id, title=ref.section.title
    )


def section_document(pack: ContentPack, chapter: Chapter, section: Section) -> SectionRead:
    """One section verbatim with its chapter and the sections before and after it (across chapters)."""
    chapter_id, section_id = chapter.chapter_id, section.section_id
    return SectionRead(
        course_id=pack.course.id,
        content_version=pack.version,
        chapter_id=chapter_id,
        chapter_title=chapter.title,
        section=section,
        previous=section_link(pack.previous_section(chapter_id, section_id)),
        next=section_link(pack.next_section(chapter_id, section_id)),
    )


def get_quiz(pack: ContentPack, quiz_id: str) -> Quiz:
    """A quiz of the pack; unknown quizzes raise NotFound."""
    quiz = pack.quiz(quiz_id)
    if quiz is None:
        raise NotFound(
            f"No quiz '{quiz_id}' in course '{pack.course.id}'.",
            details={"course_id": pack.course.id, "quiz_id": quiz_id},
        )
    return quiz


def chapter_body(pack: ContentPack, chapter_id: str) -> dict[str, Any]:
    """The chapter as served (structured fields plus navigation), built from the pack in memory."""
    chapter = get_chapter(pack, chapter_id)
    quiz = pack.quiz_for_chapter(chapter_id)
    return {
        "course_id": pack.course.id,
        "content_version": pack.version,
        **chapter.model_dump(mode="json"),
        "quiz_id": quiz.quiz_id if quiz else None,
        "previous_chapter_id": pack.previous_chapter_id(chapter_id),
        "next_chapter_id": pack.next_chapter_id(chapter_id),
    }


async def chapter_document(cache: Cache, pack: ContentPack, chapter_id: str) -> dict[str, Any]:
    """The chapter as served, through the cache keyed by version."""
    get_chapter(pack, chapter_id)  # an unknown chapter is 404 before the cache is asked
    key = cache_keys.chapter_key(pack.course.id, pack.version, chapter_id)
    return dict(
        await cache_keys.get_or_build(
            cache, key, cache_keys.CHAPTER_TTL, lambda: chapter_body(pack, chapter_id)
        )
    )


async def learner_quiz_document(cache: Cache, pack: ContentPack, quiz_id: str) -> dict[str, Any]:
    """The quiz as a learner sees it (never answers, rubrics or samples), through the cache."""
    quiz = get_quiz(pack, quiz_id)

    def build() -> dict[str, Any]:
        learner_view = quiz.for_learner().model_dump(mode="json")
        return {"course_id": pack.course.id, "content_version": pack.version, **learner_view}

    key = cache_keys.quiz_key(pack.course.id, pack.version, quiz_id)
    return dict(await cache_keys.get_or_build(cache, key, cache_keys.QUIZ_TTL, build))
