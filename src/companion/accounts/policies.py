"""Who may call each route: the one table of authorization policies, declared in route signatures.

Every route names exactly one policy as a typed dependency, as polar's `Authenticator(required_scopes=…)`
does; no route body checks a scope. The policy resolves the caller once and yields an `Identity` (or
None for an anonymous caller where that is allowed):

| alias               | anonymous  | credentials accepted                      | scope needed         |
|---------------------|------------|-------------------------------------------|----------------------|
| `PublicDep`         | yes        | none looked at                            | -                    |
| `OptionalReaderDep` | yes        | any; if one is sent it must be valid      | `content:read`       |
| `ReaderDep`         | 401        | password sign-in, API key, OAuth token    | `content:read`       |
| `ProgressWriterDep` | 401        | password sign-in, API key, OAuth token    | `progress:write`     |
| `AccountOwnerDep`   | 401        | password sign-in only (else 403)          | -                    |
| `AdminDep`          | 401        | password sign-in of an administrator      | -                    |

Credential kinds (`Identity.method`): a *password sign-in* is a login access token (`jwt`) or the web
app's cookie session (`session`); it holds every scope. An `api_key` and an assistant's `oauth` access
token hold only the scopes they were granted.

OAuth access tokens are issued for the MCP resource, and the REST API accepts them on the reader and
writer routes with their granted scopes: a linked assistant may do over REST exactly what its tools
may do over MCP, and nothing more. Account management (profile changes, password, API keys, export,
deletion) and administration need a password sign-in: an OAuth token or an API key is refused there
with 403 `forbidden`, so a leaked machine credential can never take over the account.

Anonymous and optional reads open no database session; a credential sent to them is checked in a short
session of its own, and what it resolved to is kept for a few seconds in this process
(`companion.accounts.identity_cache`: `IDENTITY_TTL_SECONDS`), so a signed-in reader costs about what an
anonymous one does. A logout, revocation, deletion or tier change made in this process takes effect at
once; one made by another process within that TTL. Routes that require a caller load it in the request's
own transaction, never from that cache, so the user can be changed and committed with the request's work.

The web app's pages declare cookie-session rows of this table (`companion.web.dependencies`:
`WEB_READER`, `WEB_LEARNER`, `WEB_ACCOUNT_OWNER`): the same `Policy` checks, with the cookie session as
an `Identity` with `method="session"`, the password sign-in it is. A cookie never authenticates an API
route, so the API needs no CSRF defence. (No module-level `from __future__ import annotations` here:
FastAPI reads the annotations of the policies' `__call__` at run time, and an instance has no
`__globals__`.)
"""

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from companion.accounts import security
from companion.accounts import service as accounts_service
from companion.accounts.identity_cache import IDENTITY_CACHE
from companion.accounts.models import User
from companion.accounts.scopes import ALL_SCOPES, CONTENT_READ, PROGRESS_WRITE
from companion.config import Settings
from companion.db import transaction
from companion.dependencies import SessionDep
from companion.errors import Forbidden, Unauthorized
from companion.oauth import service as oauth_service

if TYPE_CHECKING:
    from companion.access.service import AccessDecision

AuthMethod = Literal["jwt", "session", "api_key", "oauth"]
# The sign-ins that proved the password: a login access token, and the web app's cookie session.
PASSWORD_SIGN_IN: frozenset[AuthMethod] = frozenset({"jwt", "session"})
ANY_CREDENTIAL: frozenset[AuthMethod] = frozenset({"jwt", "session", "api_key", "oauth"})

_bearer = HTTPBearer(
    auto_error=False,
    description="A login access token from /api/v1/auth/login, an API key, or an assistant's OAuth token",
)


@dataclass(frozen=True)
class Identity:
    """An authenticated caller: the user, what the credential allows, and how they signed in."""

    user: User
    scopes: frozenset[str]
    method: AuthMethod
    # When the credential itself stops being valid (None: when it is revoked); caching never outlives it.
    expires_at: datetime | None = field(default=None, compare=False)

    @property
    def is_password_sign_in(self) -> bool:
        """Whether the caller proved the password (login token or web session), not a delegated key."""
        return self.method in PASSWORD_SIGN_IN


