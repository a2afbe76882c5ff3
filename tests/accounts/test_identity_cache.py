"""The identity cache of the read routes: a change ends access at once in this process, and within
IDENTITY_TTL_SECONDS when another process made it (here: SQL on its own connection, which no session
of this process sees). The cache's clock is a controllable one, so the bound is shown without sleeping."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Update, inspect, update
from sqlalchemy.ext.asyncio import AsyncSession

from companion.accounts.identity_cache import IDENTITY_CACHE, IDENTITY_TTL_SECONDS
from companion.accounts.models import ApiKey, RefreshToken, User
from companion.billing import service as billing_service
from companion.oauth import service as oauth_service
from companion.oauth.models import OAuthGrant
from tests.conftest import SignUp
from tests.security.test_scope_escalation import api_key, bearer, oauth_token

COURSE = "/api/v1/courses/genai-fundamentals"
FREE_CHAPTER = f"{COURSE}/chapters/01-intro-genai"
PREMIUM_CHAPTER = f"{COURSE}/chapters/04-rag"


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The identity cache's clock, under the test's control (and the cache empty)."""
    controlled = Clock()
    monkeypatch.setattr(IDENTITY_CACHE, "clock", controlled)
    IDENTITY_CACHE.clear()
    return controlled


async def _status(client: httpx.AsyncClient, headers: dict[str, str], path: str = FREE_CHAPTER) -> int:
    return (await client.get(path, headers=headers)).status_code


async def _elsewhere(app: FastAPI, statement: Update) -> None:
    """A change made by another process: a Core statement on a connection of its own, no ORM session."""
    async with app.state.engine.begin() as connection:
        await connection.execute(statement)


async def _stale_for_at_most_the_ttl(
    client: httpx.AsyncClient,
    clock: Clock,
    headers: dict[str, str],
    refused: int,
    path: str = FREE_CHAPTER,
) -> None:
    # Another process's change is not seen while the entry is fresh: that is the stated bound...
    clock.advance(IDENTITY_TTL_SECONDS - 0.01)
    assert await _status(client, headers, path) == 200
    # ...and not a moment longer.
    clock.advance(0.02)
    assert await _status(client, headers, path) == refused


async def test_logout_ends_cached_reads(
    app: FastAPI, client: httpx.AsyncClient, sign_up: SignUp, clock: Clock
) -> None:
    learner = await sign_up()
    assert await _status(client, learner["headers"]) == 200
    assert await _status(client, learner["headers"]) == 200  # now from the cache
    logout = await client.post("/api/v1/auth/logout", json={"refresh_token": learner["refresh_token"]})
    assert logout.status_code == 204
    assert await _status(client, learner["headers"]) == 401

    login = await client.post(
        "/api/v1/auth/login", json={"email": learner["user"]["email"], "password": learner["password"]}
    )
    headers = bearer(login.json()["access_token"])
    assert await _status(client, headers) == 200
    tokens = RefreshToken.__table__
    user_id = uuid.UUID(learner["user"]["id"])
    await _elsewhere(
        app, update(tokens).where(tokens.c.user_id == user_id).values(revoked_at=datetime.now(UTC))
    )
    await _stale_for_at_most_the_ttl(client, clock, headers, refused=401)


async def test_revoked_api_key_ends_cached_reads(
    app: FastAPI, client: httpx.AsyncClient, sign_up: SignUp, clock: Clock
) -> None:
    learner = await sign_up()
    key = await api_key(client, learner["headers"], scopes=["content:read"])
    assert await _status(client, bearer(key["key"])) == 200
    revoked = await client.delete(f"/api/v1/me/api-keys/{key['id']}", headers=learner["headers"])
    assert revoked.status_code == 204
    assert await _status(client, bearer(key["key"])) == 401

    other = await api_key(client, learner["headers"], scopes=["content:read"])
    assert await _status(client, bearer(other["key"])) == 200
    keys = ApiKey.__table__
    await _elsewhere(
        app, update(keys).where(keys.c.id == uuid.UUID(other["id"])).values(revoked_at=datetime.now(UTC))
    )
    await _stale_for_at_most_the_ttl(client, clock, bearer(other["key"]), refused=401)


