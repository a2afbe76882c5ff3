"""HTTP caching for content: ETags keyed by the content version, If-None-Match, and encoded bodies."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from cachetools import LRUCache
from fastapi import Request, Response

# Encoded bodies keyed by the full identity of what they show (kind, course, version, ids): that
# content never changes, so each is encoded once. Never keyed by anything shortened: two chapter ids
# that share a prefix must never share an entry.
_encoded_bodies: LRUCache[tuple[str, ...], bytes] = LRUCache(maxsize=512)
# ETags by the same identity: hashing on every request of a hot chapter is work done once here.
_etags: LRUCache[tuple[str, ...], str] = LRUCache(maxsize=4096)


def etag_for(*identity: str) -> str:
    """A strong ETag: the SHA-256 of every part of what the response shows, none of them shortened."""
    digest = hashlib.sha256("\x1f".join(identity).encode()).hexdigest()
    return f'"{digest}"'


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
    identity: tuple[str, ...],
    public: bool,
    max_age: int = 300,
) -> Response:
    """A JSON response with ETag and Cache-Control, or 304 Not Modified when the client's copy is current.

    `identity` names exactly what the body shows, e.g. ("chapter", course_id, version, chapter_id).
    """
    etag = _etags.get(identity)
    if etag is None:
        etag = _etags[identity] = etag_for(*identity)
    visibility = "public" if public else "private"
    headers = {"ETag": etag, "Cache-Control": f"{visibility}, max-age={max_age}", "Vary": "Authorization"}
    if _matches(request, etag):
        return Response(status_code=304, headers=headers)
    content = _encoded_bodies.get(identity)
    if content is None:
        body = await build_body()
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        _encoded_bodies[identity] = content
    return Response(content=content, media_type="application/json", headers=headers)
