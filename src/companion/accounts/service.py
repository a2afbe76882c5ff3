"""Accounts: sign-up, sign-in with rotating refresh tokens, profile, password, deletion, API keys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Uuid, bindparam, exists, false, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from companion import cache as cache_keys
from companion.accounts import security
from companion.accounts.exceptions import EmailTaken, InvalidCredentials, InvalidRefreshToken
from companion.accounts.models import ApiKey, RefreshToken, User
from companion.accounts.schemas import ApiKeyCreate, TokenPair, UserCreate, UserRead, UserUpdate
from companion.billing import seats as billing_seats
from companion.billing import service as billing_service
from companion.cache import Cache
from companion.config import Settings
from companion.errors import Forbidden, NotFound, RateLimited, Unauthorized, ValidationFailed
from companion.premium import service as premium_service
from companion.ratelimit import RateLimiter
from companion.recommendations import service as recommendations_service


def normalize_email(email: str) -> str:
    """Emails compare case-insensitively, so they are stored lower-cased."""
    return email.strip().lower()


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    """The user with this email, whatever its case."""
    result = await session.execute(select(User).where(User.email == normalize_email(email)))
    return result.scalar_one_or_none()


async def get_active_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    """The user with this id if the account is active."""
    user = await session.get(User, user_id)
    return user if user is not None and user.is_active else None


# Every signed-in request runs one of these, so they are built once (building one costs more CPU
# than running it): the user, and whether the login the token belongs to was logged out.
_USER_BY_ID = bindparam("signed_in_user_id", type_=Uuid())
_SIGNED_IN_USER = select(User, false()).where(User.id == _USER_BY_ID)
_SIGNED_IN_USER_AND_LOGIN = select(
    User,
    ~exists().where(
        RefreshToken.family_id == bindparam("signed_in_family", type_=Uuid()),
        RefreshToken.revoked_at.is_(None),
    ),
).where(User.id == _USER_BY_ID)


async def get_signed_in_user(
    session: AsyncSession, user_id: uuid.UUID, session_family: uuid.UUID | None
) -> tuple[User | None, bool]:
    """The active user with this id, and whether their login (`session_family`) was logged out.

    One query, not two: every signed-in request asks both.
    """
    if session_family is None:
        result = await session.execute(_SIGNED_IN_USER, {"signed_in_user_id": user_id})
    else:
        result = await session.execute(
            _SIGNED_IN_USER_AND_LOGIN, {"signed_in_user_id": user_id, "signed_in_family": session_family}
        )
    row = result.first()
    if row is None or not row[0].is_active:
        return None, False
    return row[0], bool(row[1])


async def register(session: AsyncSession, *, data: UserCreate) -> User:
    """Create a learner account on the free tier."""
    email = normalize_email(data.email)
    if await get_user_by_email(session, email) is not None:
        raise EmailTaken()
    user = User(
        email=email,
        password_hash=await security.hash_password(data.password),
        full_name=data.full_name,
        timezone=data.timezone,
        preferences=data.preferences.model_dump(),
        software_experience=data.software_experience,
        hardware_experience=data.hardware_experience,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as error:  # a concurrent sign-up with the same email won the race
        raise EmailTaken() from error
    await billing_service.create_free_subscription(session, user=user)
    return user


async def create_admin(session: AsyncSession, *, email: str, password: str, full_name: str | None) -> User:
    """Create an administrator, or promote the existing account with this email."""
    user = await get_user_by_email(session, email)
    if user is None:
        user = await register(
            session,
            data=UserCreate(
                email=email,
                password=password,
                full_name=full_name,
                software_experience="advanced",
                hardware_experience="none",
            ),
        )
    user.role = "admin"
    await session.flush()
    return user


async def authenticate(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    client_address: str,
    settings: Settings,
    limiter: RateLimiter,
) -> User:
    """Check credentials, with limits on failures per account and address, per account, per address.

    The per-address limit spans every email, so one address cannot try many accounts; the
    per-account limit spans every address, so many addresses cannot share the guessing of one.
    """
    account = normalize_email(email)
    per_pair = f"{settings.login_attempts_per_minute}/minute"
    across = f"{settings.login_failures_per_address_per_minute}/minute"
    limits = [
        (per_pair, ("login-failures", account, client_address)),
        (across, ("login-failures-account", account)),
        (across, ("login-failures-address", client_address)),
    ]
    for limit, keys in limits:
        if await limiter.is_exceeded(limit, *keys):
            raise RateLimited(
                "Too many failed sign-in attempts; wait a minute and try again.",
                details={"retry_after_seconds": 60},
            )
    user = await get_user_by_email(session, email)
    valid = await security.verify_password(password, user.password_hash if user else None)
    if user is None or not valid or not user.is_active:
        for limit, keys in limits:
            await limiter.hit(limit, *keys, message="Too many failed sign-in attempts; wait a minute.")
        raise InvalidCredentials()
    user.last_login_at = datetime.now(UTC)
    # Success forgets this account's failures, but not the address's: its other guesses still count.
    for limit, keys in limits[:2]:
        await limiter.clear(limit, *keys)
    return user


async def limit_signups(limiter: RateLimiter, *, settings: Settings, client_address: str) -> None:
    """Count a sign-up from this address; too many in an hour are refused."""
    await limiter.hit(
        f"{settings.signups_per_address_per_hour}/hour",
        "signups",
        client_address,
        message="Too many sign-ups from this address; try again later.",
    )


async def limit_refreshes(limiter: RateLimiter, *, settings: Settings, client_address: str) -> None:
    """Count a token refresh from this address; too many in a minute are refused."""
    await limiter.hit(
        f"{settings.refreshes_per_address_per_minute}/minute",
        "refreshes",
        client_address,
        message="Too many token refreshes from this address; wait a minute.",
    )


async def login(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    client_address: str,
    settings: Settings,
    limiter: RateLimiter,
) -> TokenPair:
    """Check credentials and issue an access token and a refresh token."""
    user = await authenticate(
        session,
        email=email,
        password=password,
        client_address=client_address,
        settings=settings,
        limiter=limiter,
    )
    return await issue_tokens(session, user=user, settings=settings)


async def issue_tokens(
    session: AsyncSession, *, user: User, settings: Settings, family_id: uuid.UUID | None = None
) -> TokenPair:
    """A new access token and a new refresh token in the given (or a new) token family."""
    family_id = family_id or uuid.uuid4()
    refresh_token = security.new_secret()
    session.add(
        RefreshToken(
            user_id=user.id,
            token_hash=security.hash_secret(refresh_token),
            family_id=family_id,
            expires_at=datetime.now(UTC) + timedelta(days=settings.refresh_token_days),
        )
    )
    lifetime = timedelta(minutes=settings.access_token_minutes)
    access_token, _ = security.create_access_token(
        user_id=user.id,
        role=user.role,
        secret=settings.signing_secret(),
        algorithm=settings.jwt_algorithm,
        lifetime=lifetime,
        session_family=family_id,
    )
    await session.flush()
    return TokenPair(
        access_token=access_token,
        refresh_token=refresh_token,
        expires_in=int(lifetime.total_seconds()),
        user=UserRead.model_validate(user),
    )


async def _find_refresh_token(session: AsyncSession, token: str) -> RefreshToken | None:
    result = await session.execute(
        select(RefreshToken).where(RefreshToken.token_hash == security.hash_secret(token))
    )
    return result.scalar_one_or_none()


async def _revoke_family(session: AsyncSession, family_id: uuid.UUID) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )


async def refresh(session: AsyncSession, *, refresh_token: str, settings: Settings) -> TokenPair:
    """Rotate a refresh token; presenting an already-rotated token revokes its whole family."""
    stored = await _find_refresh_token(session, refresh_token)
    now = datetime.now(UTC)
    if stored is None:
        raise InvalidRefreshToken()
    if stored.revoked_at is not None:
        # Reuse of a rotated token means it leaked: end every session of that login. This is the one
        # service that commits: the request is refused with an error, which rolls the request's
        # transaction back, and the revocation must survive that refusal.
        await _revoke_family(session, stored.family_id)
        await session.commit()
        raise InvalidRefreshToken()
    user = await get_active_user(session, stored.user_id)
    if stored.expires_at <= now or user is None:
        raise InvalidRefreshToken()
    stored.revoked_at = now
    return await issue_tokens(session, user=user, settings=settings, family_id=stored.family_id)


async def logout(session: AsyncSession, *, refresh_token: str) -> None:
    """Revoke the refresh token's login (its family), which also ends its access tokens."""
    stored = await _find_refresh_token(session, refresh_token)
    if stored is None:
        raise InvalidRefreshToken()
    await _revoke_family(session, stored.family_id)


