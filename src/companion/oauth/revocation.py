"""Token revocation (RFC 7009) for every kind of client, and the metadata that says so.

The SDK's revocation handler requires a `client_secret` form field even from a public client
(`token_endpoint_auth_method: none`), and its metadata lists only the secret-based methods although
registration accepts `none`; this module serves both the standard way, reusing the SDK's client
authenticator and metadata builder.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Literal

from mcp.server.auth.errors import stringify_pydantic_error
from mcp.server.auth.handlers.metadata import MetadataHandler
from mcp.server.auth.handlers.revoke import RevocationErrorResponse
from mcp.server.auth.json_response import PydanticJSONResponse
from mcp.server.auth.middleware.client_auth import AuthenticationError, ClientAuthenticator
from mcp.server.auth.provider import AccessToken, OAuthAuthorizationServerProvider, RefreshToken
from mcp.server.auth.routes import build_metadata, cors_middleware
from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE, RequestBodyLimitMiddleware
from pydantic import AnyHttpUrl, BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

# What the client authenticator checks: a secret in the form or in Basic auth, or none (public client).
CLIENT_AUTH_METHODS = ["client_secret_post", "client_secret_basic", "none"]


class RevocationRequest(BaseModel):
    """The revocation form (RFC 7009 §2.1); the client authenticates as at the token endpoint."""

    token: str
    token_type_hint: Literal["access_token", "refresh_token"] | None = None
    client_id: str
    client_secret: str | None = None


class RevocationHandler:
    """Revoke an access or refresh token of the authenticated client; unknown tokens are not an error."""

    def __init__(self, provider: OAuthAuthorizationServerProvider[Any, Any, Any]) -> None:
        self._provider = provider
        self._authenticator = ClientAuthenticator(provider)

    async def handle(self, request: Request) -> Response:
        """The revocation endpoint."""
        try:
            client = await self._authenticator.authenticate_request(request)
        except AuthenticationError as error:
            body = RevocationErrorResponse(error="unauthorized_client", error_description=error.message)
            return PydanticJSONResponse(status_code=401, content=body)
        try:
            revocation = RevocationRequest.model_validate(dict(await request.form()))
        except ValidationError as error:
            body = RevocationErrorResponse(
                error="invalid_request", error_description=stringify_pydantic_error(error)
            )
            return PydanticJSONResponse(status_code=400, content=body)

        loaders: list[Callable[[str], Awaitable[AccessToken | RefreshToken | None]]] = [
            self._provider.load_access_token,
            partial(self._provider.load_refresh_token, client),
        ]
        if revocation.token_type_hint == "refresh_token":
            loaders.reverse()
        token: AccessToken | RefreshToken | None = None
        for loader in loaders:
            token = await loader(revocation.token)
            if token is not None:
                break
        # RFC 7009 §2.2: an unknown token, or another client's, is answered 200 all the same.
        if token is not None and token.client_id == client.client_id:
            await self._provider.revoke_token(token)
        return Response(status_code=200, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def revocation_endpoint(provider: OAuthAuthorizationServerProvider[Any, Any, Any]) -> ASGIApp:
    """The revocation endpoint, with the SDK's body size limit and the CORS headers browser clients need."""
    endpoint = cors_middleware(RevocationHandler(provider).handle, ["POST", "OPTIONS"])
    return RequestBodyLimitMiddleware(endpoint, DEFAULT_MAX_REQUEST_BODY_SIZE)


def metadata_endpoint(
    issuer_url: AnyHttpUrl, registration: ClientRegistrationOptions, revocation: RevocationOptions
) -> ASGIApp:
    """The authorization server metadata (RFC 8414), listing public clients' `none` method too."""
    metadata = build_metadata(issuer_url, None, registration, revocation)
    metadata.token_endpoint_auth_methods_supported = CLIENT_AUTH_METHODS
    if metadata.revocation_endpoint is not None:
        metadata.revocation_endpoint_auth_methods_supported = CLIENT_AUTH_METHODS
    return cors_middleware(MetadataHandler(metadata).handle, ["GET", "OPTIONS"])
