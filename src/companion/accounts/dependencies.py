"""Who is calling: bearer access tokens (JWT) or API keys, resolved once per request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from companion.accounts import schemas, security
from companion.accounts import service as accounts_service
from companion.accounts.models import User
from companion.config import Settings
from companion.db import transaction
from companion.dependencies import SessionDep
from companion.errors import Forbidden, Unauthorized
from companion.oauth import service as oauth_service

_bearer = HTTPBearer(auto_error=False, description="An access token from /api/v1/auth/login or an API key")

ALL_SCOPES = frozenset(schemas.ALL_SCOPES)


@dataclass(frozen=True)
class Identity:
    """An authenticated caller: the user and what the credential allows."""

    user: User
    scopes: frozenset[str]
    method: str

    def require_scope(self, scope: str) -> None:
        """Refuse when the credential was not granted this scope."""
        if scope not in self.scopes:
            raise Forbidden(f"This credential lacks the '{scope}' scope.", details={"required_scope": scope})


async def _identify(
    credentials: HTTPAuthorizationCredentials, session: AsyncSession, settings: Settings
) -> Identity:
    token = credentials.credentials
    if token.startswith(security.API_KEY_PREFIX):
        key_user, key_scopes = await accounts_service.authenticate_api_key(session, secret=token)
        return Identity(user=key_user, scopes=frozenset(key_scopes), method="api_key")
    if token.startswith(oauth_service.ACCESS_TOKEN_PREFIX):  # an assistant's linked-account token
        oauth_user, oauth_scopes = await oauth_service.authenticate_access_token(session, token=token)
        return Identity(user=oauth_user, scopes=frozenset(oauth_scopes), method="oauth")
    claims = security.decode_access_token(
        token, secret=settings.signing_secret(), algorithm=settings.jwt_algorithm
    )
    try:
        user_id = uuid.UUID(claims["sub"])
    except ValueError as error:
        raise Unauthorized("The access token is invalid.") from error
    user = await accounts_service.get_active_user(session, user_id)
    if user is None:
        raise Unauthorized("The account no longer exists or is disabled.")
    if "sid" in claims and await accounts_service.is_session_revoked(session, uuid.UUID(claims["sid"])):
        raise Unauthorized("This session has been logged out.")
    scopes = frozenset(claims["scope"].split()) if "scope" in claims else ALL_SCOPES
    return Identity(user=user, scopes=scopes, method="jwt")


async def optional_identity(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Identity | None:
    """The caller if credentials were sent (invalid ones are still refused), else None.

    For read routes: the user is loaded in a short session of its own, so anonymous reads of
    public content never open one. Routes that change the user use CurrentUser instead.
    """
    if credentials is None:
        return None
    async with transaction(request.app.state.sessionmaker) as session:
        identity = await _identify(credentials, session, request.app.state.settings)
    request.state.user_id = identity.user.id
    return identity


async def current_identity(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Identity:
    """The authenticated caller, loaded in the request's own transaction; anonymous requests get 401."""
    if credentials is None:
        raise Unauthorized("Sign in, or send an API key, to use this endpoint.")
    identity = await _identify(credentials, session, request.app.state.settings)
    request.state.user_id = identity.user.id
    return identity


async def current_user(identity: Annotated[Identity, Depends(current_identity)]) -> User:
    """The authenticated user."""
    return identity.user


async def current_admin(user: Annotated[User, Depends(current_user)]) -> User:
    """The authenticated user, who must be an administrator."""
    if user.role != "admin":
        raise Forbidden("Administrators only.")
    return user


OptionalIdentity = Annotated[Identity | None, Depends(optional_identity)]
CurrentIdentity = Annotated[Identity, Depends(current_identity)]
CurrentUser = Annotated[User, Depends(current_user)]
AdminUser = Annotated[User, Depends(current_admin)]
