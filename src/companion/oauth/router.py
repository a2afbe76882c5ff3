"""The OAuth pages and endpoints: the login-and-consent page, and the SDK's authorization server routes."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import AnyHttpUrl
from starlette.routing import BaseRoute, Route

from companion.accounts import service as accounts_service
from companion.accounts.exceptions import InvalidCredentials
from companion.accounts.policies import PublicDep
from companion.accounts.scopes import ALL_SCOPES, SCOPE_DESCRIPTIONS
from companion.config import Settings
from companion.dependencies import ClientAddressDep, LimiterDep, SessionDep, SettingsDep
from companion.errors import RateLimited, ValidationFailed
from companion.oauth import service as oauth_service
from companion.oauth.urls import CONSENT_PATH, ISSUER_PATH, issuer_url

if TYPE_CHECKING:
    from companion.oauth.provider import CompanionOAuthProvider

router = APIRouter(tags=["oauth"], include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

CSRF_COOKIE = "companion_oauth_csrf"
# The consent page must never be framed (clickjacking) nor cached.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}
METADATA_PATH = "/.well-known/oauth-authorization-server"


def authorization_server_routes(provider: CompanionOAuthProvider, settings: Settings) -> list[BaseRoute]:
    """The SDK's authorize/token/register/revoke endpoints under /oauth, and the metadata document."""
    # The MCP SDK is imported only once these are mounted, after the server has started (see mcp.http).
    from mcp.server.auth.routes import REVOCATION_PATH, create_auth_routes
    from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions

    from companion.oauth import revocation

    issuer = AnyHttpUrl(issuer_url(settings))
    registration = ClientRegistrationOptions(
        enabled=True, valid_scopes=list(ALL_SCOPES), default_scopes=list(ALL_SCOPES)
    )
    revocation_options = RevocationOptions(enabled=True)
    sdk_routes = create_auth_routes(
        provider,
        issuer_url=issuer,
        client_registration_options=registration,
        revocation_options=revocation_options,
    )
    routes: list[BaseRoute] = []
    for route in sdk_routes:
        methods = sorted(route.methods or ())
        endpoint = route.endpoint
        if route.path == METADATA_PATH:
            # RFC 8414 places the document of an issuer with a path at the path-suffixed URL;
            # clients that only try the root URL find it there too.
            paths = [METADATA_PATH, METADATA_PATH + ISSUER_PATH]
            endpoint = revocation.metadata_endpoint(issuer, registration, revocation_options)
        else:
            paths = [ISSUER_PATH + route.path]
            if route.path == REVOCATION_PATH:  # the SDK's refuses public clients (see revocation.py)
                endpoint = revocation.revocation_endpoint(provider)
        routes.extend(Route(path, endpoint=endpoint, methods=methods) for path in paths)
    return routes


def _page(
    request: Request, template: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    response = templates.TemplateResponse(request, template, context, status_code=status_code)
    response.headers.update(PAGE_HEADERS)
    return response


def _problem_page(request: Request, message: str, *, status_code: int) -> HTMLResponse:
    return _page(request, "problem.html", {"message": message}, status_code=status_code)


async def _consent_page(
    request: Request,
    session: SessionDep,
    *,
    request_token: str,
    pending: oauth_service.PendingAuthorization,
    csrf_token: str,
    email: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    client = await oauth_service.get_client(session, pending.client_id)
    if client is None:
        return _problem_page(
            request, "The assistant asking for access is no longer registered.", status_code=400
        )
    scopes = pending.params.scopes or []
    context = {
        "client_name": client.client_name or "An AI assistant",
        "client_uri": str(client.client_uri) if client.client_uri else None,
        "return_host": urlparse(str(pending.params.redirect_uri)).netloc,
        "scopes": [(scope, SCOPE_DESCRIPTIONS.get(scope, scope)) for scope in scopes],
        "request_token": request_token,
        "csrf_token": csrf_token,
        "email": email,
        "error": error,
        "action": CONSENT_PATH,
    }
    return _page(request, "consent.html", context, status_code=status_code)


@router.get(CONSENT_PATH, response_class=HTMLResponse)
async def consent_form(
    request: Request,
    _public: PublicDep,
    session: SessionDep,
    settings: SettingsDep,
    request_token: Annotated[str, Query(alias="request")] = "",
) -> Response:
    """Show who asks for access and what for; the learner signs in to approve or denies."""
    try:
        pending = oauth_service.read_authorization_request(request_token, settings=settings)
    except ValidationFailed as error:
        return _problem_page(request, error.message, status_code=400)
    # Double-submit token: a cross-site form cannot read the cookie to repeat it in the body.
    csrf_token = secrets.token_urlsafe(32)
    response = await _consent_page(
        request, session, request_token=request_token, pending=pending, csrf_token=csrf_token
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf_token,
        max_age=int(oauth_service.REQUEST_LIFETIME.total_seconds()),
        path=ISSUER_PATH,
        secure=settings.public_base_url.startswith("https://"),
        httponly=True,
        samesite="strict",
    )
    return response


@router.post(CONSENT_PATH, response_class=HTMLResponse)
async def consent_decision(
    request: Request,
    _public: PublicDep,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    address: ClientAddressDep,
    request_token: Annotated[str, Form(alias="request")],
    csrf_token: Annotated[str, Form()],
    decision: Annotated[Literal["approve", "deny"], Form()],
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    """Approve (after signing in) or deny, then return to the assistant with a code or an error."""
    from mcp.server.auth.provider import construct_redirect_uri  # the SDK loads after start (mcp.http)

    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, csrf_token):
        return _problem_page(
            request,
            "This form expired or was not sent from this page. Go back to your assistant and start again.",
            status_code=403,
        )
    try:
        pending = oauth_service.read_authorization_request(request_token, settings=settings)
    except ValidationFailed as error:
        return _problem_page(request, error.message, status_code=400)
    redirect_uri = str(pending.params.redirect_uri)
    state = pending.params.state
    if decision == "deny":
        target = construct_redirect_uri(
            redirect_uri, error="access_denied", error_description="The learner declined.", state=state
        )
        return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})

    try:
        # The account service's credential check, with its rate limit on failures.
        user = await accounts_service.authenticate(
            session,
            email=email,
            password=password,
            client_address=address,
            settings=settings,
            limiter=limiter,
        )
    except (InvalidCredentials, RateLimited) as error:
        return await _consent_page(
            request,
            session,
            request_token=request_token,
            pending=pending,
            csrf_token=csrf_token,
            email=email,
            error=error.message,
            status_code=error.status_code,
        )
    code = await oauth_service.create_authorization_code(session, pending=pending, user_id=user.id)
    target = construct_redirect_uri(redirect_uri, code=code, state=state)
    response = RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
    response.delete_cookie(CSRF_COOKIE, path=ISSUER_PATH)
    return response
