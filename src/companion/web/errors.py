"""Errors as pages for browsers: the same errors the API answers in JSON, shown in the product's look.

The JSON handlers stay in charge of the API, MCP, OAuth and any client that does not ask for HTML;
this module only wraps them, so there is still one place per error that decides its status and code.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response

from companion.access.service import TIER_NAMES
from companion.errors import CompanionError, Unauthorized, UpgradeRequired
from companion.observability import request_id_var
from companion.web.templating import render

logger = logging.getLogger(__name__)

Handler = Callable[[Request, Any], Response | Awaitable[Response]]

# Paths that belong to machine clients: their errors stay JSON whatever they accept.
_MACHINE_PREFIXES = ("/api/", "/mcp", "/oauth", "/.well-known/", "/static/", "/docs", "/redoc")
_MACHINE_PATHS = {"/healthz", "/readyz", "/metrics", "/openapi.json"}
_TITLES = {
    400: "Bad request",
    402: "AI budget used up",
    403: "Not allowed",
    404: "Page not found",
    409: "Conflict",
    429: "Slow down",
    502: "The AI answer could not be used",
    503: "Not available right now",
}


def wants_page(request: Request) -> bool:
    """A browser asking for a page (or an htmx fragment), not an API client."""
    path = request.url.path
    if path.startswith(_MACHINE_PREFIXES) or path in _MACHINE_PATHS:
        return False
    return "HX-Request" in request.headers or "text/html" in request.headers.get("accept", "")


def _error_page(request: Request, status: int, title: str, message: str, **extra: object) -> Response:
    template = "_error_fragment.html" if "HX-Request" in request.headers else "error.html"
    context = {"status": status, "title": title, "message": message, **extra}
    return render(request, template, context, status_code=status)


def _sign_in(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    login = f"/login?next={quote(target, safe='')}"
    if "HX-Request" in request.headers:  # htmx follows this header with a full page load
        return Response(status_code=401, headers={"HX-Redirect": login})
    return RedirectResponse(login, status_code=303)


async def _page_or_json(json_handler: Handler, request: Request, error: Exception) -> Response:
    if not wants_page(request):
        response = json_handler(request, error)
        return await response if inspect.isawaitable(response) else response
    if isinstance(error, Unauthorized):
        return _sign_in(request)
    if isinstance(error, UpgradeRequired):
        return _error_page(
            request,
            403,
            f"{TIER_NAMES.get(error.required_tier, error.required_tier)} plan needed",
            error.message,
            upgrade=True,
        )
    if isinstance(error, CompanionError):
        title = _TITLES.get(error.status_code, "Something is not right")
        return _error_page(request, error.status_code, title, error.message)
    if isinstance(error, RequestValidationError):
        return _error_page(request, 422, "Check the form", "Some values are missing or not valid.")
    if isinstance(error, StarletteHTTPException):
        message = "There is no page at this address." if error.status_code == 404 else str(error.detail)
        return _error_page(request, error.status_code, _TITLES.get(error.status_code, "Error"), message)
    logger.exception("unhandled error", exc_info=error)
    return _error_page(
        request,
        500,
        "Something went wrong on our side",
        "The page could not be shown. Please try again in a moment.",
        request_id=request_id_var.get(),
    )


def install_page_errors(app: FastAPI) -> None:
    """Wrap the JSON error handlers so browsers get pages (401 becomes a sign-in redirect)."""
    for error_class in (CompanionError, RequestValidationError, StarletteHTTPException, Exception):
        json_handler = app.exception_handlers[error_class]
        app.add_exception_handler(error_class, partial(_page_or_json, json_handler))
