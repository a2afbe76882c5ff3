"""The administrator's analytics endpoint."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from companion.accounts.policies import AdminDep
from companion.analytics import service as analytics_service
from companion.analytics.schemas import AnalyticsReport
from companion.content.dependencies import CatalogDep
from companion.db import utcnow
from companion.dependencies import CacheDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["admin"])

REPORT_TTL = 300


@router.get("/admin/analytics", response_model=AnalyticsReport)
async def analytics(
    admin: AdminDep,
    session: SessionDep,
    catalog: CatalogDep,
    cache: CacheDep,
    days: Annotated[
        int, Query(ge=1, le=365, description="The window for activity, quizzes and conversions.")
    ] = 30,
    fresh: Annotated[bool, Query(description="Skip the 5-minute cache.")] = False,
) -> AnalyticsReport:
    """Active learners, retention and churn, chapter funnel, quiz pass rates, most-missed questions, tiers."""
    key = f"analytics:{days}"
    if not fresh and (cached := await cache.get(key)) is not None:
        return AnalyticsReport.model_validate(cached)
    report = await analytics_service.build_report(session, packs=catalog.packs(), days=days, now=utcnow())
    await cache.set(key, report.model_dump(mode="json"), REPORT_TTL)
    return report
