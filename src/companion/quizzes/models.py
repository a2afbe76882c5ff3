"""The quiz attempt table; quizzes themselves are content, not rows."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
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

ATTEMPT_STATUSES = ("started", "submitted")


class QuizAttempt(UUIDPrimaryKey, Base):
    """The Nth attempt of one learner at one quiz: started, then submitted and graded."""

    __tablename__ = "quiz_attempts"
    __table_args__ = (
        UniqueConstraint(
            "user_id", "course_id", "quiz_id", "attempt_number", name="uq_quiz_attempts_user_quiz_number"
        ),
        CheckConstraint("score IS NULL OR (score >= 0 AND score <= 100)", name="score_range"),
        CheckConstraint(
            "correct_answers >= 0 AND correct_answers <= total_questions", name="correct_le_total"
        ),
        CheckConstraint("attempt_number >= 1", name="attempt_number_positive"),
        CheckConstraint(sql_in("status", ATTEMPT_STATUSES), name="status"),
        Index("ix_quiz_attempts_user_id_quiz_id", "user_id", "quiz_id"),
        Index("ix_quiz_attempts_submitted_at", "submitted_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[str] = mapped_column(String(100))
    quiz_id: Mapped[str] = mapped_column(String(100))
    chapter_id: Mapped[str] = mapped_column(String(100))
    content_version: Mapped[str | None] = mapped_column(String(80))
    attempt_number: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="started")
    score: Mapped[float | None] = mapped_column(Numeric(5, 2, asdecimal=False))
    total_questions: Mapped[int] = mapped_column(Integer)
    correct_answers: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pending_questions: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    grading_details: Mapped[dict[str, Any] | None]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    deadline_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None]
    time_taken_seconds: Mapped[int | None] = mapped_column(Integer)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    is_late: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
