"""Learning-record tables: chapter progress, streaks and learning sessions."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from companion.db import Base, UUIDPrimaryKey, sql_in, utcnow

INTERFACES = ("web", "chatgpt", "api")


class ChapterProgress(UUIDPrimaryKey, Base):
    """How far one learner has got through one chapter of one course."""

    __tablename__ = "chapter_progress"
    __table_args__ = (
        UniqueConstraint(
            "user_id", "course_id", "chapter_id", name="uq_chapter_progress_user_course_chapter"
        ),
        CheckConstraint(
            "completion_percentage >= 0 AND completion_percentage <= 100", name="completion_range"
        ),
        CheckConstraint(
            "(completed AND completed_at IS NOT NULL) OR (NOT completed AND completed_at IS NULL)",
            name="completed_at_matches",
        ),
        CheckConstraint("time_spent_seconds >= 0", name="time_spent_positive"),
        Index("ix_chapter_progress_completed", "completed"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[str] = mapped_column(String(100))
    chapter_id: Mapped[str] = mapped_column(String(100))
    completed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    sections_read: Mapped[list[Any]] = mapped_column(default=list)
    last_section_id: Mapped[str | None] = mapped_column(String(100))
    time_spent_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    completion_percentage: Mapped[float] = mapped_column(
        Numeric(5, 2, asdecimal=False), default=0.0, server_default="0"
    )
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None]


class Streak(UUIDPrimaryKey, Base):
    """A learner's daily streak, counted in the learner's own time zone."""

    __tablename__ = "streaks"
    __table_args__ = (
        CheckConstraint("current_streak <= longest_streak", name="current_le_longest"),
        CheckConstraint("current_streak >= 0", name="current_positive"),
        CheckConstraint("total_active_days >= 0", name="total_positive"),
        Index("ix_streaks_current_streak", "current_streak"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    current_streak: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    longest_streak: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_activity_date: Mapped[date | None] = mapped_column(Date)
    last_activity_at: Mapped[datetime | None]
    total_active_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A held freeze (premium) covers exactly one missed day, then is consumed.
    streak_frozen: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    freeze_used_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LearningSession(UUIDPrimaryKey, Base):
    """One sitting of a learner in one interface (web, ChatGPT, API)."""

    __tablename__ = "learning_sessions"
    __table_args__ = (
        CheckConstraint(sql_in("interface", INTERFACES), name="interface"),
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ended_after_started"),
        CheckConstraint("interaction_count >= 0", name="interactions_positive"),
        Index("ix_learning_sessions_user_id", "user_id"),
        Index("ix_learning_sessions_started_at", "started_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    interface: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    interaction_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    chapters_accessed: Mapped[list[Any]] = mapped_column(default=list)
    quizzes_taken: Mapped[list[Any]] = mapped_column(default=list)
    session_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
