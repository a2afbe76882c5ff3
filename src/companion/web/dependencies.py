"""Who is reading: the web's cookie session resolved to the same Identity the API uses, and CSRF checks.

A browser signs in with the ordinary login (an access JWT plus a rotating refresh token); both travel
in HttpOnly, SameSite=Lax cookies. An expired access token is renewed from the refresh token on the
next request. The identity's method is "session": a password sign-in, like the login JWT.

The web's policies are rows of the same table as the API's (`companion.accounts.policies`): the same
`Policy` with the same checks, whose credential is the cookie session instead of a bearer token. A
cookie never authenticates an /api route, so the API needs no CSRF defence; every web form and htmx
request carries the CSRF token. (No `from __future__ import annotations` here: FastAPI reads the
annotations of the policies' `__call__` at run time.)
"""

import secrets
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from companion.accounts import security
from companion.accounts import service as accounts_service
from companion.accounts.policies import PASSWORD_SIGN_IN, AuthMethod, Identity, Policy
from companion.accounts.schemas import TokenPair
from companion.accounts.scopes import ALL_SCOPES, CONTENT_READ, PROGRESS_WRITE
from companion.config import Settings
from companion.db import transaction, utcnow
from companion.dependencies import SessionDep
from companion.errors import CompanionError, Forbidden, Unauthorized
from companion.progress import sessions as learning_sessions

ACCESS_COOKIE = "cc_access"
REFRESH_COOKIE = "cc_refresh"
CSRF_COOKIE = "cc_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SESSION_METHOD = "session"
_PENDING = "web_cookies"  # request.state key: cookies to set (value) or clear (None) on the response


def _pending(request: Request) -> dict[str, str | None]:
    pending: dict[str, str | None] = getattr(request.state, _PENDING, None) or {}
    setattr(request.state, _PENDING, pending)
    return pending


def start_session(request: Request, tokens: TokenPair) -> None:
    """Put a fresh login in the browser's cookies (set on whatever response this request returns)."""
    pending = _pending(request)
    pending[ACCESS_COOKIE] = tokens.access_token
    pending[REFRESH_COOKIE] = tokens.refresh_token


def end_session(request: Request) -> None:
    """Clear the session cookies on the response."""
    pending = _pending(request)
    pending[ACCESS_COOKIE] = None
    pending[REFRESH_COOKIE] = None


def csrf_token(request: Request) -> str:
    """The browser's CSRF token (issued on first use); forms and htmx requests echo it back."""
    pending = _pending(request)
    token = pending.get(CSRF_COOKIE) or request.cookies.get(CSRF_COOKIE)
    if not token:
        token = secrets.token_urlsafe(32)
        pending[CSRF_COOKIE] = token
    return token


async def _from_access_token(session: AsyncSession, token: str, settings: Settings) -> Identity | None:
    try:
        claims = security.decode_access_token(
            token, secret=settings.signing_secret(), algorithm=settings.jwt_algorithm
        )
    except Unauthorized:
        return None
    user, logged_out = await accounts_service.get_signed_in_user(
        session, claims.user_id, claims.session_family
    )
    if user is None or logged_out:
        return None
    return Identity(user=user, scopes=frozenset(ALL_SCOPES), method="session")


async def _resolve(request: Request, session: AsyncSession) -> Identity | None:
    access = request.cookies.get(ACCESS_COOKIE)
    refresh = request.cookies.get(REFRESH_COOKIE)
    if not access and not refresh:
        return None
    settings: Settings = request.app.state.settings
    identity = await _from_access_token(session, access, settings) if access else None
    if identity is None and refresh:
        try:
            tokens = await accounts_service.refresh(session, refresh_token=refresh, settings=settings)
        except CompanionError:
            end_session(request)  # logged out elsewhere, expired or replayed: sign in again
            return None
        start_session(request, tokens)
        identity = await _from_access_token(session, tokens.access_token, settings)
    elif identity is None:
        end_session(request)
    if identity is not None:
        request.state.user_id = identity.user.id
    return identity


async def optional_visitor(request: Request) -> Identity | None:
    """The signed-in reader, or None; loaded in a short session of its own (anonymous pages open none)."""
    if not request.cookies.get(ACCESS_COOKIE) and not request.cookies.get(REFRESH_COOKIE):
        return None
    identity: Identity | None = None
    async with transaction(request.app.state.sessionmaker) as session:
        identity = await _resolve(request, session)
    return identity


