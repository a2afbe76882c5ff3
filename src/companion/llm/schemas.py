"""LLM usage reports: a learner's month, and the operator's costs by feature, model and user."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class UsageTotals(BaseModel):
    """Tokens, cost and number of calls over a period."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


class FeatureUsage(UsageTotals):
    """One feature's share of the totals."""

    feature: str


class MyUsage(BaseModel):
    """The learner's LLM usage this calendar month (UTC), by feature and in total, and the budget left."""

    month: str = Field(description="The calendar month counted, YYYY-MM (UTC).")
    period_start: datetime
    period_end: datetime
    tier: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    calls: int
    by_feature: list[FeatureUsage]
    budget_usd: float = Field(description="The monthly budget of your plan.")
    budget_left_usd: float = Field(description="What is left this month; premium features stop at zero.")


class ModelUsage(UsageTotals):
    """One model's share of the totals."""

    provider: str
    model: str


class UserUsage(UsageTotals):
    """One learner's share of the totals."""

    user_id: uuid.UUID
    email: str


class LLMCostReport(BaseModel):
    """The operator's view of LLM spend over a period: by feature, model and user, with outcomes."""

    period_start: datetime
    period_end: datetime
    total: UsageTotals
    by_outcome: dict[str, int] = Field(description="Calls per outcome (success, error, budget_exceeded).")
    by_feature: list[FeatureUsage]
    by_model: list[ModelUsage]
    by_user: list[UserUsage] = Field(description="The learners who spent most, highest first.")
