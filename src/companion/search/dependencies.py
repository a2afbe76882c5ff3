"""Search dependencies: the application's course search service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from companion.search.index import CourseSearch


async def get_course_search(request: Request) -> CourseSearch:
    """The course search service created at start-up."""
    course_search: CourseSearch = request.app.state.search
    return course_search


CourseSearchDep = Annotated[CourseSearch, Depends(get_course_search)]
