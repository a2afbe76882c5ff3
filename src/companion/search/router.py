"""The search endpoint: hybrid search over course content, with citations and the tier gate."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from companion.accounts.policies import OptionalReaderDep
from companion.content.dependencies import CatalogDep
from companion.search import service as search_service
from companion.search.dependencies import CourseSearchDep
from companion.search.schemas import Difficulty, SearchResponse

router = APIRouter(prefix="/api/v1", tags=["search"])


@router.get(
    "/search",
    response_model=SearchResponse,
    responses={404: {"description": "not_found: unknown course"}, 422: {"description": "validation_error"}},
)
async def search(
    course_search: CourseSearchDep,
    catalog: CatalogDep,
    identity: OptionalReaderDep,
    q: Annotated[str, Query(min_length=1, max_length=500, pattern=r"\S", description="What to look for.")],
    course_id: Annotated[str | None, Query(description="One course; every course when omitted.")] = None,
    chapter_id: Annotated[str | None, Query(description="Only this chapter.")] = None,
    module: Annotated[str | None, Query(description="Only chapters of this module.")] = None,
    difficulty: Annotated[Difficulty | None, Query(description="Only chapters of this level.")] = None,
    topic: Annotated[str | None, Query(description="Only chapters tagged with this topic.")] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> SearchResponse:
    """Search the course: passages with a snippet (matched terms in **bold**), score and citation.

    Lexical (BM25) and embedding search are fused; `mode` is "lexical" and `degraded_reason` says why
    when embeddings are unavailable. Passages of chapters your tier cannot open are listed as `locked`,
    without content or snippet, with the tier that opens them.
    """
    return await search_service.search(
        course_search,
        catalog=catalog,
        user=identity.user if identity else None,
        query=q,
        course_id=course_id,
        chapter_id=chapter_id,
        module=module,
        difficulty=difficulty,
        topic=topic,
        limit=limit,
    )
