"""Faults: Redis gone, PostgreSQL restarted, the vector index missing, the content store failing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from companion.cache import RedisCache
from companion.content.service import ContentCatalog
from companion.content.store import LocalContentStore
from companion.ratelimit import RateLimiter
from companion.search.engine import HybridIndex, vectors_file
from tests.conftest import SignUp

COURSE = "genai-fundamentals"
# Nothing listens on port 1: every Redis call is refused at once, as when Redis is stopped.
DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
async def redis_down(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[None]:
    """The cache and the limiter pointed at a Redis that does not answer, as if it stopped mid-run."""
    cache, limiter = RedisCache(DEAD_REDIS), RateLimiter(DEAD_REDIS)
    monkeypatch.setitem(app.state._state, "cache", cache)  # State keeps attributes in _state
    monkeypatch.setitem(app.state._state, "limiter", limiter)
    yield
    await cache.close()


@pytest.mark.usefixtures("redis_down")
async def test_with_redis_down_requests_succeed_and_limits_still_hold(
    client: httpx.AsyncClient, app: FastAPI, sign_up: SignUp, monkeypatch: pytest.MonkeyPatch
) -> None:
    learner = await sign_up()
    headers = learner["headers"]
    chapter = await client.get(f"/api/v1/courses/{COURSE}/chapters/02-llms")
    assert chapter.status_code == 200
    outline = (
        await client.get(f"/api/v1/courses/{COURSE}", params={"detail": "sections"}, headers=headers)
    ).json()
    section = outline["chapters"][0]["sections"][0]["section_id"]
    saved = await client.put(
        f"/api/v1/progress/{COURSE}/01-intro-genai", json={"section_id": section}, headers=headers
    )
    assert saved.status_code == 200
    dashboard = await client.get("/api/v1/progress", headers=headers)
    assert dashboard.status_code == 200 and dashboard.json()["courses"]

    ready = await client.get("/readyz")
    assert ready.status_code == 200, "a cache outage must not take the instance out of rotation"
    assert ready.json()["status"] == "degraded" and ready.json()["checks"]["cache"].startswith("degraded")

    # The limits fall back to this process's memory instead of letting everything through.
    limit = app.state.settings.login_attempts_per_minute
    body = {"email": learner["user"]["email"], "password": "wrong password"}
    statuses = [(await client.post("/api/v1/auth/login", json=body)).status_code for _ in range(limit + 1)]
    assert statuses == [401] * limit + [429]


async def test_search_without_its_vector_index_falls_back_to_lexical_and_says_so(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    pack = app.state.catalog.pack(COURSE)
    entry = await app.state.search.current(pack)
    embedder = entry.index.embedder
    if embedder is None:
        pytest.skip("the embedding model is not available in this environment")
    # The vectors of this version are gone (deleted, or a disk reset) while BM25 is still on disk.
    vectors = entry.index.index_dir / vectors_file(embedder.name)
    saved = vectors.read_bytes()
    vectors.unlink()
    try:
        reloaded = HybridIndex(
            collection=entry.index.collection, index_dir=entry.index.index_dir, embedder=embedder
        )
    finally:
        vectors.write_bytes(saved)  # the app is shared by the session's other tests
    monkeypatch.setattr(entry, "index", reloaded)

    response = await client.get("/api/v1/search", params={"q": "How does top-p sampling work?"})

    assert response.status_code == 200
    body = response.json()
    assert body["mode"] == "lexical"
    assert "not embedded" in body["degraded_reason"].lower()
    assert body["results"] and body["results"][0]["chapter_id"] == "02-llms"


class _FailingStore(LocalContentStore):
    """A content store whose every read fails, as an unreachable bucket does."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.failing = True

    def read(self, key: str) -> bytes | None:
        if self.failing:
            raise ConnectionError("content store unreachable")
        return super().read(key)

    def list_folders(self, prefix: str) -> list[str]:
        if self.failing:
            raise ConnectionError("content store unreachable")
        return super().list_folders(prefix)


async def test_a_content_store_error_is_a_clear_503_and_loaded_content_keeps_serving(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _FailingStore(app.state.settings.resolved_content_store_dir)

    # Content already loaded keeps serving while the store fails: a refresh error changes nothing.
    loaded: ContentCatalog = app.state.catalog
    monkeypatch.setattr(loaded, "_store", store)
    with pytest.raises(ConnectionError):
        await loaded.refresh()
    assert (await client.get(f"/api/v1/courses/{COURSE}/chapters/01-intro-genai")).status_code == 200
    monkeypatch.undo()

    # A process that never reached the store answers 503 with the error body, and says so when probed.
    cold = ContentCatalog(store)
    with pytest.raises(ConnectionError):
        await cold.refresh()
    monkeypatch.setitem(app.state._state, "catalog", cold)
    refused = await client.get(f"/api/v1/courses/{COURSE}/chapters/01-intro-genai")
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "service_unavailable"
    ready = await client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["content"].startswith("unavailable")

    # Once the store answers again, the next refresh brings the content back without a restart.
    store.failing = False
    assert await cold.refresh() == [COURSE]
    assert (await client.get(f"/api/v1/courses/{COURSE}/chapters/01-intro-genai")).status_code == 200


async def test_the_service_recovers_by_itself_after_postgresql_restarts(
    client: httpx.AsyncClient, app: FastAPI, sign_up: SignUp
) -> None:
    engine = app.state.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    learner = await sign_up()
    assert (await client.get("/api/v1/me", headers=learner["headers"])).status_code == 200

    # What a restart does to the pool: every server connection of this database is cut, from outside.
    outside = await asyncpg.connect(engine.url.set(drivername="postgresql").render_as_string(False))
    try:
        ended = await outside.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await outside.close()
    assert ended >= 1

    statuses = []
    for _ in range(5):
        statuses.append((await client.get("/api/v1/me", headers=learner["headers"])).status_code)
        await asyncio.sleep(0.2)
    assert statuses == [200] * 5, statuses
    ready = await client.get("/readyz")
    assert ready.status_code == 200
