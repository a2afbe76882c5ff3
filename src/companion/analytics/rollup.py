"""Refreshing the daily roll-ups: yesterday and today are rebuilt each run (all history the first time)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, bindparam, case, cast, delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from companion.analytics.models import ActivityDay, QuestionMissDay, QuizDay
from companion.analytics.queries import activity
from companion.db import UTCDateTime
from companion.quizzes.models import QuizAttempt

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_MISSES_SQL = {
    "postgresql": """
        INSERT INTO analytics_question_misses (day, course_id, quiz_id, question_id, misses)
        SELECT (a.submitted_at AT TIME ZONE 'UTC')::date, a.course_id, a.quiz_id, d.key, count(*)
        FROM quiz_attempts a CROSS JOIN LATERAL jsonb_each(a.grading_details) d
        WHERE a.submitted_at >= :since AND a.submitted_at < :until AND a.grading_details IS NOT NULL
          AND d.value->>'status' = 'incorrect'
        GROUP BY 1, 2, 3, 4""",
    "sqlite": """
        INSERT INTO analytics_question_misses (day, course_id, quiz_id, question_id, misses)
        SELECT date(a.submitted_at), a.course_id, a.quiz_id, d.key, count(*)
        FROM quiz_attempts a, json_each(a.grading_details) d
        WHERE a.submitted_at >= :since AND a.submitted_at < :until AND a.grading_details IS NOT NULL
          AND json_extract(d.value, '$.status') = 'incorrect'
        GROUP BY 1, 2, 3, 4""",
}


def day_of(column: Any, dialect: str) -> Any:
    """The UTC day of a timestamp column, on either engine."""
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


async def refresh(session: AsyncSession, *, now: datetime) -> int:
    """Rebuild the roll-ups from yesterday on (all history when they are empty); returns rows written."""
    dialect = session.get_bind().dialect.name
    empty = await session.scalar(select(ActivityDay.day).limit(1)) is None
    first_day: date | None = None if empty else (now - timedelta(days=1)).date()
    since = EPOCH if first_day is None else datetime.combine(first_day, time(), UTC)
    for model in (ActivityDay, QuizDay, QuestionMissDay):
        statement = delete(model)
        if first_day is not None:
            statement = statement.where(model.day >= first_day)
        await session.execute(statement)

    events = activity(since, now)
    activity_rows = select(day_of(events.c.at, dialect).label("day"), events.c.user_id).distinct()
    written = (
        await session.execute(insert(ActivityDay).from_select(["day", "user_id"], activity_rows))
    ).rowcount  # type: ignore[attr-defined]

    day = day_of(QuizAttempt.submitted_at, dialect)
    quiz_rows = (
        select(
            day,
            QuizAttempt.course_id,
            QuizAttempt.quiz_id,
            func.count(),
            func.sum(case((QuizAttempt.passed.is_(True), 1), else_=0)),
            func.coalesce(func.sum(QuizAttempt.score), 0.0),
        )
        .where(
            QuizAttempt.submitted_at >= since,
            QuizAttempt.submitted_at < now,
            QuizAttempt.status == "submitted",
        )
        .group_by(day, QuizAttempt.course_id, QuizAttempt.quiz_id)
    )
    written += (
        await session.execute(
            insert(QuizDay).from_select(
                ["day", "course_id", "quiz_id", "attempts", "passed", "score_total"], quiz_rows
            )
        )
    ).rowcount  # type: ignore[attr-defined]

    misses = text(_MISSES_SQL[dialect]).bindparams(
        bindparam("since", type_=UTCDateTime()), bindparam("until", type_=UTCDateTime())
    )
    written += (await session.execute(misses, {"since": since, "until": now})).rowcount  # type: ignore[attr-defined]
    return int(written)
