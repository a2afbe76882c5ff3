"""The LLM usage ledger: one row per LLM call, for cost reports and per-user budgets."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, Numeric, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from companion.db import Base, UUIDPrimaryKey, sql_in, utcnow

OUTCOMES = ("success", "error", "budget_exceeded", "unavailable")


class LLMUsage(UUIDPrimaryKey, Base):
    """Tokens, cost and latency of one LLM call made for one user and feature."""

    __tablename__ = "llm_usage"
    __table_args__ = (
        CheckConstraint(sql_in("outcome", OUTCOMES), name="outcome"),
        CheckConstraint("input_tokens >= 0 AND output_tokens >= 0", name="tokens_positive"),
        CheckConstraint("cost_usd >= 0", name="cost_positive"),
        Index("ix_llm_usage_user_id_created_at", "user_id", "created_at"),
        Index("ix_llm_usage_feature_created_at", "feature", "created_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    feature: Mapped[str] = mapped_column(String(50))
    provider: Mapped[str] = mapped_column(String(50))
    model: Mapped[str] = mapped_column(String(100))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Numeric(12, 6, asdecimal=False), default=0.0)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
