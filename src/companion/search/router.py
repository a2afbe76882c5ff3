"""The search endpoint: hybrid search over course content, with citations and the tier gate."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from companion.accounts.policies import OptionalReaderDep
from companion.content.dependencies import CatalogDep
from companion.dependencies import CacheDep
from companion.search import cached as cached_search
from companion.search.dependencies import CourseSearchDep, reject_unknown_query_parameters
from companion.search.schemas import Difficulty, SearchResponse

router = APIRouter(prefix="/api/v1", tags=["search"])


@router.get(
    "/search",
    response_model=SearchResponse,
    responses={
        404: {"description": "not_found: unknown course"},
        422: {"description": "validation_error: a bad value, or a query parameter the search does not know"},
    },
    dependencies=[Depends(reject_unknown_query_parameters)],
)
async def search(
    course_search: CourseSearchDep,
    catalog: CatalogDep,
    cache: CacheDep,
    identity: OptionalReaderDep,
    q: Annotated[str, Query(min_length=1, max_length=500, pattern=r"\S", description="What to look for.")],
    course_id: Annotated[
        str | None, Query(description="One course; every course when omitted.", max_length=200)
    ] = None,
    chapter_id: Annotated[str | None, Query(description="Only this chapter.", max_length=200)] = None,
    module: Annotated[str | None, Query(description="Only chapters of this module.", max_length=200)] = None,
    difficulty: Annotated[Difficulty | None, Query(description="Only chapters of this level.")] = None,
    topic: Annotated[
        str | None, Query(description="Only chapters tagged with this topic.", max_length=200)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> SearchResponse:
    """Search the course: passages with a snippet (matched terms in **bold**), score and citation.

    Lexical (BM25) and embedding search are fused; `mode` is "lexical" and `degraded_reason` says why
    when embeddings are unavailable. Passages of chapters your tier cannot open are listed as `locked`,
    without content or snippet, with the tier that opens them. Unknown query parameters (say `course`
    for `course_id`) are refused with 422 rather than ignored. Repeated searches come from a cache
    keyed by the content version, the query, the filters and your tier.
    """
    return await cached_search.search(
        course_search,
        cache=cache,
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
