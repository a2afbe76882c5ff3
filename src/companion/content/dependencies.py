"""Content dependencies: the catalogue, and the course pack named in the path (404 once, here)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from pydantic import StringConstraints

from companion.content.schemas import ContentPack
from companion.content.service import ContentCatalog
from companion.errors import ServiceUnavailable


async def get_catalog(request: Request) -> ContentCatalog:
    """The application's content catalogue; 503 while the content store has never answered."""
    catalog: ContentCatalog = request.app.state.catalog
    if not catalog.loaded:
        raise ServiceUnavailable(
            "Course content is unavailable: the content store cannot be reached. Try again shortly.",
            details={"retry_after_seconds": 30},
        )
    return catalog


CatalogDep = Annotated[ContentCatalog, Depends(get_catalog)]


async def get_pack(
    course_id: Annotated[str, StringConstraints(min_length=1, max_length=200)], request: Request
) -> ContentPack:
    """The current pack of the course in the path; unknown courses are 404."""
    # The catalogue is looked up here rather than as a sub-dependency: each dependency FastAPI
    # resolves costs more than this lookup, and every reading route goes through this one.
    catalog = await get_catalog(request)
    return catalog.pack(course_id)


PackDep = Annotated[ContentPack, Depends(get_pack)]
