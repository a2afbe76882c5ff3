"""OAuth 2.1 account linking: registered clients, consent requests, single-use codes, rotating grants.

Codes and tokens are opaque random strings stored only as SHA-256 hashes. An access token and its
refresh token form one grant; refreshing revokes the grant and issues the next one in the same
family, and a rotated refresh token presented again revokes the whole family (it has leaked).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from pydantic import AnyUrl
from sqlalchemy import CursorResult, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from companion.accounts import security
from companion.accounts import service as accounts_service
from companion.accounts.models import User
from companion.config import Settings
from companion.errors import Unauthorized, ValidationFailed
from companion.oauth.models import OAuthAuthorizationCode, OAuthClient, OAuthGrant

if TYPE_CHECKING:
    from mcp.server.auth.provider import AccessToken, AuthorizationCode, AuthorizationParams, RefreshToken
    from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

# Prefixes tell the token kinds apart at a glance (API keys start with "cc_").
ACCESS_TOKEN_PREFIX = "cco_"
REFRESH_TOKEN_PREFIX = "ccr_"
ACCESS_TOKEN_LIFETIME = timedelta(hours=1)
CODE_LIFETIME = timedelta(minutes=5)
# How long the learner has to sign in and approve on the consent page.
REQUEST_LIFETIME = timedelta(minutes=15)


class InvalidGrant(Unauthorized):
    """A code or refresh token that is unknown, used, expired or revoked."""


@dataclass(frozen=True)
class PendingAuthorization:
    """An authorization request waiting for the learner's decision on the consent page."""

    client_id: str
    params: AuthorizationParams


def _now() -> datetime:
    return datetime.now(UTC)


# --- Clients -----------------------------------------------------------------------------------


async def register_client(session: AsyncSession, *, client: OAuthClientInformationFull) -> None:
    """Store a client registered through dynamic client registration."""
    registration = client.model_dump(mode="json", exclude={"client_secret"}, exclude_none=True)
    session.add(
        OAuthClient(
            client_id=client.client_id,
            client_name=client.client_name,
            client_secret=client.client_secret,
            registration=registration,
        )
    )
    await session.flush()


async def get_client(session: AsyncSession, client_id: str) -> OAuthClientInformationFull | None:
    """The registered client with this id, or None."""
    from mcp.shared.auth import OAuthClientInformationFull  # the SDK: imported on first use, not at start

    client = await session.get(OAuthClient, client_id)
    if client is None:
        return None
    return OAuthClientInformationFull.model_validate(
        {**client.registration, "client_secret": client.client_secret}
    )


# --- Consent requests --------------------------------------------------------------------------


def sign_authorization_request(*, client_id: str, params: AuthorizationParams, settings: Settings) -> str:
    """The authorization request as a short-lived signed token, carried by the consent page."""
    import jwt  # PyJWT loads `cryptography` (~60 modules): on the first token, not at start

    claims = {
        "type": "oauth_request",
        "client_id": client_id,
        "params": params.model_dump(mode="json"),
        "exp": _now() + REQUEST_LIFETIME,
    }
    return jwt.encode(claims, settings.signing_secret(), algorithm=settings.jwt_algorithm)


