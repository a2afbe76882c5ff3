"""The SDK's OAuth authorization server, backed by our database: a thin adapter over the oauth service."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from urllib.parse import urlencode

from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    OAuthAuthorizationServerProvider,
    RefreshToken,
    TokenError,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from sqlalchemy.ext.asyncio import AsyncSession

from companion.accounts.scopes import ALL_SCOPES
from companion.config import Settings
from companion.oauth import service as oauth_service
from companion.oauth.urls import CONSENT_PATH, ISSUER_PATH, issuer_url, resource_url

__all__ = [
    "CONSENT_PATH",
    "ISSUER_PATH",
    "CompanionOAuthProvider",
    "Transaction",
    "issuer_url",
    "resource_url",
]

Transaction = Callable[[], AbstractAsyncContextManager[AsyncSession]]


class CompanionOAuthProvider(OAuthAuthorizationServerProvider[AuthorizationCode, RefreshToken, AccessToken]):
    """Clients, codes and tokens in our database; the learner decides on our consent page."""

    def __init__(self, *, settings: Settings, transaction: Transaction) -> None:
        self._settings = settings
        # Each call owns one transaction (the sessionmaker exists only once the app has started).
        self._transaction = transaction

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        """The registered client, or None."""
        async with self._transaction() as session:
            return await oauth_service.get_client(session, client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        """Store a dynamically registered client."""
        async with self._transaction() as session:
            await oauth_service.register_client(session, client=client_info)

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        """Send the learner's browser to the consent page, carrying the request signed."""
        resource = (params.resource or "").rstrip("/")
        if resource and resource not in (
            resource_url(self._settings),
            self._settings.public_base_url.rstrip("/"),
        ):
            raise AuthorizeError(
                "invalid_target", f"Tokens are only issued for {resource_url(self._settings)}."
            )
        # No scope asked for: the scopes the client registered with, else everything we offer.
        scopes = params.scopes or (client.scope.split() if client.scope else list(ALL_SCOPES))
        request = oauth_service.sign_authorization_request(
            client_id=client.client_id,
            params=params.model_copy(update={"scopes": scopes}),
            settings=self._settings,
        )
        base = self._settings.public_base_url.rstrip("/")
        return f"{base}{CONSENT_PATH}?{urlencode({'request': request})}"

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> AuthorizationCode | None:
        """The client's authorization code, or None."""
        async with self._transaction() as session:
            return await oauth_service.load_authorization_code(
                session, client_id=client.client_id, code=authorization_code
            )

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        """Spend the code for the first access and refresh tokens."""
        try:
            async with self._transaction() as session:
                return await oauth_service.exchange_authorization_code(
                    session, code=authorization_code, settings=self._settings
                )
        except oauth_service.InvalidGrant as error:
            raise TokenError("invalid_grant", error.message) from error

    async def load_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: str
    ) -> RefreshToken | None:
        """The client's live refresh token, or None."""
        async with self._transaction() as session:
            return await oauth_service.load_refresh_token(
                session, client_id=client.client_id, token=refresh_token
            )

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        """Rotate the refresh token."""
        try:
            async with self._transaction() as session:
                return await oauth_service.exchange_refresh_token(
                    session, refresh_token=refresh_token, scopes=scopes, settings=self._settings
                )
        except oauth_service.InvalidGrant as error:
            raise TokenError("invalid_grant", error.message) from error

    async def load_access_token(self, token: str) -> AccessToken | None:
        """The live access token, or None."""
        async with self._transaction() as session:
            return await oauth_service.load_access_token(session, token)

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        """Revoke the token's grant family: the learner unlinked the assistant."""
        async with self._transaction() as session:
            await oauth_service.revoke_token(session, token.token)
