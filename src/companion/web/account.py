"""Account pages: sign up (with the background questions), log in and out, the account page."""

from __future__ import annotations

import contextlib
import json
import uuid
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from companion.access import service as access_service
from companion.accounts import export as accounts_export
from companion.accounts import service as accounts_service
from companion.accounts.models import User
from companion.accounts.policies import PublicDep
from companion.accounts.schemas import ApiKeyCreate, UserCreate, UserUpdate
from companion.accounts.scopes import ALL_SCOPES
from companion.dependencies import CacheDep, ClientAddressDep, LimiterDep, SessionDep, SettingsDep
from companion.errors import CompanionError
from companion.web.dependencies import (
    REFRESH_COOKIE,
    AccountOwner,
    CsrfProtected,
    Visitor,
    end_session,
    start_session,
)
from companion.web.templating import render

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

SOFTWARE_LEVELS = ("beginner", "intermediate", "advanced")
HARDWARE_LEVELS = ("none", "hobbyist", "professional")


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only, never another host."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _problems(error: ValidationError) -> dict[str, str]:
    return {str(item["loc"][0]) if item["loc"] else "form": item["msg"] for item in error.errors()}


def _redirect(target: str) -> RedirectResponse:
    return RedirectResponse(target, status_code=303)


@router.get("/signup")
async def signup_page(
    request: Request, visitor: Visitor, next: Annotated[str | None, Query()] = None
) -> Response:
    """The sign-up form, with the background questions that shape explanations and the learning path."""
    if visitor:
        return _redirect(safe_next(next))
    context = {
        "next": safe_next(next),
        "form": {},
        "errors": {},
        "levels": (SOFTWARE_LEVELS, HARDWARE_LEVELS),
    }
    return render(request, "signup.html", context)


@router.post("/signup", dependencies=[CsrfProtected])
async def signup(
    request: Request,
    _public: PublicDep,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    full_name: Annotated[str, Form()] = "",
    timezone: Annotated[str, Form()] = "UTC",
    software_experience: Annotated[str, Form()] = "",
    hardware_experience: Annotated[str, Form()] = "",
    next: Annotated[str | None, Form()] = None,
) -> Response:
    """Create the account, sign it in and go on."""
    form = {
        "email": email,
        "full_name": full_name,
        "timezone": timezone,
        "software_experience": software_experience,
        "hardware_experience": hardware_experience,
    }
    errors: dict[str, str] = {}
    try:
        data = UserCreate.model_validate({**form, "password": password, "full_name": full_name or None})
        user = await accounts_service.register(session, data=data)
    except ValidationError as error:
        errors = _problems(error)
    except CompanionError as error:
        errors = {"email": error.message}
    if errors:
        context = {
            "next": safe_next(next),
            "form": form,
            "errors": errors,
            "levels": (SOFTWARE_LEVELS, HARDWARE_LEVELS),
        }
        return render(request, "signup.html", context, status_code=422)
    start_session(request, await accounts_service.issue_tokens(session, user=user, settings=settings))
    return _redirect(safe_next(next))


@router.get("/login")
async def login_page(
    request: Request, visitor: Visitor, next: Annotated[str | None, Query()] = None
) -> Response:
    """The sign-in form."""
    if visitor:
        return _redirect(safe_next(next))
    return render(request, "login.html", {"next": safe_next(next), "email": "", "error": None})


@router.post("/login", dependencies=[CsrfProtected])
async def login(
    request: Request,
    _public: PublicDep,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    address: ClientAddressDep,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str | None, Form()] = None,
) -> Response:
    """Check the password and start a cookie session."""
    try:
        tokens = await accounts_service.login(
            session,
            email=email,
            password=password,
            client_address=address,
            settings=settings,
            limiter=limiter,
        )
    except CompanionError as error:
        context = {"next": safe_next(next), "email": email, "error": error.message}
        return render(request, "login.html", context, status_code=error.status_code)
    start_session(request, tokens)
    return _redirect(safe_next(next))


@router.post("/logout", dependencies=[CsrfProtected])
async def logout(request: Request, _public: PublicDep, session: SessionDep) -> Response:
    """End the session: its refresh token (and so its access tokens) is revoked."""
    refresh = request.cookies.get(REFRESH_COOKIE)
    if refresh:
        with contextlib.suppress(CompanionError):  # already ended elsewhere; the cookies still go
            await accounts_service.logout(session, refresh_token=refresh)
    end_session(request)
    return _redirect("/")


async def _account_page(
    request: Request, learner: AccountOwner, session: SessionDep, **extra: Any
) -> Response:
    user = learner.user
    keys = await accounts_service.list_api_keys(session, user=user)
    context = {
        "profile": user,
        "keys": keys,
        "levels": (SOFTWARE_LEVELS, HARDWARE_LEVELS),
        "scopes": ALL_SCOPES,
        "tier": access_service.tier_of(user),
        "errors": {},
        **extra,
    }
    return render(request, "account.html", context, identity=learner, status_code=extra.get("status", 200))


