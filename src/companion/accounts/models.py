"""Account tables: users, refresh tokens and API keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from companion.access.tiers import TIERS
from companion.db import Base, UUIDPrimaryKey, sql_in, utcnow

SOFTWARE_LEVELS = ("beginner", "intermediate", "advanced")
HARDWARE_LEVELS = ("none", "hobbyist", "professional")
ROLES = ("learner", "admin")


class User(UUIDPrimaryKey, Base):
    """A learner or administrator; emails are stored lower-cased so comparison ignores case."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(sql_in("software_experience", SOFTWARE_LEVELS), name="software_experience"),
        CheckConstraint(sql_in("hardware_experience", HARDWARE_LEVELS), name="hardware_experience"),
        CheckConstraint(sql_in("role", ROLES), name="role"),
        CheckConstraint(sql_in("subscription_tier", TIERS), name="subscription_tier"),
        Index("ix_users_subscription_tier", "subscription_tier"),
        Index("ix_users_last_active_at", "last_active_at"),
        Index("ix_users_created_at", "created_at"),
    )

    email: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    full_name: Mapped[str | None] = mapped_column(String(255))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    preferences: Mapped[dict[str, Any]] = mapped_column(default=dict)
    software_experience: Mapped[str] = mapped_column(
        String(20), default="beginner", server_default="beginner"
    )
    hardware_experience: Mapped[str] = mapped_column(String(20), default="none", server_default="none")
    role: Mapped[str] = mapped_column(String(20), default="learner", server_default="learner")
    # Mirrors subscriptions.tier; the billing service keeps the two in step.
    subscription_tier: Mapped[str] = mapped_column(String(20), default="free", server_default="free")
    subscription_expires_at: Mapped[datetime | None]
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_login_at: Mapped[datetime | None]
    last_active_at: Mapped[datetime | None]


class RefreshToken(UUIDPrimaryKey, Base):
    """A rotating refresh token; only its hash is stored. A family shares one login."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_user_id", "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class ApiKey(UUIDPrimaryKey, Base):
    """A per-user API key for machine clients (MCP, scripts); only its hash is stored."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_user_id", "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