async def update_profile(session: AsyncSession, *, user: User, data: UserUpdate) -> User:
    """Change profile fields; a new background invalidates personalised content and the learning path."""
    changes = data.model_dump(exclude_unset=True)
    # Only the name may be cleared; the other fields always hold a value (send one to change them).
    for field in ("software_experience", "hardware_experience", "timezone", "preferences"):
        if field in changes and changes[field] is None:
            raise ValidationFailed(f"'{field}' cannot be empty.", details={"field": field})
    if "preferences" in changes:
        changes["preferences"] = {**user.preferences, **changes["preferences"]}
    background_changed = any(
        field in changes and changes[field] != getattr(user, field)
        for field in ("software_experience", "hardware_experience")
    )
    for field, value in changes.items():
        setattr(user, field, value)
    if background_changed:
        await premium_service.invalidate_personalized_content(session, user_id=user.id)
        await recommendations_service.deactivate_active(session, user_id=user.id)
    await session.flush()
    return user


async def change_password(
    session: AsyncSession, *, user: User, current_password: str, new_password: str, settings: Settings
) -> TokenPair:
    """Replace the password, end every other login, and start a new one."""
    if not await security.verify_password(current_password, user.password_hash):
        raise Unauthorized("The current password is incorrect.")
    user.password_hash = await security.hash_password(new_password)
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    return await issue_tokens(session, user=user, settings=settings)


