"""Health, readiness, request ids, OpenAPI and the one error body."""

from __future__ import annotations

import httpx


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "content": "ok", "cache": "ok"}}


async def test_request_id_is_echoed_or_assigned(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz", headers={"X-Request-ID": "abc123"})).headers[
        "x-request-id"
    ] == "abc123"
    assert len((await client.get("/healthz")).headers["x-request-id"]) == 32


async def test_unknown_route_and_bad_json_use_the_error_body(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    broken = await client.post(
        "/api/v1/auth/login", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 422 and broken.json()["error"]["code"] == "validation_error"


async def test_openapi_documents_the_api(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/api/v1/auth/login" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200