async def _identify(
    credentials: HTTPAuthorizationCredentials, session: AsyncSession, settings: Settings
) -> Identity:
    token = credentials.credentials
    if token.startswith(security.API_KEY_PREFIX):
        key_user, key_scopes = await accounts_service.authenticate_api_key(session, secret=token)
        return Identity(user=key_user, scopes=frozenset(key_scopes), method="api_key")
    if token.startswith(oauth_service.ACCESS_TOKEN_PREFIX):  # an assistant's linked-account token
        oauth_user, oauth_scopes, expires_at = await oauth_service.authenticate_access_token(
            session, token=token
        )
        return Identity(
            user=oauth_user, scopes=frozenset(oauth_scopes), method="oauth", expires_at=expires_at
        )
    claims = security.decode_access_token(
        token, secret=settings.signing_secret(), algorithm=settings.jwt_algorithm
    )
    user, logged_out = await accounts_service.get_signed_in_user(
        session, claims.user_id, claims.session_family
    )
    if user is None:
        raise Unauthorized("The account no longer exists or is disabled.")
    if logged_out:
        raise Unauthorized("This session has been logged out.")
    scopes = claims.scopes if claims.scopes is not None else frozenset(ALL_SCOPES)
    return Identity(user=user, scopes=scopes, method="jwt", expires_at=claims.expires_at)


# Credentials being checked right now: when a cached identity lapses under load, every concurrent
# request with that credential would check it again; they wait for the one check instead.
_checking: dict[str, asyncio.Future[None]] = {}


async def _identify_for_reading(request: Request, credentials: HTTPAuthorizationCredentials) -> Identity:
    """The caller from the identity cache, else checked in a short session of its own and cached."""
    token = credentials.credentials
    cached: Identity | None = IDENTITY_CACHE.get(token)
    if cached is not None:
        return cached
    underway = _checking.get(token)
    if underway is not None:
        await asyncio.wait([underway])
        cached = IDENTITY_CACHE.get(token)
        if cached is not None:
            return cached  # else it was refused or forgotten meanwhile: check it here, for our answer
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    _checking.setdefault(token, done)
    try:
        generation = IDENTITY_CACHE.generation  # read before the database, so a racing change wins
        async with transaction(request.app.state.sessionmaker) as session:
            identity = await _identify(credentials, session, request.app.state.settings)
        IDENTITY_CACHE.put(
            token, identity, user_id=identity.user.id, expires_at=identity.expires_at, generation=generation
        )
        return identity
    finally:
        if _checking.get(token) is done:
            del _checking[token]
        done.set_result(None)


async def recheck_refusal(
    request: Request, identity: Identity | None, decide: "Callable[[User | None], AccessDecision]"
) -> None:
    """Enforce a tier decision; a refusal of a cached identity is checked again against the database.

    The identity cache may hold a tier for a few seconds: a downgrade is honoured within that bound,
    and this makes an upgrade (paid, or set by an administrator in another process) count at once.
    """
    decision = decide(identity.user if identity else None)
    if decision.allowed or identity is None:
        decision.enforce()
        return
    credentials = await _bearer(request)
    if credentials is not None:
        IDENTITY_CACHE.forget_users([identity.user.id])
        identity = await _identify_for_reading(request, credentials)
        _remember(request, identity)
        decision = decide(identity.user)
    decision.enforce()


def _remember(request: Request, identity: Identity | None) -> None:
    # Kept for what runs after the route succeeded (learning-session tracking).
    request.state.identity = identity