async def signed_in_learner(request: Request, session: SessionDep) -> Identity:
    """The signed-in learner, loaded in the request's transaction; anonymous browsers go to the login page."""
    identity = await _resolve(request, session)
    if identity is None:
        raise Unauthorized("Sign in to continue.")
    return identity


async def verify_csrf(request: Request) -> None:
    """Refuse a state-changing request whose CSRF token (header or form field) does not match the cookie."""
    expected = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent:
        form = await request.form()
        field = form.get(CSRF_FIELD)
        sent = field if isinstance(field, str) else ""
    if not expected or not sent or not secrets.compare_digest(expected, sent):
        raise Forbidden(
            "This form has expired or did not come from this site; reload the page and try again.",
            details={"reason": "csrf"},
        )


@dataclass(frozen=True, eq=False)
class CookieOptionalPolicy(Policy):
    """Pages anyone may read; a cookie session, when there is one, must pass the policy."""

    async def __call__(self, request: Request) -> Identity | None:
        identity = await optional_visitor(request)
        request.state.identity = identity if identity is None else self.check(identity)
        return identity


@dataclass(frozen=True, eq=False)
class CookieRequiredPolicy(Policy):
    """Pages for a signed-in browser (else the sign-in page), loaded in the request's transaction."""

    async def __call__(self, request: Request, session: SessionDep) -> Identity:
        identity = self.check(await signed_in_learner(request, session))
        request.state.identity = identity
        return identity


# The web's rows of the policy table: the same checks, with the cookie session as the credential.
_COOKIE_ONLY: frozenset[AuthMethod] = frozenset({"session"})
WEB_READER = CookieOptionalPolicy(
    "web_reader", anonymous=True, scopes=frozenset({CONTENT_READ}), methods=_COOKIE_ONLY
)
WEB_LEARNER = CookieRequiredPolicy(
    "web_learner", anonymous=False, scopes=frozenset({PROGRESS_WRITE}), methods=_COOKIE_ONLY
)
WEB_ACCOUNT_OWNER = CookieRequiredPolicy(
    "web_account_owner", anonymous=False, methods=PASSWORD_SIGN_IN & _COOKIE_ONLY
)
WEB_POLICIES: tuple[Policy, ...] = (WEB_READER, WEB_LEARNER, WEB_ACCOUNT_OWNER)

Visitor = Annotated[Identity | None, Depends(WEB_READER)]
Learner = Annotated[Identity, Depends(WEB_LEARNER)]
AccountOwner = Annotated[Identity, Depends(WEB_ACCOUNT_OWNER)]
CsrfProtected = Depends(verify_csrf)


class SessionCookieMiddleware:
    """Writes the cookies a request decided on (session start, renewal, end, CSRF token) to its response."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                state: MutableMapping[str, Any] = scope.get("state") or {}
                pending: dict[str, str | None] = state.get(_PENDING) or {}
                if pending:
                    cookies = _cookie_headers(pending, self.settings)
                    message["headers"] = [*message.get("headers", []), *cookies]
            await send(message)

        await self.app(scope, receive, send_with_cookies)


def _cookie_headers(pending: dict[str, str | None], settings: Settings) -> list[tuple[bytes, bytes]]:
    carrier = Response()
    secure = settings.environment == "production"
    lifetime = settings.refresh_token_days * 24 * 3600
    for name, value in pending.items():
        if value is None:
            carrier.delete_cookie(name, path="/", secure=secure, httponly=True, samesite="lax")
        else:
            carrier.set_cookie(
                name, value, max_age=lifetime, path="/", secure=secure, httponly=True, samesite="lax"
            )
    return [(key, value) for key, value in carrier.raw_headers if key == b"set-cookie"]


async def count_web_activity(
    session: AsyncSession, identity: Identity, *, chapter_id: str | None = None, quiz_id: str | None = None
) -> None:
    """Count a reading report, quiz or question in the learner's current web learning session."""
    await learning_sessions.record_assistant_interaction(
        session,
        user_id=identity.user.id,
        interface="web",
        chapter_id=chapter_id,
        quiz_id=quiz_id,
        now=utcnow(),
        source="web",
    )
