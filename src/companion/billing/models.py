"""The subscription table: one row per user, mirrored on users.subscription_tier."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from companion.access.tiers import TIERS
from companion.db import Base, UUIDPrimaryKey, sql_in, utcnow

STATUSES = ("active", "expired", "canceled")


class Subscription(UUIDPrimaryKey, Base):
    """A learner's tier, its status and its payment reference."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint(sql_in("tier", TIERS), name="tier"),
        CheckConstraint(sql_in("status", STATUSES), name="status"),
        Index("ix_subscriptions_expires_at", "expires_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    tier: Mapped[str] = mapped_column(String(20), default="free")
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    payment_provider: Mapped[str | None] = mapped_column(String(50))
    payment_id: Mapped[str | None] = mapped_column(String(255))
    auto_renew: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    canceled_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
