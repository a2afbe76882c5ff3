"""Liveness and readiness probes, and Prometheus metrics."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from companion import metrics
from companion.accounts.policies import PublicDep
from companion.dependencies import SettingsDep
from companion.errors import Forbidden, Unauthorized
from companion.search import service as search_service

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz(_public: PublicDep) -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={503: {"description": "not_ready: the database (or the course content) is unavailable."}},
)
async def readyz(request: Request, _public: PublicDep) -> JSONResponse:
    """Ready when the database answers and course content is loaded; a cache outage only degrades.

    Every request still succeeds without the cache (it falls back to the database, and rate limits to
    each process's memory), so a load balancer must keep sending traffic: the cache shows "degraded".
    So does search while an index is still being built, or without embeddings: it answers lexically.
    """
    checks: dict[str, Any] = {}
    try:
        async with request.app.state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:  # any driver error means not ready
        checks["database"] = f"unavailable: {type(error).__name__}"
    checks["content"] = "ok" if request.app.state.catalog.loaded else "unavailable: content store"
    checks["cache"] = "ok" if await request.app.state.cache.ping() else "degraded: using the database"
    if request.app.state.catalog.loaded:
        checks["search"] = await search_service.index_status(
            request.app.state.search, request.app.state.catalog.packs()
        )
    ready = checks["database"] == "ok" and checks["content"] == "ok"
    healthy = checks["cache"] == "ok" and checks.get("search") == "ok"
    status = ("ready" if healthy else "degraded") if ready else "not_ready"
    return JSONResponse({"status": status, "checks": checks}, status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response)
async def prometheus_metrics(request: Request, _public: PublicDep, settings: SettingsDep) -> Response:
    """Prometheus metrics; needs `Authorization: Bearer <COMPANION_METRICS_TOKEN>` when a token is set."""
    if settings.metrics_token:
        sent = request.headers.get("authorization", "")
        expected = f"Bearer {settings.metrics_token}"
        if not sent:
            raise Unauthorized("Send the metrics token as a bearer token.")
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            raise Forbidden("The metrics token is wrong.")
    elif settings.environment == "production":
        raise Forbidden("Metrics are not public in production: set COMPANION_METRICS_TOKEN to scrape them.")
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
