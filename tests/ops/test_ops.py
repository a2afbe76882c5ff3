"""Health, readiness, request ids, OpenAPI and the one error body."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from companion.content import service as content_service

CHAPTER = "/api/v1/courses/genai-fundamentals/chapters/01-intro-genai"


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "ok", "content": "ok", "cache": "ok", "search": "ok"},
    }


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


async def test_an_unexpected_error_answers_500_with_the_request_id(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(content_service, "get_chapter", broken)
    # The error is answered by Starlette's outermost middleware, which then re-raises it.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get(CHAPTER, headers={"X-Request-ID": "trace-500"})
        assigned = await http.get(CHAPTER)
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "internal_error" and error["details"] == {"request_id": "trace-500"}
    assert response.headers["x-request-id"] == "trace-500"
    request_id = assigned.json()["error"]["details"]["request_id"]
    assert len(request_id) == 32 and assigned.headers["x-request-id"] == request_id
