"""Billing tables: one subscription per user (mirrored on users), its change history, provider events."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from companion.access.tiers import TIERS
from companion.db import Base, UUIDPrimaryKey, sql_in, utcnow

STATUSES = ("active", "expired", "canceled")
# Who made a change: a payment provider's event, an administrator (API or CLI), the learner, a job.
CHANGE_SOURCES = ("stripe", "admin", "learner", "job", "team", "signup")


class Subscription(UUIDPrimaryKey, Base):
    """A learner's tier, its status and its payment reference."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint(sql_in("tier", TIERS), name="tier"),
        CheckConstraint(sql_in("status", STATUSES), name="status"),
        CheckConstraint("seats IS NULL OR seats >= 1", name="seats_positive"),
        Index("ix_subscriptions_expires_at", "expires_at"),
        Index("ix_subscriptions_payment_id", "payment_id"),
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
    # Team plans: how many members the owner may seat.
    seats: Mapped[int | None] = mapped_column(Integer)
    provider_customer_id: Mapped[str | None] = mapped_column(String(255))
    # Creation time of the newest provider event applied: older events arriving late are not applied.
    provider_event_at: Mapped[datetime | None]
    payment_failed_at: Mapped[datetime | None]


class SubscriptionChange(UUIDPrimaryKey, Base):
    """One tier or status change, for audit and for conversion figures."""

    __tablename__ = "subscription_changes"
    __table_args__ = (
        CheckConstraint(sql_in("source", CHANGE_SOURCES), name="source"),
        Index("ix_subscription_changes_changed_at", "changed_at"),
        Index("ix_subscription_changes_user_id", "user_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    from_tier: Mapped[str] = mapped_column(String(20))
    to_tier: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class BillingEvent(Base):
    """A payment provider's webhook event, kept by id so a redelivery is never applied twice."""

    __tablename__ = "billing_events"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    provider: Mapped[str] = mapped_column(String(50))
    event_type: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # applied | stale (older than what is already applied) | ignored (nothing of ours)
    outcome: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))
