"""Search dependencies: the application's course search service, and strict query parameters."""

from __future__ import annotations

import difflib
from typing import Annotated

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from companion.errors import ValidationFailed
from companion.search.index import CourseSearch


async def get_course_search(request: Request) -> CourseSearch:
    """The course search service created at start-up."""
    course_search: CourseSearch = request.app.state.search
    return course_search


async def reject_unknown_query_parameters(request: Request) -> None:
    """Refuse query parameters the route does not declare, so a misspelt filter never widens a search."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _query_names(route.dependant)
    unknown = sorted(set(request.query_params) - known)
    if not unknown:
        return
    errors = []
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        errors.append({"field": name, "message": f"unknown query parameter{hint}", "type": "unknown"})
    listed = ", ".join(f"'{name}'" for name in unknown)
    raise ValidationFailed(
        f"Unknown query parameter(s) {listed}; accepted: {', '.join(sorted(known))}.",
        details={"errors": errors},
    )


def _query_names(dependant: Dependant) -> set[str]:
    names = {parameter.alias for parameter in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


CourseSearchDep = Annotated[CourseSearch, Depends(get_course_search)]
