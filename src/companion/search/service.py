"""The search API: search one course or all, with filters; gated passages are withheld, every hit cited."""

from __future__ import annotations

import time
from collections.abc import Sequence

from companion import metrics
from companion.access import service as access_service
from companion.accounts.models import User
from companion.content.schemas import ContentPack
from companion.content.service import ContentCatalog
from companion.errors import ValidationFailed
from companion.search.citations import citation, snippet
from companion.search.engine import SearchHit
from companion.search.index import CourseSearch
from companion.search.schemas import SearchResponse, SearchResultItem
from companion.search.terms import highlight_terms
from companion.search.vectors import FilterValue


async def search(
    course_search: CourseSearch,
    *,
    catalog: ContentCatalog,
    user: User | None,
    query: str,
    course_id: str | None = None,
    chapter_id: str | None = None,
    module: str | None = None,
    difficulty: str | None = None,
    topic: str | None = None,
    limit: int = 10,
) -> SearchResponse:
    """Search one course (or all), with filters; passages of chapters the caller cannot open are withheld."""
    started = time.perf_counter()
    packs = [catalog.pack(course_id)] if course_id else catalog.packs()
    filters = _filters(packs, chapter_id=chapter_id, module=module, difficulty=difficulty, topic=topic)
    retrievals = [
        await course_search.retrieve(pack, query, filters=pack_filters, limit=limit)
        for pack, pack_filters in filters
    ]
    scored = sorted(
        ((hit, retrieval) for retrieval in retrievals for hit in retrieval.hits),
        key=lambda pair: pair[0].score,
        reverse=True,
    )[:limit]
    terms = highlight_terms(query)
    results = _withhold_locked_ranks(
        [_result(hit, retrieval.entry.pack, user, terms) for hit, retrieval in scored], packs
    )
    reasons = [retrieval.degraded_reason for retrieval in retrievals if retrieval.degraded_reason]
    lexical = any(retrieval.mode == "lexical" for retrieval in retrievals) or not retrievals
    metrics.SEARCH_LATENCY.labels(mode="lexical" if lexical else "hybrid").observe(
        time.perf_counter() - started
    )
    return SearchResponse(
        query=query,
        course_ids=[pack.course.id for pack, _ in filters],
        mode="lexical" if lexical else "hybrid",
        degraded_reason="; ".join(dict.fromkeys(reasons)) or None,
        results=results,
    )


async def index_status(course_search: CourseSearch, packs: Sequence[ContentPack]) -> str:
    """Whether every course's current version is indexed for hybrid search ("ok"), else how search answers."""
    if course_search.unavailable_reason is not None:
        return f"degraded: lexical only ({course_search.unavailable_reason})"
    building = []
    for pack in packs:
        entry = await course_search.current(pack)
        # A newer version being indexed is not searched yet: the previous one answers meanwhile.
        if not entry.ready or entry.pack.version != pack.version:
            building.append(pack.course.id)
    if building:
        return f"building: searched lexically until the index of {', '.join(building)} is built"
    return "ok"


def _withhold_locked_ranks(
    results: list[SearchResultItem], packs: Sequence[ContentPack]
) -> list[SearchResultItem]:
    """Open passages best first, then each locked section once, in course order.

    A locked passage's score or rank would tell a learner how closely text they cannot read matches
    their query (probing it word by word), so locked results carry neither, only where they are.
    """
    opened = [result for result in results if not result.locked]
    course_order = {pack.course.id: index for index, pack in enumerate(packs)}
    locked: dict[tuple[str, str, str], SearchResultItem] = {}
    for result in results:
        if result.locked:
            locked.setdefault((result.course_id, result.chapter_id, result.section_id), result)

    def position(item: SearchResultItem) -> tuple[int, int, int]:
        pack = packs[course_order[item.course_id]]
        chapter = pack.chapter(item.chapter_id)
        assert chapter is not None
        section_ids = [section.section_id for section in chapter.sections]
        section_index = section_ids.index(item.section_id) if item.section_id in section_ids else 0
        return course_order[item.course_id], chapter.chapter_number, section_index

    return opened + sorted(locked.values(), key=position)


def _filters(
    packs: Sequence[ContentPack],
    *,
    chapter_id: str | None,
    module: str | None,
    difficulty: str | None,
    topic: str | None,
) -> list[tuple[ContentPack, dict[str, FilterValue]]]:
    """Engine filters per course, for the courses where they can match; unknown values are refused."""
    selected = []
    for pack in packs:
        filters: dict[str, FilterValue] = {}
        if chapter_id is not None:
            if pack.chapter(chapter_id) is None:
                continue
            filters["chapter_id"] = chapter_id
        if module is not None:
            if not any(chapter.module == module for chapter in pack.chapters):
                continue
            filters["module"] = module
        if topic is not None:
            known = {name.lower(): name for chapter in pack.chapters for name in chapter.topics}
            if topic.strip().lower() not in known:
                continue
            filters["topics"] = known[topic.strip().lower()]
        if difficulty is not None:
            filters["difficulty_level"] = difficulty
        selected.append((pack, filters))
    if not selected:
        for name, value in (("chapter_id", chapter_id), ("module", module), ("topic", topic)):
            if value is not None and not _exists(packs, name, value):
                raise ValidationFailed(
                    f"Unknown {name} '{value}' in the course(s) searched.",
                    details={"errors": [{"field": name, "message": "unknown value", "type": "unknown"}]},
                )
    return selected


def _exists(packs: Sequence[ContentPack], name: str, value: str) -> bool:
    for pack in packs:
        for chapter in pack.chapters:
            if name == "chapter_id" and chapter.chapter_id == value:
                return True
            if name == "module" and chapter.module == value:
                return True
            if name == "topic" and value.strip().lower() in (topic.lower() for topic in chapter.topics):
                return True
    return False


def _result(hit: SearchHit, pack: ContentPack, user: User | None, terms: set[str]) -> SearchResultItem:
    payload = hit.payload
    chapter = pack.chapter(payload["chapter_id"])
    assert chapter is not None  # the index was built from this very pack
    decision = access_service.check_chapter(user, chapter)
    body = hit.text.split("\n", 1)[-1]  # the indexed text without its title line
    opened = decision.allowed
    return SearchResultItem(
        chunk_id=hit.id if opened else None,
        course_id=pack.course.id,
        chapter_id=chapter.chapter_id,
        chapter_title=chapter.title,
        section_id=payload["section_id"],
        section_title=payload["section_title"],
        module=chapter.module,
        difficulty_level=chapter.difficulty_level,
        topics=chapter.topics,
        score=hit.score if opened else None,
        lexical_score=hit.lexical_score if opened else None,
        semantic_score=hit.semantic_score if opened else None,
        locked=not opened,
        required_tier=decision.required_tier,
        reason=None if opened else decision.reason,
        content=payload["content"] if opened else None,
        snippet=snippet(body, terms) if opened else None,
        citation=citation(pack, chapter, payload["section_id"]),
    )
