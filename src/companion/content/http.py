"""HTTP caching for content: ETags keyed by the content version, If-None-Match, and encoded bodies."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from cachetools import LRUCache
from fastapi import Request, Response

# Bodies keyed by ETag are immutable (the ETag names the content version), so each is encoded once.
_encoded_bodies: LRUCache[str, bytes] = LRUCache(maxsize=512)


def etag_for(*parts: str) -> str:
    """A strong ETag built from the content version and what the response shows."""
    return '"' + ":".join(part[:24] for part in parts) + '"'


def _matches(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    if not header:
        return False
    candidates = {candidate.strip().removeprefix("W/") for candidate in header.split(",")}
    return "*" in candidates or etag in candidates


async def cached_json(
    request: Request,
    build_body: Callable[[], Awaitable[Any]],
    *,
    etag: str,
    public: bool,
    max_age: int = 300,
) -> Response:
    """A JSON response with ETag and Cache-Control, or 304 Not Modified when the client's copy is current."""
    visibility = "public" if public else "private"
    headers = {"ETag": etag, "Cache-Control": f"{visibility}, max-age={max_age}", "Vary": "Authorization"}
    if _matches(request, etag):
        return Response(status_code=304, headers=headers)
    content = _encoded_bodies.get(etag)
    if content is None:
        body = await build_body()
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        _encoded_bodies[etag] = content
    return Response(content=content, media_type="application/json", headers=headers)
