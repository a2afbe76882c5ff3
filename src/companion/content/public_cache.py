"""The app's own shared cache for public content: what a CDN in front of it would do, inside it.

A free chapter, section or quiz, and the catalogue, are answered with `Cache-Control: public` and
`Vary: Authorization`: any shared cache may hand the same bytes to every anonymous caller. This
middleware does so in-process, so an anonymous read of hot content skips routing, dependency
resolution and the route (most of a request's cost), while the outer middlewares (request id, metrics,
security headers, CORS, size limits) still run for it.

A signed-in reader is served the same bytes when the route would have let them in: their bearer
credential is in the identity cache (`companion.accounts.identity_cache`, a few seconds at most, forgotten
at once on a logout, revocation, deletion or tier change in this process) and passes the route's own
declared policy. An unknown, expired or refused credential always goes to the route, which says why.

What it serves, and when, is deliberately narrow:
- only a plain GET: no query string, no cookie, no learning-session header, no conditional header
  (If-None-Match goes to the route, which answers 304), no NUL in any header, and either no
  Authorization or a cached bearer credential that the route's policy admits;
- only a 200 that the route itself marked `public`, without Set-Cookie, of at most `MAX_BODY_BYTES`;
- only while the content catalogue is the one that produced it: publishing a new version (or swapping
  the catalogue) makes every entry stale at once.
Gated content is never `public` (it is `private`), so no tier's content can leak through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from companion.accounts.identity_cache import IDENTITY_CACHE
from companion.accounts.policies import Identity, Policy, declared_policies
from companion.errors import CompanionError

MAX_BODY_BYTES = 1_048_576
MAX_ENTRIES = 512
# Request headers that change what the route would answer or who is asking; any of them: not from here.
_PERSONAL_HEADERS = frozenset({b"cookie", b"x-learning-session-id", b"if-none-match", b"if-modified-since"})


@dataclass(frozen=True)
class _Entry:
    catalog: Any
    generation: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    route: Any  # the matched route, so metrics still label a cached answer by its template
    policies: list[Policy]  # what the route declares: a signed-in caller must pass them all


def _servable(scope: Scope) -> bool:
    if scope["method"] != "GET" or scope.get("query_string"):
        return False
    return not any(name in _PERSONAL_HEADERS or b"\x00" in value for name, value in scope["headers"])


def _bearer_token(scope: Scope) -> str | None:
    """The Authorization header's bearer credential ("" when none is sent; None when not a bearer)."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            token = value[7:].strip()
            return token.decode("latin-1") if value[:7].lower() == b"bearer " and token else None
    return ""


def _admitted(entry: _Entry, token: str) -> bool:
    if not token:
        return True  # anonymous: the route made the entry public, for everyone
    identity: Identity | None = IDENTITY_CACHE.get(token)
    if identity is None or not entry.policies:
        return False
    try:
        for policy in entry.policies:
            policy.check(identity)
    except CompanionError:
        return False  # the route explains a refusal better than a cache can
    return True


# One per process, like a CDN's store; an entry is only served for the catalogue that produced it.
_ENTRIES: LRUCache[str, _Entry] = LRUCache(maxsize=MAX_ENTRIES)


def clear() -> None:
    """Forget every stored answer (tests that change what a route answers without a new catalogue)."""
    _ENTRIES.clear()


class PublicResponseCache:
    """Answers anonymous GETs of public content from memory; learns them from the app's own answers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._entries = _ENTRIES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _servable(scope):
            await self.app(scope, receive, send)
            return
        catalog = getattr(scope["app"].state, "catalog", None)
        # No catalogue, or one that has never loaded (503 until it does): nothing to serve or learn.
        generation = getattr(catalog, "generation", None) if getattr(catalog, "loaded", False) else None
        path: str = scope["path"]
        entry = self._entries.get(path)
        token = _bearer_token(scope)
        if (
            entry is not None
            and entry.catalog is catalog
            and entry.generation == generation
            and token is not None
            and _admitted(entry, token)
        ):
            scope["route"] = entry.route
            await send({"type": "http.response.start", "status": 200, "headers": list(entry.headers)})
            await send({"type": "http.response.body", "body": entry.body})
            return
        await self.app(scope, receive, self._learning(scope, send, catalog, generation))

    def _learning(self, scope: Scope, send: Send, catalog: Any, generation: int | None) -> Send:
        headers: list[tuple[bytes, bytes]] | None = None
        chunks: list[bytes] = []

        async def learn(message: Message) -> None:
            nonlocal headers
            # Read before passing on: the outer middlewares add their own headers (request id...).
            if generation is not None and message["type"] == "http.response.start":
                headers = list(message.get("headers", [])) if _cacheable(message) else None
            elif generation is not None and message["type"] == "http.response.body" and headers is not None:
                chunks.append(message.get("body", b""))
                if sum(len(chunk) for chunk in chunks) > MAX_BODY_BYTES:
                    headers = None
                elif not message.get("more_body", False):
                    self._entries[scope["path"]] = _Entry(
                        catalog=catalog,
                        generation=generation,
                        headers=headers,
                        body=b"".join(chunks),
                        route=scope.get("route"),
                        policies=_policies_of(scope.get("route")),
                    )
            await send(message)

        return learn


def _policies_of(route: Any) -> list[Policy]:
    dependant = getattr(route, "dependant", None)
    return [] if dependant is None else declared_policies(dependant)


def _cacheable(start: Message) -> bool:
    if start["status"] != 200:
        return False
    headers = dict(start.get("headers", []))
    return b"set-cookie" not in headers and headers.get(b"cache-control", b"").startswith(b"public")