async def delete_account(session: AsyncSession, *, user: User, cache: Cache) -> None:
    """Delete the account and, by cascade, everything the learner owns."""
    user_id = user.id
    await billing_seats.release_team_seats(session, owner=user)  # seats end with their owner
    await session.delete(user)
    await session.flush()
    await cache.delete(
        cache_keys.progress_key(user_id),
        cache_keys.streak_key(user_id),
    )


async def create_api_key(
    session: AsyncSession, *, user: User, data: ApiKeyCreate, creator_scopes: frozenset[str]
) -> tuple[ApiKey, str]:
    """A new API key with at most the creating credential's scopes; the secret is returned once."""
    scopes = sorted(creator_scopes) if data.scopes is None else sorted({str(s) for s in data.scopes})
    beyond = [scope for scope in scopes if scope not in creator_scopes]
    if beyond:
        raise Forbidden(
            "A new API key cannot have scopes that the credential creating it lacks.",
            details={"scopes": beyond},
        )
    secret = security.new_secret(security.API_KEY_PREFIX)
    api_key = ApiKey(
        user_id=user.id,
        name=data.name,
        prefix=secret[:10],
        key_hash=security.hash_secret(secret),
        scopes=scopes,
    )
    session.add(api_key)
    await session.flush()
    return api_key, secret


async def list_api_keys(session: AsyncSession, *, user: User) -> list[ApiKey]:
    """The user's API keys, newest first."""
    result = await session.execute(
        select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.created_at.desc())
    )
    return list(result.scalars())


async def revoke_api_key(session: AsyncSession, *, user: User, key_id: uuid.UUID) -> None:
    """Revoke one of the user's API keys."""
    api_key = await session.get(ApiKey, key_id)
    if api_key is None or api_key.user_id != user.id:
        raise NotFound("No such API key.")
    api_key.revoked_at = api_key.revoked_at or datetime.now(UTC)
    await session.flush()


async def authenticate_api_key(session: AsyncSession, *, secret: str) -> tuple[User, list[str]]:
    """The user and scopes behind an API key; unknown or revoked keys raise Unauthorized."""
    result = await session.execute(select(ApiKey).where(ApiKey.key_hash == security.hash_secret(secret)))
    api_key = result.scalar_one_or_none()
    if api_key is None or api_key.revoked_at is not None:
        raise Unauthorized("The API key is invalid or revoked.")
    user = await get_active_user(session, api_key.user_id)
    if user is None:
        raise Unauthorized("The API key is invalid or revoked.")
    api_key.last_used_at = datetime.now(UTC)
    return user, list(api_key.scopes)
