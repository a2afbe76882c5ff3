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


@router.get("/readyz")
async def readyz(request: Request, _public: PublicDep) -> JSONResponse:
    """The database and the cache answer; 503 names whichever does not."""
    checks: dict[str, Any] = {}
    try:
        async with request.app.state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:  # any driver error means not ready
        checks["database"] = f"unavailable: {type(error).__name__}"
    checks["cache"] = "ok" if await request.app.state.cache.ping() else "unavailable"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks}, status_code=200 if ready else 503
    )
