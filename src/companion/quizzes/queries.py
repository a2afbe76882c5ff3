"""Read-only queries over quiz attempts for other domains (progress, recommendations).

They import nothing from the learning record, so the learning record can read scores while quiz
submission reports passed quizzes to it, without the two services importing each other.
"""

from __future__ import annotations

import uuid

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from companion.quizzes.models import QuizAttempt
from companion.quizzes.schemas import QuizScoreSummary


async def best_scores(
    session: AsyncSession, *, user_id: uuid.UUID
) -> dict[tuple[str, str], QuizScoreSummary]:
    """The learner's best submitted result per (course, quiz)."""
    result = await session.execute(
        select(
            QuizAttempt.course_id,
            QuizAttempt.quiz_id,
            func.max(QuizAttempt.score).label("best_score"),
            func.max(case((QuizAttempt.passed.is_(True), 1), else_=0)).label("passed"),
            func.count().label("attempts"),
        )
        .where(QuizAttempt.user_id == user_id, QuizAttempt.status == "submitted")
        .group_by(QuizAttempt.course_id, QuizAttempt.quiz_id)
    )
    return {
        (row.course_id, row.quiz_id): QuizScoreSummary(
            quiz_id=row.quiz_id,
            best_score=None if row.best_score is None else float(row.best_score),
            passed=bool(row.passed),
            attempts=row.attempts,
        )
        for row in result
    }
