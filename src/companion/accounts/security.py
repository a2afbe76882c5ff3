"""Password hashing (argon2), access tokens (JWT) and opaque secrets stored only as hashes."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import secrets
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from companion.errors import Unauthorized

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when there is none, so that "unknown email" costs what "wrong password" does.

    Computed on first use, not at import: hashing takes a third of a second of CPU at every start.
    """
    return _hasher.hash("not-a-real-password")


API_KEY_PREFIX = "cc_"


async def hash_password(password: str) -> str:
    """Argon2id hash of a password, computed off the event loop."""
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password: str, password_hash: str | None) -> bool:
    """Whether the password matches; always spends the same work even without a hash."""

    def _verify() -> bool:
        try:
            return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(_verify)


def create_access_token(
    *,
    user_id: uuid.UUID,
    role: str,
    secret: str,
    algorithm: str,
    lifetime: timedelta,
    session_family: uuid.UUID | None = None,
    scopes: list[str] | None = None,
) -> tuple[str, datetime]:
    """A signed access token and its expiry."""
    import jwt  # PyJWT loads `cryptography` (~60 modules): on the first token, not at start

    now = datetime.now(UTC)
    expires_at = now + lifetime
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "role": role,
        "type": "access",
        "iat": now,
        "exp": expires_at,
        "jti": secrets.token_hex(8),
    }
    if session_family is not None:
        claims["sid"] = str(session_family)
    if scopes is not None:
        claims["scope"] = " ".join(scopes)
    return jwt.encode(claims, secret, algorithm=algorithm), expires_at


@dataclass(frozen=True)
class AccessClaims:
    """What a valid login access token says: whose it is, its login, and its scopes if narrowed."""

    user_id: uuid.UUID
    session_family: uuid.UUID | None
    scopes: frozenset[str] | None
    expires_at: datetime


# Tokens whose signature and claims were verified, newest last: a token's claims never change, so a
# caller's next request only checks the expiry again (verifying costs more than a request's query).
# What the token grants is still looked up per request: revocation and the account live in the database.
_VERIFIED: OrderedDict[tuple[str, str, str], AccessClaims] = OrderedDict()
VERIFIED_TOKENS_KEPT = 4096


def decode_access_token(token: str, *, secret: str, algorithm: str) -> AccessClaims:
    """The claims of a valid access token; expired, forged or malformed tokens raise Unauthorized."""
    key = (token, secret, algorithm)
    known = _VERIFIED.get(key)
    if known is None:
        known = _verify_access_token(token, secret=secret, algorithm=algorithm)
        _VERIFIED[key] = known
        if len(_VERIFIED) > VERIFIED_TOKENS_KEPT:
            _VERIFIED.popitem(last=False)
    elif known.expires_at <= datetime.now(UTC):  # as PyJWT judges "exp" (no leeway)
        del _VERIFIED[key]
        raise Unauthorized("The access token has expired.")
    else:
        _VERIFIED.move_to_end(key)
    return known


def _verify_access_token(token: str, *, secret: str, algorithm: str) -> AccessClaims:
    import jwt  # PyJWT loads `cryptography` (~60 modules): on the first token, not at start

    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=[algorithm], options={"require": ["exp", "sub"]}
        )
    except jwt.ExpiredSignatureError as error:
        raise Unauthorized("The access token has expired.") from error
    except jwt.InvalidTokenError as error:
        raise Unauthorized("The access token is invalid.") from error
    # A token signed with our secret can still carry claims of the wrong shape (an old or buggy
    # issuer, a leaked secret): each is checked, so a bad one is a 401 and never a crash.
    subject, family, scope = claims.get("sub"), claims.get("sid"), claims.get("scope")
    expiry = claims.get("exp")
    if (
        claims.get("type") != "access"
        or not isinstance(expiry, int | float)
        or not isinstance(subject, str)
        or not (family is None or isinstance(family, str))
        or not (scope is None or isinstance(scope, str))
    ):
        raise Unauthorized("The access token is invalid.")
    try:
        return AccessClaims(
            user_id=uuid.UUID(subject),
            session_family=uuid.UUID(family) if family is not None else None,
            scopes=frozenset(scope.split()) if scope is not None else None,
            expires_at=datetime.fromtimestamp(expiry, UTC),
        )
    except ValueError as error:
        raise Unauthorized("The access token is invalid.") from error


def new_secret(prefix: str = "") -> str:
    """A fresh random secret for refresh tokens and API keys."""
    return prefix + secrets.token_urlsafe(32)


def hash_secret(value: str) -> str:
    """The stored form of an opaque secret (high-entropy, so a plain SHA-256 suffices)."""
    return hashlib.sha256(value.encode()).hexdigest()
