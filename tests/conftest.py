"""Shared fixtures: one migrated database per run (SQLite, or PostgreSQL + Redis), a client per test.

The engine comes from COMPANION_TEST_DATABASE: "sqlite" (default) or "postgresql". With
CI=true an unreachable PostgreSQL or Redis fails the run instead of skipping it.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from companion.accounts.identity_cache import IDENTITY_CACHE
from companion.app import create_app
from companion.bootstrap import prepare_data
from companion.config import Settings
from companion.content import public_cache
from companion.db import Base, create_engine, create_sessionmaker

BACKEND = os.environ.get("COMPANION_TEST_DATABASE", "sqlite")
POSTGRES_URL = os.environ.get(
    "COMPANION_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("COMPANION_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(message: str) -> None:
    if IN_CI:
        pytest.exit(f"required service missing under CI: {message}", returncode=3)
    pytest.skip(message)


def run_sync(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine to completion on a private thread (usable while a loop is running)."""
    result: dict[str, Any] = {}

    def _target() -> None:
        result["value"] = asyncio.run(coroutine)

    thread = threading.Thread(target=_target)
    thread.start()
    thread.join()
    return result.get("value")


async def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def _check_redis(url: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url, socket_connect_timeout=1)
    try:
        await client.ping()
        await client.flushdb()
    finally:
        await client.aclose()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Test settings on a fresh data dir, a freshly migrated database and the shipped course published."""
    data_dir: Path = tmp_path_factory.mktemp("data")
    database_url: str | None = None
    redis_url: str | None = None
    if BACKEND == "postgresql":
        try:
            run_sync(_reset_postgres(POSTGRES_URL))
        except Exception as error:
            _unavailable(f"PostgreSQL at {POSTGRES_URL}: {error}")
        try:
            run_sync(_check_redis(REDIS_URL))
        except Exception as error:
            _unavailable(f"Redis at {REDIS_URL}: {error}")
        database_url, redis_url = POSTGRES_URL, REDIS_URL
    test_settings = Settings(
        environment="test",
        data_dir=data_dir,
        database_url=database_url,
        redis_url=redis_url,
        jwt_secret="test-secret-" + "x" * 40,
        run_jobs=False,
        _env_file=None,  # type: ignore[call-arg]
    )
    # Migrated database plus the shipped course published to the test content store.
    prepare_data(test_settings, echo=lambda _line: None)
    return test_settings


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The application, started once for the run."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


async def _clean(app: FastAPI) -> None:
    engine = app.state.engine
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        else:
            for table in tables:
                await connection.execute(text(f"DELETE FROM {table}"))
    cache = app.state.cache
    if hasattr(cache, "_redis"):
        await cache._redis.flushdb()
    else:
        await cache.close()
    await app.state.limiter.reset()
    IDENTITY_CACHE.clear()
    public_cache.clear()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on an empty database."""
    await _clean(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http_client:
        yield http_client


@pytest.fixture
async def db_session(app: FastAPI, client: httpx.AsyncClient) -> AsyncIterator[AsyncSession]:
    """A session on the test database for service-level tests (committed by the test when needed)."""
    async with create_sessionmaker(app.state.engine)() as session:
        yield session


SignUp = Callable[..., Coroutine[Any, Any, dict[str, Any]]]


@pytest.fixture
def sign_up(client: httpx.AsyncClient) -> SignUp:
    """Register a learner through the API; returns the token pair body plus `headers`."""
    counter = {"n": 0}

    async def _sign_up(
        email: str | None = None, password: str = "correct horse battery", **fields: Any
    ) -> dict[str, Any]:
        counter["n"] += 1
        body = {
            "email": email or f"learner{counter['n']}@example.com",
            "password": password,
            "full_name": "Ada Learner",
            "timezone": "UTC",
            "software_experience": "beginner",
            "hardware_experience": "none",
            **fields,
        }
        response = await client.post("/api/v1/auth/register", json=body)
        assert response.status_code == 201, response.text
        tokens: dict[str, Any] = response.json()
        tokens["headers"] = {"Authorization": f"Bearer {tokens['access_token']}"}
        tokens["password"] = password
        return tokens

    return _sign_up
