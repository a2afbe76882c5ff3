"""The learning-path recommendation table: one active recommendation per user."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from companion.db import Base, UUIDPrimaryKey, sql_in, utcnow


class LearningPathRecommendation(UUIDPrimaryKey, Base):
    """An ordered list of chapters with a reason each, valid for 7 days or until the background changes."""

    __tablename__ = "learning_path_recommendations"
    __table_args__ = (
        CheckConstraint(sql_in("generator", ("rules", "llm")), name="generator"),
        Index("ix_learning_path_recommendations_user_id", "user_id"),
        Index("ix_learning_path_recommendations_expires_at", "expires_at"),
        # The database itself guarantees at most one active recommendation per user.
        Index(
            "uq_learning_path_recommendations_one_active",
            "user_id",
            unique=True,
            postgresql_where=text("is_active"),
            sqlite_where=text("is_active"),
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[str] = mapped_column(String(100))
    recommended_chapters: Mapped[list[Any]]
    rationale: Mapped[str | None] = mapped_column(Text)
    software_experience: Mapped[str] = mapped_column(String(20))
    hardware_experience: Mapped[str] = mapped_column(String(20))
    generator: Mapped[str] = mapped_column(String(20), default="rules", server_default="rules")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
