"""A short-lived, per-process memory of whom a bearer credential belongs to, for the read routes.

Checking a credential costs a JWT decode and two database queries (an API key or an OAuth token: a
lookup and the user); a reader paging through a course would pay that on every request. The optional
reader policy keeps what it resolved here for at most `IDENTITY_TTL_SECONDS`, keyed by the SHA-256 of
the credential (the credential itself is never kept), and never longer than the credential lives.

Freshness is the contract: a change committed in this process that ends or narrows access (a logout,
a revoked API key or OAuth token, a deleted or disabled account, a tier or role change) forgets the
affected entries as its transaction commits, so it takes effect here at once; another process (another
worker, the CLI) sees it within `IDENTITY_TTL_SECONDS`. The changes are noticed on the ORM session
(rows of users, refresh tokens, API keys and OAuth grants flushed or bulk-updated), so a new service
that revokes something is covered without remembering to call anything.

The cached `User` is detached from any session and shared by concurrent requests: it is read, never
changed. Routes that change the user declare a required policy, which loads it in their own transaction.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import event, inspect
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from companion.accounts.models import ApiKey, RefreshToken, User
from companion.oauth.models import OAuthGrant

# How long a resolved credential is trusted without asking the database again (seconds). This is the
# longest that a change made by another process (logout, revocation, deletion, downgrade) goes unseen.
IDENTITY_TTL_SECONDS = 5.0
# Bounds the memory: a few hundred bytes per signed-in caller active in the last few seconds.
MAX_ENTRIES = 10_000

Value = TypeVar("Value")


@dataclass(frozen=True)
class _Entry(Generic[Value]):
    value: Value
    user_id: uuid.UUID
    fresh_until: float  # on `clock`: the TTL, or sooner when the credential itself expires sooner


class IdentityCache(Generic[Value]):
    """Identities by credential hash, each kept `ttl_seconds` at most; `clock` is replaceable for tests."""

    def __init__(
        self,
        *,
        ttl_seconds: float = IDENTITY_TTL_SECONDS,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.clock = clock
        # Bumped by every forget: a lookup that raced with a change must not store what it read.
        self.generation = 0
        # A plain dict in insertion order: a lookup is one hash and one comparison, on every read.
        self._entries: dict[bytes, _Entry[Value]] = {}

    @staticmethod
    def _key(token: str) -> bytes:
        return hashlib.sha256(token.encode()).digest()

    def get(self, token: str) -> Value | None:
        """The identity resolved for this credential within the TTL, or None."""
        key = self._key(token)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self.clock() >= entry.fresh_until:
            self._entries.pop(key, None)
            return None
        return entry.value

    def put(
        self,
        token: str,
        value: Value,
        *,
        user_id: uuid.UUID,
        expires_at: datetime | None,
        generation: int,
    ) -> None:
        """Remember an identity read at `generation` (skipped if anything was forgotten since)."""
        if generation != self.generation:
            return
        lifetime = self.ttl_seconds
        if expires_at is not None:
            lifetime = min(lifetime, (expires_at - datetime.now(UTC)).total_seconds())
        if lifetime <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._evict()
        fresh_until = self.clock() + lifetime
        self._entries[self._key(token)] = _Entry(value=value, user_id=user_id, fresh_until=fresh_until)

    def _evict(self) -> None:
        # Drop what has gone stale; if every entry is fresh, the oldest half (the first inserted).
        now = self.clock()
        stale = [key for key, entry in self._entries.items() if now >= entry.fresh_until]
        if not stale:
            stale = list(self._entries)[: max(1, len(self._entries) // 2)]
        for key in stale:
            del self._entries[key]

    def forget_users(self, user_ids: Iterable[uuid.UUID]) -> None:
        """Drop every credential of these users (a scan: such changes are rare next to reads)."""
        self.generation += 1
        users = set(user_ids)
        stale = [key for key, entry in list(self._entries.items()) if entry.user_id in users]
        for key in stale:
            self._entries.pop(key, None)

    def clear(self) -> None:
        """Drop everything (after a bulk change whose users are not known)."""
        self.generation += 1
        self._entries.clear()


# One per worker process; the policies read it and the session events below keep it fresh.
IDENTITY_CACHE: IdentityCache[Any] = IdentityCache()

# User columns that change on use and say nothing about access: they do not make an entry stale.
_ACTIVITY_COLUMNS = frozenset({"last_active_at", "last_login_at", "updated_at"})
_CREDENTIAL_ROWS = (ApiKey, RefreshToken, OAuthGrant)
_PENDING = "companion.identity_cache.forget"  # session.info key: user ids to forget on commit
_EVERYONE = "everyone"


def _pending(session: Session) -> set[Any]:
    pending: set[Any] = session.info.setdefault(_PENDING, set())
    return pending


def _changed(row: object) -> set[str]:
    return {attribute.key for attribute in inspect(row).attrs if attribute.history.has_changes()}


@event.listens_for(Session, "after_flush")
def _note_flushed_changes(session: Session, _flush: UOWTransaction) -> None:
    pending = _pending(session)
    for row in session.deleted:
        if isinstance(row, User):
            pending.add(row.id)
        elif isinstance(row, _CREDENTIAL_ROWS):
            pending.add(row.user_id)
    for row in session.dirty:
        if isinstance(row, User) and _changed(row) - _ACTIVITY_COLUMNS:
            pending.add(row.id)
        elif isinstance(row, _CREDENTIAL_ROWS) and "revoked_at" in _changed(row):
            pending.add(row.user_id)


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_changes(state: ORMExecuteState) -> None:
    # A bulk UPDATE or DELETE (a logout revokes a token family in one statement) names no users.
    if not (state.is_update or state.is_delete) or state.bind_mapper is None:
        return
    if state.bind_mapper.class_ in (User, *_CREDENTIAL_ROWS):
        _pending(state.session).add(_EVERYONE)


@event.listens_for(Session, "after_commit")
def _forget_committed_changes(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    if _EVERYONE in pending:
        IDENTITY_CACHE.clear()
    else:
        IDENTITY_CACHE.forget_users(pending)


@event.listens_for(Session, "after_rollback")
def _discard_rolled_back_changes(session: Session) -> None:
    session.info.pop(_PENDING, None)
