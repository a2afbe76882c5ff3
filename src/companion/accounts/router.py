"""Account endpoints: sign-up, sign-in, tokens, profile, password, export, deletion, API keys."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response, status

from companion.accounts import export as accounts_export
from companion.accounts import service as accounts_service
from companion.accounts.policies import AccountOwnerDep, PublicDep, ReaderDep
from companion.accounts.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    LoginRequest,
    PasswordChange,
    RefreshRequest,
    TokenPair,
    UserCreate,
    UserRead,
    UserUpdate,
)
from companion.dependencies import CacheDep, ClientAddressDep, LimiterDep, SessionDep, SettingsDep

router = APIRouter(prefix="/api/v1", tags=["accounts"])


@router.post("/auth/register", response_model=TokenPair, status_code=status.HTTP_201_CREATED)
async def register(
    data: UserCreate, _public: PublicDep, session: SessionDep, settings: SettingsDep
) -> TokenPair:
    """Create a learner account (free tier) and sign it in."""
    user = await accounts_service.register(session, data=data)
    return await accounts_service.issue_tokens(session, user=user, settings=settings)


@router.post("/auth/login", response_model=TokenPair)
async def login(
    data: LoginRequest,
    _public: PublicDep,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    address: ClientAddressDep,
) -> TokenPair:
    """Exchange email and password for an access token and a refresh token."""
    return await accounts_service.login(
        session,
        email=data.email,
        password=data.password,
        client_address=address,
        settings=settings,
        limiter=limiter,
    )


@router.post("/auth/refresh", response_model=TokenPair)
async def refresh(
    data: RefreshRequest, _public: PublicDep, session: SessionDep, settings: SettingsDep
) -> TokenPair:
    """Rotate a refresh token: the old one stops working, a new pair is returned."""
    return await accounts_service.refresh(session, refresh_token=data.refresh_token, settings=settings)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(data: RefreshRequest, _public: PublicDep, session: SessionDep) -> Response:
    """Revoke a refresh token and end its login."""
    await accounts_service.logout(session, refresh_token=data.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=UserRead)
async def read_me(identity: ReaderDep) -> UserRead:
    """The signed-in user's profile."""
    return UserRead.model_validate(identity.user)


@router.patch("/me", response_model=UserRead)
async def update_me(data: UserUpdate, owner: AccountOwnerDep, session: SessionDep) -> UserRead:
    """Change name, time zone, background or preferences (password sign-in only)."""
    user = await accounts_service.update_profile(session, user=owner.user, data=data)
    return UserRead.model_validate(user)


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT)
async def delete_me(owner: AccountOwnerDep, session: SessionDep, cache: CacheDep) -> Response:
    """Delete the account and all of its data (password sign-in only)."""
    await accounts_service.delete_account(session, user=owner.user, cache=cache)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me/export")
async def export_me(owner: AccountOwnerDep, session: SessionDep) -> dict[str, Any]:
    """Everything the account owns, as JSON, without any credential material (password sign-in only)."""
    return await accounts_export.export_user_data(session, user_id=owner.user.id)


@router.post("/me/password", response_model=TokenPair)
async def change_password(
    data: PasswordChange, owner: AccountOwnerDep, session: SessionDep, settings: SettingsDep
) -> TokenPair:
    """Change the password (password sign-in only); every other login is signed out."""
    return await accounts_service.change_password(
        session,
        user=owner.user,
        current_password=data.current_password,
        new_password=data.new_password,
        settings=settings,
    )


@router.get("/me/api-keys", response_model=list[ApiKeyRead])
async def list_api_keys(owner: AccountOwnerDep, session: SessionDep) -> list[ApiKeyRead]:
    """The account's API keys, without their secrets (password sign-in only)."""
    keys = await accounts_service.list_api_keys(session, user=owner.user)
    return [ApiKeyRead.model_validate(key) for key in keys]


@router.post("/me/api-keys", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
async def create_api_key(data: ApiKeyCreate, owner: AccountOwnerDep, session: SessionDep) -> ApiKeyCreated:
    """Create an API key for a machine client such as an MCP desktop app; the key is shown once.

    Needs a password sign-in. The key gets the scopes asked for, which must be among the signing-in
    credential's own (403 otherwise), or all of that credential's scopes when none are asked for.
    """
    api_key, secret = await accounts_service.create_api_key(
        session, user=owner.user, data=data, creator_scopes=owner.scopes
    )
    return ApiKeyCreated.model_validate({**ApiKeyRead.model_validate(api_key).model_dump(), "key": secret})


@router.delete("/me/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_api_key(key_id: uuid.UUID, owner: AccountOwnerDep, session: SessionDep) -> Response:
    """Revoke one of your API keys (password sign-in only)."""
    await accounts_service.revoke_api_key(session, user=owner.user, key_id=key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