async def signed_in_identity(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Identity:
    """The caller, authenticated (else 401) but not yet authorized, in the request's transaction.

    Resolved once per request: a route's required policy checks it, and dependencies that look up
    the caller's own resources (a conversation in the path) reuse it. It is not a policy: the
    route still declares one.
    """
    if credentials is None:
        raise Unauthorized("Sign in, or send an API key, to use this endpoint.")
    return await _identify(credentials, session, request.app.state.settings)


SignedInIdentity = Annotated[Identity, Depends(signed_in_identity)]


@dataclass(frozen=True, eq=False)
class Policy:
    """One row of the table: who may call a route. Subclasses are the FastAPI dependencies."""

    name: str
    anonymous: bool
    scopes: frozenset[str] = frozenset()
    methods: frozenset[AuthMethod] = ANY_CREDENTIAL
    admin: bool = False
    # Why a credential kind is refused, for the 403 message.
    refusal: str = field(default="", compare=False)

    def check(self, identity: Identity) -> Identity:
        """The identity, if this policy lets it in; else 403 `forbidden` saying what is missing."""
        if identity.method not in self.methods:
            raise Forbidden(self.refusal, details={"required_sign_in": "password"})
        if self.admin and identity.user.role != "admin":
            raise Forbidden("Administrators only.")
        if self.scopes <= identity.scopes:  # the usual case, checked once per read: no sorting
            return identity
        for scope in sorted(self.scopes):
            if scope not in identity.scopes:
                raise Forbidden(
                    f"This credential lacks the '{scope}' scope.", details={"required_scope": scope}
                )
        return identity


@dataclass(frozen=True, eq=False)
class PublicPolicy(Policy):
    """Anyone; credentials are not looked at."""

    async def __call__(self) -> None:
        return None


@dataclass(frozen=True, eq=False)
class OptionalPolicy(Policy):
    """Anonymous callers pass as None; a credential, if sent, must be valid and pass the check."""

    async def __call__(
        self,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Identity | None:
        if credentials is None:
            _remember(request, None)
            return None
        # Anonymous reads of public content never open a session; a credential gets a short one, or
        # none while its identity is cached. The check runs every time: the cache holds identities,
        # not decisions.
        identity = self.check(await _identify_for_reading(request, credentials))
        _remember(request, identity)
        return identity


@dataclass(frozen=True, eq=False)
class RequiredPolicy(Policy):
    """A caller is required (else 401), loaded in the request's own transaction."""

    async def __call__(self, request: Request, identity: SignedInIdentity) -> Identity:
        self.check(identity)
        _remember(request, identity)
        return identity


_PASSWORD_ONLY = (
    "This needs your password sign-in: API keys and assistants' OAuth tokens cannot manage the account."
)

PUBLIC = PublicPolicy("public", anonymous=True)
OPTIONAL_READER = OptionalPolicy("optional_reader", anonymous=True, scopes=frozenset({CONTENT_READ}))
READER = RequiredPolicy("reader", anonymous=False, scopes=frozenset({CONTENT_READ}))
PROGRESS_WRITER = RequiredPolicy("progress_writer", anonymous=False, scopes=frozenset({PROGRESS_WRITE}))
ACCOUNT_OWNER = RequiredPolicy(
    "account_owner", anonymous=False, methods=PASSWORD_SIGN_IN, refusal=_PASSWORD_ONLY
)
ADMIN = RequiredPolicy(
    "admin",
    anonymous=False,
    methods=PASSWORD_SIGN_IN,
    admin=True,
    refusal="Administration needs an administrator's password sign-in.",
)
POLICIES: tuple[Policy, ...] = (PUBLIC, OPTIONAL_READER, READER, PROGRESS_WRITER, ACCOUNT_OWNER, ADMIN)

PublicDep = Annotated[None, Depends(PUBLIC)]
OptionalReaderDep = Annotated[Identity | None, Depends(OPTIONAL_READER)]
ReaderDep = Annotated[Identity, Depends(READER)]
ProgressWriterDep = Annotated[Identity, Depends(PROGRESS_WRITER)]
AccountOwnerDep = Annotated[Identity, Depends(ACCOUNT_OWNER)]
AdminDep = Annotated[Identity, Depends(ADMIN)]


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for child in dependant.dependencies:
        yield from _walk(child)


def declared_policies(dependant: Dependant) -> list[Policy]:
    """The policies a route's dependency tree declares (a route should declare exactly one)."""
    found: list[Policy] = []
    for node in _walk(dependant):
        if isinstance(node.call, Policy) and node.call not in found:
            found.append(node.call)
    return found


def request_identity(request: Request) -> Identity | None:
    """The caller the route's policy admitted (None if anonymous, or if no policy has run)."""
    identity = getattr(request.state, "identity", None)
    return identity if isinstance(identity, Identity) else None