async def test_revoked_oauth_token_ends_cached_reads(
    app: FastAPI, client: httpx.AsyncClient, sign_up: SignUp, db_session: AsyncSession, clock: Clock
) -> None:
    learner = await sign_up()
    token = await oauth_token(app, db_session, learner["user"]["id"], ["content:read"])
    assert await _status(client, bearer(token)) == 200
    await oauth_service.revoke_token(db_session, token)  # the assistant unlinks, in this process
    await db_session.commit()
    assert await _status(client, bearer(token)) == 401

    other = await oauth_token(app, db_session, learner["user"]["id"], ["content:read"])
    assert await _status(client, bearer(other)) == 200
    grants = OAuthGrant.__table__
    user_id = uuid.UUID(learner["user"]["id"])
    await _elsewhere(
        app, update(grants).where(grants.c.user_id == user_id).values(revoked_at=datetime.now(UTC))
    )
    await _stale_for_at_most_the_ttl(client, clock, bearer(other), refused=401)


async def test_deleted_or_disabled_account_ends_cached_reads(
    app: FastAPI, client: httpx.AsyncClient, sign_up: SignUp, clock: Clock
) -> None:
    learner = await sign_up()
    assert await _status(client, learner["headers"]) == 200
    assert (await client.delete("/api/v1/me", headers=learner["headers"])).status_code == 204
    assert await _status(client, learner["headers"]) == 401

    other = await sign_up()
    assert await _status(client, other["headers"]) == 200
    cached = IDENTITY_CACHE.get(other["access_token"])
    assert cached is not None and inspect(cached.user).detached  # shared, read-only, in no session
    users = User.__table__
    await _elsewhere(
        app, update(users).where(users.c.id == uuid.UUID(other["user"]["id"])).values(is_active=False)
    )
    # Routes that require a caller never use the cache: they load the user in their own transaction.
    assert await _status(client, other["headers"], "/api/v1/me") == 401
    await _stale_for_at_most_the_ttl(client, clock, other["headers"], refused=401)


async def test_tier_downgrade_gates_cached_reads(
    app: FastAPI, client: httpx.AsyncClient, sign_up: SignUp, db_session: AsyncSession, clock: Clock
) -> None:
    learner = await sign_up()
    user = await db_session.get_one(User, uuid.UUID(learner["user"]["id"]))
    assert await _status(client, learner["headers"], PREMIUM_CHAPTER) == 403  # cached as free
    await billing_service.change_tier(db_session, user=user, tier="premium")
    await db_session.commit()
    assert await _status(client, learner["headers"], PREMIUM_CHAPTER) == 200  # the upgrade, at once
    await billing_service.change_tier(db_session, user=user, tier="free")
    await db_session.commit()
    response = await client.get(PREMIUM_CHAPTER, headers=learner["headers"])
    assert response.status_code == 403 and response.json()["error"]["code"] == "upgrade_required"

    await billing_service.change_tier(db_session, user=user, tier="premium")
    await db_session.commit()
    assert await _status(client, learner["headers"], PREMIUM_CHAPTER) == 200
    users = User.__table__
    await _elsewhere(app, update(users).where(users.c.id == user.id).values(subscription_tier="free"))
    await _stale_for_at_most_the_ttl(client, clock, learner["headers"], refused=403, path=PREMIUM_CHAPTER)


async def test_upgrade_made_elsewhere_opens_gated_content_at_once(
    app: FastAPI, client: httpx.AsyncClient, sign_up: SignUp, clock: Clock
) -> None:
    # A refusal is never served from the cache: an administrator's `users set-tier` in another
    # process (or a payment seen by another worker) counts on the very next read.
    learner = await sign_up()
    assert await _status(client, learner["headers"], PREMIUM_CHAPTER) == 403  # cached as free
    users = User.__table__
    user_id = uuid.UUID(learner["user"]["id"])
    await _elsewhere(app, update(users).where(users.c.id == user_id).values(subscription_tier="premium"))
    assert await _status(client, learner["headers"], PREMIUM_CHAPTER) == 200
    assert await _status(client, learner["headers"], f"{COURSE}/quizzes/04-quiz") == 200
