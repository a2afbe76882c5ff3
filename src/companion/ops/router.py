"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from companion.accounts.policies import PublicDep

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
    ready = checks["database"] == "ok" and checks["content"] == "ok"
    status = ("ready" if checks["cache"] == "ok" else "degraded") if ready else "not_ready"
    return JSONResponse({"status": status, "checks": checks}, status_code=200 if ready else 503)
