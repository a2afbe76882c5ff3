"""Daily roll-ups of the learning record, refreshed by the `refresh-analytics` job.

The report reads these small tables instead of scanning a million attempts (and their grading
details) on every request.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import Date, Float, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from companion.db import Base


class ActivityDay(Base):
    """A learner was active on this UTC day."""

    __tablename__ = "analytics_activity_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class QuizDay(Base):
    """Submitted attempts at one quiz on one UTC day."""

    __tablename__ = "analytics_quiz_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    course_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    quiz_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    passed: Mapped[int] = mapped_column(Integer)
    score_total: Mapped[float] = mapped_column(Float)


class QuestionMissDay(Base):
    """How often one question was answered wrong on one UTC day."""

    __tablename__ = "analytics_question_misses"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    course_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    quiz_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    question_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    misses: Mapped[int] = mapped_column(Integer)