def read_authorization_request(token: str, *, settings: Settings) -> PendingAuthorization:
    """The authorization request behind a consent-page token; expired or forged ones are refused."""
    import jwt  # PyJWT loads `cryptography` (~60 modules): on the first token, not at start
    from mcp.server.auth.provider import AuthorizationParams  # the SDK: imported on first use, not at start

    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.signing_secret(),
            algorithms=[settings.jwt_algorithm],
            options={"require": ["exp"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise ValidationFailed(
            "This sign-in link has expired. Start linking your account again from your assistant."
        ) from error
    except jwt.InvalidTokenError as error:
        raise ValidationFailed(
            "This sign-in link is not valid. Start linking your account again from your assistant."
        ) from error
    if claims.get("type") != "oauth_request":
        raise ValidationFailed("This sign-in link is not valid.")
    return PendingAuthorization(
        client_id=claims["client_id"], params=AuthorizationParams.model_validate(claims["params"])
    )


# --- Authorization codes -----------------------------------------------------------------------


async def create_authorization_code(
    session: AsyncSession, *, pending: PendingAuthorization, user_id: uuid.UUID
) -> str:
    """A single-use code for the approved request, bound to its PKCE challenge and redirect URI."""
    code = secrets.token_urlsafe(32)
    params = pending.params
    session.add(
        OAuthAuthorizationCode(
            code_hash=security.hash_secret(code),
            client_id=pending.client_id,
            user_id=user_id,
            scopes=list(params.scopes or []),
            code_challenge=params.code_challenge,
            redirect_uri=str(params.redirect_uri),
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=params.resource,
            expires_at=_now() + CODE_LIFETIME,
        )
    )
    await session.flush()
    return code


async def load_authorization_code(
    session: AsyncSession, *, client_id: str, code: str
) -> AuthorizationCode | None:
    """The client's unused authorization code, or None (expiry is checked by the token endpoint)."""
    from mcp.server.auth.provider import AuthorizationCode  # the SDK: imported on first use, not at start

    result = await session.execute(
        select(OAuthAuthorizationCode).where(OAuthAuthorizationCode.code_hash == security.hash_secret(code))
    )
    stored = result.scalar_one_or_none()
    if stored is None or stored.client_id != client_id:
        return None
    return AuthorizationCode(
        code=code,
        scopes=list(stored.scopes),
        expires_at=stored.expires_at.timestamp(),
        client_id=stored.client_id,
        code_challenge=stored.code_challenge,
        redirect_uri=AnyUrl(stored.redirect_uri),
        redirect_uri_provided_explicitly=stored.redirect_uri_provided_explicitly,
        resource=stored.resource,
        subject=str(stored.user_id),
    )


async def exchange_authorization_code(
    session: AsyncSession, *, code: AuthorizationCode, settings: Settings
) -> OAuthToken:
    """Spend the code and issue the first grant of a new family."""
    # Deleting is what makes the code single-use, also when two exchanges race.
    deleted = cast(
        CursorResult[Any],
        await session.execute(
            delete(OAuthAuthorizationCode).where(
                OAuthAuthorizationCode.code_hash == security.hash_secret(code.code)
            )
        ),
    )
    if deleted.rowcount != 1:
        raise InvalidGrant("The authorization code was already used.")
    user = await _active_user(session, code.subject)
    return await _issue_grant(
        session,
        client_id=code.client_id,
        user=user,
        scopes=code.scopes,
        resource=code.resource,
        family_id=uuid.uuid4(),
        settings=settings,
    )


# --- Grants ------------------------------------------------------------------------------------


async def _active_user(session: AsyncSession, subject: str | None) -> User:
    user = await accounts_service.get_active_user(session, uuid.UUID(subject)) if subject else None
    if user is None:
        raise InvalidGrant("The account no longer exists or is disabled.")
    return user


async def _issue_grant(
    session: AsyncSession,
    *,
    client_id: str,
    user: User,
    scopes: list[str],
    resource: str | None,
    family_id: uuid.UUID,
    settings: Settings,
) -> OAuthToken:
    from mcp.shared.auth import OAuthToken  # the SDK: imported on first use, not at start

    access_token = security.new_secret(ACCESS_TOKEN_PREFIX)
    refresh_token = security.new_secret(REFRESH_TOKEN_PREFIX)
    now = _now()
    session.add(
        OAuthGrant(
            client_id=client_id,
            user_id=user.id,
            family_id=family_id,
            access_token_hash=security.hash_secret(access_token),
            refresh_token_hash=security.hash_secret(refresh_token),
            scopes=list(scopes),
            resource=resource,
            access_expires_at=now + ACCESS_TOKEN_LIFETIME,
            refresh_expires_at=now + timedelta(days=settings.refresh_token_days),
        )
    )
    await session.flush()
    return OAuthToken(
        access_token=access_token,
        expires_in=int(ACCESS_TOKEN_LIFETIME.total_seconds()),
        scope=" ".join(scopes),
        refresh_token=refresh_token,
    )


async def _revoke_family(session: AsyncSession, family_id: uuid.UUID) -> None:
    await session.execute(
        update(OAuthGrant)
        .where(OAuthGrant.family_id == family_id, OAuthGrant.revoked_at.is_(None))
        .values(revoked_at=_now())
    )


async def _grant_by_hash(session: AsyncSession, column: Any, token: str) -> OAuthGrant | None:
    result = await session.execute(select(OAuthGrant).where(column == security.hash_secret(token)))
    return result.scalar_one_or_none()


async def load_refresh_token(session: AsyncSession, *, client_id: str, token: str) -> RefreshToken | None:
    """The client's live refresh token, or None; a rotated one presented again revokes its family."""
    from mcp.server.auth.provider import RefreshToken  # the SDK: imported on first use, not at start

    grant = await _grant_by_hash(session, OAuthGrant.refresh_token_hash, token)
    if grant is None or grant.client_id != client_id:
        return None
    if grant.revoked_at is not None:
        await _revoke_family(session, grant.family_id)
        return None
    return RefreshToken(
        token=token,
        client_id=grant.client_id,
        scopes=list(grant.scopes),
        expires_at=int(grant.refresh_expires_at.timestamp()),
        resource=grant.resource,
        subject=str(grant.user_id),
    )


async def exchange_refresh_token(
    session: AsyncSession, *, refresh_token: RefreshToken, scopes: list[str], settings: Settings
) -> OAuthToken:
    """Rotate: revoke the refresh token's grant and issue the next one in its family."""
    grant = await _grant_by_hash(session, OAuthGrant.refresh_token_hash, refresh_token.token)
    if grant is None:
        raise InvalidGrant("The refresh token is not valid.")
    # Guarded on revoked_at so that of two concurrent refreshes only one wins.
    revoked = cast(
        CursorResult[Any],
        await session.execute(
            update(OAuthGrant)
            .where(OAuthGrant.id == grant.id, OAuthGrant.revoked_at.is_(None))
            .values(revoked_at=_now())
        ),
    )
    if revoked.rowcount != 1:
        raise InvalidGrant("The refresh token was already used.")
    user = await _active_user(session, str(grant.user_id))
    return await _issue_grant(
        session,
        client_id=grant.client_id,
        user=user,
        scopes=scopes,
        resource=grant.resource,
        family_id=grant.family_id,
        settings=settings,
    )


async def load_access_token(session: AsyncSession, token: str) -> AccessToken | None:
    """The live OAuth access token with its user (`subject`) and scopes, or None."""
    from mcp.server.auth.provider import AccessToken  # the SDK: imported on first use, not at start

    if not token.startswith(ACCESS_TOKEN_PREFIX):
        return None
    grant = await _grant_by_hash(session, OAuthGrant.access_token_hash, token)
    if grant is None or grant.revoked_at is not None or grant.access_expires_at <= _now():
        return None
    return AccessToken(
        token=token,
        client_id=grant.client_id,
        scopes=list(grant.scopes),
        expires_at=int(grant.access_expires_at.timestamp()),
        resource=grant.resource,
        subject=str(grant.user_id),
        claims={"method": "oauth"},
    )


async def revoke_token(session: AsyncSession, token: str) -> None:
    """Revoke the grant an access or refresh token belongs to, with its whole family (unlinking)."""
    digest = security.hash_secret(token)
    result = await session.execute(
        select(OAuthGrant.family_id).where(
            or_(OAuthGrant.access_token_hash == digest, OAuthGrant.refresh_token_hash == digest)
        )
    )
    family_id = result.scalar_one_or_none()
    if family_id is not None:
        await _revoke_family(session, family_id)


async def authenticate_access_token(
    session: AsyncSession, *, token: str
) -> tuple[User, list[str], datetime | None]:
    """The user, scopes and expiry behind an OAuth access token; invalid ones raise Unauthorized."""
    access = await load_access_token(session, token)
    user = None
    if access is not None and access.subject is not None:
        user = await accounts_service.get_active_user(session, uuid.UUID(access.subject))
    if access is None or user is None:
        raise Unauthorized("The access token is invalid, expired or revoked.")
    expires_at = None if access.expires_at is None else datetime.fromtimestamp(access.expires_at, UTC)
    return user, list(access.scopes), expires_at


async def purge_expired(session: AsyncSession, *, now: datetime) -> int:
    """Delete authorization codes past their expiry and grants that are revoked or fully expired."""
    codes = await session.execute(
        delete(OAuthAuthorizationCode).where(OAuthAuthorizationCode.expires_at <= now)
    )
    grants = await session.execute(
        delete(OAuthGrant).where(
            or_(OAuthGrant.revoked_at.is_not(None), OAuthGrant.refresh_expires_at <= now)
        )
    )
    return int(getattr(codes, "rowcount", 0) or 0) + int(getattr(grants, "rowcount", 0) or 0)
