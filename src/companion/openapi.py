"""The OpenAPI document: every operation lists every error it can answer, each with the one error body.

The statuses are derived once, from the route table: what a route depends on (authentication, the
course in its path, the rate limiter), whether it has parameters or a body, and what it declares
itself (`responses=` for errors its service raises, such as 409). Nobody hand-edits them per route.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from pydantic import BaseModel, Field

from companion.accounts import policies
from companion.content import dependencies as content_dependencies
from companion.dependencies import get_limiter


class ErrorDetail(BaseModel):
    """What went wrong: a stable code, a message for people, and machine-readable details."""

    code: str = Field(description="Stable, e.g. validation_error, unauthorized, not_found, rate_limited.")
    message: str
    details: dict[str, Any]


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


ERROR_DESCRIPTIONS = {
    401: "unauthorized: no valid credential (an expired, revoked or malformed token or API key).",
    403: "forbidden: the credential lacks a scope or role; upgrade_required: a higher tier is needed "
    "(details.required_tier).",
    404: "not_found: no such resource, or it belongs to someone else.",
    409: "conflict: the request conflicts with the resource's current state.",
    413: "payload_too_large: the body is over the size limit.",
    414: "uri_too_long: the URL is over the size limit.",
    422: "validation_error: a parameter or the body is invalid (details.errors names each field).",
    429: "rate_limited: too many requests; retry after the Retry-After header's seconds.",
    431: "headers_too_large: the request headers are over the size limit.",
    503: "service_unavailable: a backing service (such as the content store) is unreachable; retry later.",
}

# What each dependency can answer besides success; a route inherits the errors of all it depends on.
# Every policy but the public one refuses bad credentials (401) and missing scopes or roles (403).
DEPENDENCY_ERRORS: dict[object, frozenset[int]] = {
    **{policy: frozenset({401, 403}) for policy in policies.POLICIES if policy is not policies.PUBLIC},
    policies.signed_in_identity: frozenset({401}),
    content_dependencies.get_catalog: frozenset({503}),
    # The pack is looked up in the catalogue, which answers 503 until the content store has answered.
    content_dependencies.get_pack: frozenset({404, 503}),
    get_limiter: frozenset({429}),
}
# Every request may be refused at the edge: NUL characters (422), an over-long URL or header set.
EVERY_ROUTE = frozenset({414, 422, 431})


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def error_statuses(dependant: Dependant) -> set[int]:
    """The error statuses a route with this dependency tree can answer."""
    statuses = set(EVERY_ROUTE)
    if dependant.body_params:
        statuses.add(413)
    if dependant.path_params:
        statuses.add(404)
    for call in _calls(dependant):
        statuses |= DEPENDENCY_ERRORS.get(call, frozenset())
    return statuses


def _documented_errors(app: FastAPI) -> dict[tuple[str, str], set[int]]:
    found: dict[tuple[str, str], set[int]] = {}
    for context in routing.iter_route_contexts(app.routes):
        if not isinstance(context.original_route, routing.APIRoute) or not context.include_in_schema:
            continue
        declared = {int(status) for status in context.responses if str(status).isdigit()}
        statuses = error_statuses(context.dependant) | {status for status in declared if status >= 400}
        for method in context.methods or ():
            found[(str(context.path_format), method.lower())] = statuses
    return found


def install_openapi(app: FastAPI) -> None:
    """Replace the app's OpenAPI generator with one that documents every error of every operation."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        schemas["ErrorDetail"] = ErrorDetail.model_json_schema()
        schemas["ErrorBody"] = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas["ErrorBody"].pop("$defs", None)
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        for (path, method), statuses in _documented_errors(app).items():
            operation = schema["paths"][path][method]
            responses = operation.setdefault("responses", {})
            for status in sorted(statuses):
                entry = responses.setdefault(str(status), {})
                described = entry.get("description")
                if not described or described in ("Validation Error", "Successful Response"):
                    entry["description"] = ERROR_DESCRIPTIONS.get(status, "An error.")
                entry["content"] = error_content
                if status == 429:
                    entry["headers"] = {
                        "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
                    }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
