"""Limits at the edge of the API: sizes of the request line, headers and body, and NUL characters.

They answer in the one error body, before any route runs, so that no oversized or unstorable input
reaches a service (PostgreSQL cannot store U+0000 in text, SQLite can: both refuse it here alike).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from companion.errors import CompanionError, HeadersTooLarge, PayloadTooLarge, UriTooLong, ValidationFailed

NUL = "\x00"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_NUL_MESSAGE = "must not contain NUL (U+0000) characters"


class RequestLimitsMiddleware:
    """Answers 414, 431 or 413 in the standard error body for over-long URLs, headers or bodies.

    A declared Content-Length over the limit is refused before the app runs; a body sent without one
    is counted as it arrives, and reading past the limit raises a 413 that the error handler renders.
    """

    def __init__(
        self, app: ASGIApp, *, max_url_bytes: int, max_header_bytes: int, max_body_bytes: int
    ) -> None:
        self.app = app
        self.max_url_bytes = max_url_bytes
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            error = self._violation(scope)
            if error is not None:
                response = JSONResponse(error.to_body(), status_code=error.status_code)
                await response(scope, receive, send)
                return
            await self.app(scope, self._counting(receive), send)
            return
        await self.app(scope, receive, send)

    def _counting(self, receive: Receive) -> Receive:
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    # An HTTPException passes through FastAPI's body parsing untouched (others become 400).
                    raise HTTPException(status_code=413)
            return message

        return counted

    def _violation(self, scope: Scope) -> CompanionError | None:
        path = scope.get("raw_path") or scope["path"].encode()
        if len(path) + len(scope.get("query_string", b"")) > self.max_url_bytes:
            return UriTooLong(
                f"The URL is longer than {self.max_url_bytes} bytes.", details={"limit": self.max_url_bytes}
            )
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        if sum(len(name) + len(value) for name, value in headers) > self.max_header_bytes:
            return HeadersTooLarge(
                f"The request headers are larger than {self.max_header_bytes} bytes in total.",
                details={"limit": self.max_header_bytes},
            )
        declared = next((value for name, value in headers if name == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            return payload_too_large(self.max_body_bytes)
        return None


def payload_too_large(limit: int) -> PayloadTooLarge:
    """The error for a body over the limit."""
    return PayloadTooLarge(f"The request body is larger than {limit} bytes.", details={"limit": limit})


async def reject_nul_characters(request: Request) -> None:
    """Refuse a NUL character in the path, query, headers or body with 422 `validation_error`."""
    field = _nul_in_request(request)
    content_type = request.headers.get("content-type", "")
    if field is None and content_type.startswith(_FORM_TYPES):
        # FastAPI has parsed (and cached) the form already; the raw stream is gone.
        form = await request.form()
        field = next(
            (
                name
                for name, value in form.multi_items()
                if NUL in name or (isinstance(value, str) and NUL in value)
            ),
            None,
        )
    elif field is None:
        field = _nul_in_body(await request.body())
    if field is not None:
        raise nul_character_error(field)


def nul_character_error(field: str) -> ValidationFailed:
    """The 422 for a NUL character in `field`."""
    return ValidationFailed(
        f"Invalid value for: {field}.",
        details={"errors": [{"field": field, "message": _NUL_MESSAGE, "type": "nul_character"}]},
    )


def field_with_nul(arguments: dict[str, Any]) -> str | None:
    """The first argument (dotted path inside JSON values) that holds a NUL character, if any."""
    found = _nul_in_json(arguments, ())
    return None if found is None else ".".join(found)


def _nul_in_request(request: Request) -> str | None:
    if NUL in request.scope["path"]:
        return "path"
    for name, value in request.query_params.multi_items():
        if NUL in name or NUL in value:
            return name.replace(NUL, "")
    for header, raw in request.headers.raw:
        if b"\x00" in raw:
            return header.decode("latin-1")
    return None


def _nul_in_body(body: bytes) -> str | None:
    # A quick byte test first: only a body that might hold a NUL is parsed again.
    if not body or (b"\\u0000" not in body and b"\x00" not in body):
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None  # not JSON: the route's own parsing reports it
    found = _nul_in_json(document, ())
    return None if found is None else ".".join(found) or "body"


def _nul_in_json(value: Any, where: tuple[str, ...]) -> tuple[str, ...] | None:
    """Where in a JSON document a string (or an object key) holds a NUL, named like validation errors."""
    if isinstance(value, str):
        return where if NUL in value else None
    items: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        if any(NUL in key for key in value):
            return where
        items = list(value.items())
    elif isinstance(value, list):
        items = [(str(index), item) for index, item in enumerate(value)]
    for key, item in items:
        found = _nul_in_json(item, (*where, key))
        if found is not None:
            return found
    return None
