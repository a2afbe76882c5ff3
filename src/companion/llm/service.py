"""The LLM ledger's reports: a learner's spend this month against their budget, the operator's costs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from companion.accounts.models import TIERS, User
from companion.config import Settings
from companion.llm.models import LLMUsage
from companion.llm.schemas import (
    FeatureUsage,
    LLMCostReport,
    ModelUsage,
    MyUsage,
    UsageTotals,
    UserUsage,
)

TOP_USERS = 50


def as_utc(moment: datetime) -> datetime:
    """A datetime in UTC; a naive one is taken to be UTC already."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def month_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The start of `now`'s calendar month (UTC) and of the next one."""
    start = as_utc(now).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


def monthly_budget(settings: Settings, tier: str) -> float:
    """A tier's monthly LLM budget in USD; a tier not configured inherits the nearest one below it."""
    for candidate in reversed(TIERS[: TIERS.index(tier) + 1]):
        if candidate in settings.llm_monthly_budget_usd:
            return float(settings.llm_monthly_budget_usd[candidate])
    return 0.0


async def spent_this_month(session: AsyncSession, *, user_id: uuid.UUID, now: datetime) -> float:
    """What the learner's LLM calls cost this calendar month, in USD."""
    start, end = month_bounds(now)
    total = await session.scalar(
        select(func.coalesce(func.sum(LLMUsage.cost_usd), 0.0)).where(
            LLMUsage.user_id == user_id, LLMUsage.created_at >= start, LLMUsage.created_at < end
        )
    )
    return float(total or 0.0)


def _totals_columns() -> list[Any]:
    return [
        func.count().label("calls"),
        func.coalesce(func.sum(LLMUsage.input_tokens), 0).label("input_tokens"),
        func.coalesce(func.sum(LLMUsage.output_tokens), 0).label("output_tokens"),
        func.coalesce(func.sum(LLMUsage.cost_usd), 0.0).label("cost_usd"),
    ]


def _totals(row: Any) -> dict[str, Any]:
    return {
        "calls": int(getattr(row, "calls", 0) or 0),
        "input_tokens": int(getattr(row, "input_tokens", 0) or 0),
        "output_tokens": int(getattr(row, "output_tokens", 0) or 0),
        "cost_usd": round(float(getattr(row, "cost_usd", 0.0) or 0.0), 6),
    }


async def my_usage(
    session: AsyncSession, *, user: User, tier: str, settings: Settings, now: datetime
) -> MyUsage:
    """The learner's tokens and cost this month, by feature and in total, and the budget left."""
    start, end = month_bounds(now)
    rows = await session.execute(
        select(LLMUsage.feature, *_totals_columns())
        .where(LLMUsage.user_id == user.id, LLMUsage.created_at >= start, LLMUsage.created_at < end)
        .group_by(LLMUsage.feature)
        .order_by(LLMUsage.feature)
    )
    by_feature = [FeatureUsage(feature=row.feature, **_totals(row)) for row in rows]
    total = UsageTotals(
        calls=sum(item.calls for item in by_feature),
        input_tokens=sum(item.input_tokens for item in by_feature),
        output_tokens=sum(item.output_tokens for item in by_feature),
        cost_usd=round(sum(item.cost_usd for item in by_feature), 6),
    )
    budget = monthly_budget(settings, tier)
    return MyUsage(
        month=start.strftime("%Y-%m"),
        period_start=start,
        period_end=end,
        tier=tier,
        **total.model_dump(),
        by_feature=by_feature,
        budget_usd=budget,
        budget_left_usd=round(max(budget - total.cost_usd, 0.0), 6),
    )


async def cost_report(session: AsyncSession, *, start: datetime, end: datetime) -> LLMCostReport:
    """LLM calls between `start` and `end` by feature, model, user and outcome."""
    in_period = (LLMUsage.created_at >= start, LLMUsage.created_at < end)
    features = await session.execute(
        select(LLMUsage.feature, *_totals_columns())
        .where(*in_period)
        .group_by(LLMUsage.feature)
        .order_by(LLMUsage.feature)
    )
    models = await session.execute(
        select(LLMUsage.provider, LLMUsage.model, *_totals_columns())
        .where(*in_period)
        .group_by(LLMUsage.provider, LLMUsage.model)
        .order_by(LLMUsage.provider, LLMUsage.model)
    )
    cost = func.coalesce(func.sum(LLMUsage.cost_usd), 0.0)
    users = await session.execute(
        select(LLMUsage.user_id, User.email, *_totals_columns())
        .join(User, User.id == LLMUsage.user_id)
        .where(*in_period)
        .group_by(LLMUsage.user_id, User.email)
        .order_by(cost.desc(), User.email)
        .limit(TOP_USERS)
    )
    outcomes = await session.execute(
        select(LLMUsage.outcome, func.count()).where(*in_period).group_by(LLMUsage.outcome)
    )
    total = (await session.execute(select(*_totals_columns()).where(*in_period))).one()
    return LLMCostReport(
        period_start=start,
        period_end=end,
        total=UsageTotals(**_totals(total)),
        by_outcome={outcome: int(count) for outcome, count in outcomes},
        by_feature=[FeatureUsage(feature=row.feature, **_totals(row)) for row in features],
        by_model=[ModelUsage(provider=row.provider, model=row.model, **_totals(row)) for row in models],
        by_user=[UserUsage(user_id=row.user_id, email=row.email, **_totals(row)) for row in users],
    )
