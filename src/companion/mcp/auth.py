"""Who is calling the MCP server: an OAuth access token or an API key, or nobody (anonymous).

Anonymous callers may browse the catalogue and read free content, so a request without a token is
let through; a token that is sent but not valid is refused with 401 and a `WWW-Authenticate`
challenge, so the client knows to refresh or link again. Tools that need a learner ask for one with
`require_identity`, which answers anonymous callers with a structured "sign in" result.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.routes import build_resource_metadata_url
from pydantic import AnyHttpUrl
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.authentication import AuthCredentials, AuthenticationError, BaseUser
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

from companion.accounts import security
from companion.accounts import service as accounts_service
from companion.accounts.policies import AuthMethod, Identity
from companion.config import Settings
from companion.errors import Unauthorized
from companion.mcp.context import ToolContext
from companion.oauth import service as oauth_service
from companion.oauth.provider import Transaction, resource_url

API_KEY_CLIENT = "api_key"

# The learner `current_identity` found during the current tool call, kept so that recording the
# call in the learner's learning session (tooling.py) does not look them up a second time.
_call_identity: ContextVar[Identity | None] = ContextVar("companion_mcp_call_identity", default=None)


def resource_metadata_url(settings: Settings) -> str:
    """Where clients find how to get a token for /mcp (RFC 9728)."""
    return str(build_resource_metadata_url(AnyHttpUrl(resource_url(settings))))


def challenge(settings: Settings, *, error: str, description: str, scope: str | None = None) -> str:
    """A `WWW-Authenticate` value pointing the client at our protected-resource metadata."""
    parts = [f'error="{error}"', f'error_description="{description}"']
    if scope:
        parts.append(f'scope="{scope}"')
    parts.append(f'resource_metadata="{resource_metadata_url(settings)}"')
    return "Bearer " + ", ".join(parts)


async def verify_bearer(session: AsyncSession, token: str) -> AccessToken | None:
    """The access an API key or OAuth access token grants (user id as `subject`), or None if not valid."""
    if token.startswith(security.API_KEY_PREFIX):
        try:
            user, scopes = await accounts_service.authenticate_api_key(session, secret=token)
        except Unauthorized:
            return None
        return AccessToken(
            token=token,
            client_id=API_KEY_CLIENT,
            scopes=scopes,
            subject=str(user.id),
            claims={"method": "api_key"},
        )
    return await oauth_service.load_access_token(session, token)


class CompanionTokenVerifier:
    """The SDK's TokenVerifier over our API keys and OAuth access tokens."""

    def __init__(self, transaction: Transaction) -> None:
        self._transaction = transaction

    async def verify_token(self, token: str) -> AccessToken | None:
        """The access behind a bearer token, or None."""
        async with self._transaction() as session:
            return await verify_bearer(session, token)


class OptionalBearerBackend(BearerAuthBackend):
    """The SDK's bearer backend, except that a token which is sent but not valid is an error."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        """The caller's credentials; None (anonymous) only when no Authorization header was sent."""
        result = await super().authenticate(conn)
        if result is None and "authorization" in conn.headers:
            raise AuthenticationError("The bearer token is invalid, expired or revoked.")
        return result


def refuse_invalid_token(settings: Settings) -> Callable[[HTTPConnection, AuthenticationError], Response]:
    """The `on_error` of the authentication middleware: 401 with a challenge naming our metadata."""

    def on_error(_conn: HTTPConnection, error: AuthenticationError) -> Response:
        message = str(error)
        return JSONResponse(
            Unauthorized(message).to_body(),
            status_code=401,
            headers={"WWW-Authenticate": challenge(settings, error="invalid_token", description=message)},
        )

    return on_error


class SignInRequired(Unauthorized):
    """A tool needs a learner's account and the caller is anonymous or lacks the scope."""

    def __init__(self, *, settings: Settings, scope: str, linked: bool) -> None:
        if linked:
            message = (
                f"Your linked account did not grant '{scope}'. Link Course Companion again and approve "
                f"'{scope}' to use this."
            )
        else:
            message = (
                "This needs your Course Companion account. Link your account (sign in when your assistant "
                "asks), or start the desktop server with an API key, then try again."
            )
        super().__init__(
            message, details={"required_scope": scope, "sign_in": resource_metadata_url(settings)}
        )
        self.challenge = challenge(
            settings,
            error="insufficient_scope" if linked else "invalid_token",
            description=message,
            scope=scope,
        )


async def current_identity(app: ToolContext, session: AsyncSession) -> Identity | None:
    """The learner calling this tool, or None when anonymous."""
    access = get_access_token()  # set per HTTP request by the bearer middleware
    if access is None and app.api_key is not None:  # the stdio server acts for its API key
        access = await verify_bearer(session, app.api_key)
        if access is None:
            raise Unauthorized("The API key Course Companion was started with is invalid or revoked.")
    if access is None or access.subject is None:
        return None
    user = await accounts_service.get_active_user(session, uuid.UUID(access.subject))
    if user is None:
        raise Unauthorized("The account no longer exists or is disabled.")
    method: AuthMethod = "api_key" if (access.claims or {}).get("method") == "api_key" else "oauth"
    identity = Identity(user=user, scopes=frozenset(access.scopes), method=method)
    _call_identity.set(identity)
    return identity


@contextmanager
def tool_call_scope() -> Iterator[None]:
    """Start a tool call with no caller known yet, and forget its caller when it ends."""
    token = _call_identity.set(None)
    try:
        yield
    finally:
        _call_identity.reset(token)


async def calling_identity(app: ToolContext, session: AsyncSession) -> Identity | None:
    """The learner behind the current tool call: the one the tool already resolved, else resolved now."""
    return _call_identity.get() or await current_identity(app, session)


async def require_identity(app: ToolContext, session: AsyncSession, *, scope: str) -> Identity:
    """The calling learner, who must hold `scope`; anyone else gets a sign-in answer."""
    identity = await current_identity(app, session)
    if identity is None or scope not in identity.scopes:
        raise SignInRequired(settings=app.settings, scope=scope, linked=identity is not None)
    return identity
