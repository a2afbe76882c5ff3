"""Repeated identical searches served from the cache.

The key holds everything the response depends on: each searched course's content version, the query,
the filters, the limit, and who asks (anonymous, or the tier they hold now), so a cached response never
shows one caller passages another tier has unlocked. Responses that are degraded (an index still being
built, embeddings unavailable) are not kept, so they are not served after the cause is gone.
"""

from __future__ import annotations

import hashlib
import json

from companion.access import service as access_service
from companion.accounts.models import User
from companion.cache import Cache
from companion.content.service import ContentCatalog
from companion.search import service as search_service
from companion.search.index import CourseSearch
from companion.search.schemas import SearchResponse

SEARCH_TTL = 300


def search_key(
    *, versions: dict[str, str], query: str, filters: dict[str, object], limit: int, caller: str
) -> str:
    """The cache key of one search: a hash of its versions, query, filters, limit and caller class."""
    material = json.dumps(
        {"versions": versions, "q": query, "filters": filters, "limit": limit, "caller": caller},
        sort_keys=True,
    )
    return "search:" + hashlib.sha256(material.encode("utf-8")).hexdigest()


async def search(
    course_search: CourseSearch,
    *,
    cache: Cache,
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
    """`search_service.search`, answered from the cache when the same search was made recently."""
    packs = [catalog.pack(course_id)] if course_id else catalog.packs()
    filters: dict[str, object] = {
        "course_id": course_id,
        "chapter_id": chapter_id,
        "module": module,
        "difficulty": difficulty,
        "topic": topic,
    }
    caller = "anonymous" if user is None else access_service.tier_of(user)
    versions = {pack.course.id: pack.version for pack in packs}
    key = search_key(versions=versions, query=query, filters=filters, limit=limit, caller=caller)
    cached = await cache.get(key)
    if cached is not None:
        return SearchResponse.model_validate(cached)
    response = await search_service.search(
        course_search,
        catalog=catalog,
        user=user,
        query=query,
        course_id=course_id,
        chapter_id=chapter_id,
        module=module,
        difficulty=difficulty,
        topic=topic,
        limit=limit,
    )
    if response.degraded_reason is None:
        await cache.set(key, response.model_dump(mode="json"), SEARCH_TTL)
    return response