@router.get("/account")
async def account_page(
    request: Request,
    learner: AccountOwner,
    session: SessionDep,
    checkout: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    """Profile, time zone, background, assistant API keys, data export and account deletion."""
    if checkout == "success":  # back from Stripe Checkout; the plan changes when Stripe confirms it
        notice = "Thank you: your payment went through. Your new plan starts as soon as Stripe confirms it."
        return await _account_page(request, learner, session, notice=notice)
    return await _account_page(request, learner, session)


@router.post("/account/profile", dependencies=[CsrfProtected])
async def update_profile(
    request: Request,
    learner: AccountOwner,
    session: SessionDep,
    full_name: Annotated[str, Form()] = "",
    timezone: Annotated[str, Form()] = "",
    software_experience: Annotated[str, Form()] = "",
    hardware_experience: Annotated[str, Form()] = "",
) -> Response:
    """Save name, time zone and background (a new background replans the learning path)."""
    try:
        data = UserUpdate.model_validate(
            {
                "full_name": full_name or None,
                "timezone": timezone,
                "software_experience": software_experience,
                "hardware_experience": hardware_experience,
            }
        )
    except ValidationError as error:
        return await _account_page(request, learner, session, errors=_problems(error), status=422)
    await accounts_service.update_profile(session, user=learner.user, data=data)
    return await _account_page(request, learner, session, notice="Profile saved.")


@router.post("/account/password", dependencies=[CsrfProtected])
async def change_password(
    request: Request,
    learner: AccountOwner,
    session: SessionDep,
    settings: SettingsDep,
    current_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
) -> Response:
    """Change the password; every other sign-in ends, this browser stays signed in."""
    if len(new_password) < 8:
        return await _account_page(
            request, learner, session, errors={"new_password": "At least 8 characters."}, status=422
        )
    try:
        tokens = await accounts_service.change_password(
            session,
            user=learner.user,
            current_password=current_password,
            new_password=new_password,
            settings=settings,
        )
    except CompanionError as error:
        return await _account_page(
            request, learner, session, errors={"current_password": error.message}, status=422
        )
    start_session(request, tokens)
    return await _account_page(
        request, learner, session, notice="Password changed; other sign-ins were ended."
    )


@router.post("/account/api-keys", dependencies=[CsrfProtected])
async def create_api_key(
    request: Request,
    learner: AccountOwner,
    session: SessionDep,
    name: Annotated[str, Form()] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Create an API key for an assistant (e.g. a desktop MCP client); its secret is shown once."""
    try:
        data = ApiKeyCreate.model_validate({"name": name.strip(), "scopes": scopes or list(ALL_SCOPES)})
    except ValidationError as error:
        return await _account_page(request, learner, session, errors={"key_name": _first(error)}, status=422)
    try:
        _, secret = await accounts_service.create_api_key(
            session, user=learner.user, data=data, creator_scopes=learner.scopes
        )
    except CompanionError as error:
        return await _account_page(request, learner, session, errors={"key_name": error.message}, status=403)
    return await _account_page(request, learner, session, new_key=secret, new_key_name=data.name)


def _first(error: ValidationError) -> str:
    return str(error.errors()[0]["msg"])


@router.post("/account/api-keys/{key_id}/revoke", dependencies=[CsrfProtected])
async def revoke_api_key(key_id: uuid.UUID, learner: AccountOwner, session: SessionDep) -> Response:
    """Revoke one of your API keys."""
    await accounts_service.revoke_api_key(session, user=learner.user, key_id=key_id)
    return _redirect("/account#api-keys")


@router.get("/account/export")
async def export_data(learner: AccountOwner, session: SessionDep) -> Response:
    """Everything the account owns, as a JSON download."""
    data = await accounts_export.export_user_data(session, user_id=learner.user.id)
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="course-companion-export.json"',
            "Cache-Control": "private, no-store",
        },
    )


@router.post("/account/delete", dependencies=[CsrfProtected])
async def delete_account(
    request: Request,
    learner: AccountOwner,
    session: SessionDep,
    cache: CacheDep,
    confirm_email: Annotated[str, Form()] = "",
) -> Response:
    """Delete the account and all of its data, after the learner types their email to confirm."""
    user: User = learner.user
    if accounts_service.normalize_email(confirm_email) != user.email:
        return await _account_page(
            request,
            learner,
            session,
            errors={"confirm_email": "Type your email address exactly to confirm."},
            status=422,
        )
    await accounts_service.delete_account(session, user=user, cache=cache)
    end_session(request)
    return _redirect("/?deleted=1")
