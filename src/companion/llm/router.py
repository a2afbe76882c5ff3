"""LLM usage endpoints: your spend this month against your budget, and the operator's cost report."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from companion.access import service as access_service
from companion.accounts.policies import AdminDep, ReaderDep
from companion.db import utcnow
from companion.dependencies import SessionDep, SettingsDep
from companion.errors import ValidationFailed
from companion.llm import service as llm_service
from companion.llm.schemas import LLMCostReport, MyUsage

router = APIRouter(prefix="/api/v1", tags=["premium"])


@router.get("/me/usage", response_model=MyUsage)
async def my_usage(reader: ReaderDep, session: SessionDep, settings: SettingsDep) -> MyUsage:
    """Your AI feature usage this month: tokens and cost by feature and in total, and budget left."""
    return await llm_service.my_usage(
        session, user=reader.user, tier=access_service.tier_of(reader.user), settings=settings, now=utcnow()
    )


@router.get(
    "/admin/llm-costs",
    response_model=LLMCostReport,
    responses={403: {"description": "forbidden: administrators only"}},
)
async def llm_costs(
    _admin: AdminDep,
    session: SessionDep,
    start: Annotated[datetime | None, Query(description="From (UTC); this month's start by default.")] = None,
    end: Annotated[
        datetime | None, Query(description="Until (UTC, exclusive); next month's by default.")
    ] = None,
) -> LLMCostReport:
    """LLM calls, tokens and cost by feature, model and learner over a period (this month by default)."""
    month_start, month_end = llm_service.month_bounds(utcnow())
    period_start = llm_service.as_utc(start) if start else month_start
    period_end = llm_service.as_utc(end) if end else month_end
    if period_end <= period_start:
        raise ValidationFailed("'end' must be after 'start'.", details={"start": str(start), "end": str(end)})
    return await llm_service.cost_report(session, start=period_start, end=period_end)
