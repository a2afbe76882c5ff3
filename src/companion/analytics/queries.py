"""Reporting statements over the learning record: set-based, index-friendly, the same on both engines.

Activity is any learning action with a timestamp: a quiz submitted, a chapter's progress written, a
learning session, a tutor conversation started. Reporting reads these tables directly (read-only);
it never writes to another domain's tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    bindparam,
    case,
    cast,
    func,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Subquery

from companion.accounts.models import User
from companion.billing.models import SubscriptionChange
from companion.db import UTCDateTime
from companion.progress.models import ChapterProgress, LearningSession, Streak
from companion.quizzes.models import QuizAttempt
from companion.tutor.models import ChatConversation


def activity(since: datetime, until: datetime, user_ids: Sequence[uuid.UUID] | None = None) -> Subquery:
    """(user_id, at) for every learning action in [since, until)."""
    sources: list[tuple[Any, Any]] = [
        (QuizAttempt.user_id, QuizAttempt.submitted_at),
        (ChapterProgress.user_id, ChapterProgress.updated_at),
        (LearningSession.user_id, LearningSession.started_at),
        (ChatConversation.user_id, ChatConversation.created_at),
    ]
    selects = []
    for user_column, at_column in sources:
        statement = select(user_column.label("user_id"), at_column.label("at")).where(
            at_column >= since, at_column < until
        )
        if user_ids is not None:
            statement = statement.where(user_column.in_(user_ids))
        selects.append(statement)
    return union_all(*selects).subquery("activity")


def _day(column: Any, dialect: str) -> ColumnElement[Any]:
    # Days are UTC days; PostgreSQL would otherwise use the session's time zone.
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


async def daily_active(session: AsyncSession, *, since: datetime, until: datetime) -> list[tuple[str, int]]:
    """Distinct active learners per UTC day."""
    events = activity(since, until)
    day = _day(events.c.at, session.get_bind().dialect.name).label("day")
    rows = await session.execute(
        select(day, func.count(func.distinct(events.c.user_id))).group_by(day).order_by(day)
    )
    return [(str(found_day), int(count)) for found_day, count in rows.all()]


async def distinct_active(session: AsyncSession, *, since: datetime, until: datetime) -> int:
    """Distinct learners active in [since, until)."""
    events = activity(since, until)
    return int(await session.scalar(select(func.count(func.distinct(events.c.user_id)))) or 0)


async def retention(
    session: AsyncSession, *, boundary: datetime, window_start: datetime, now: datetime
) -> dict[str, int]:
    """Learners active before the boundary, after it, and in both windows."""
    events = activity(window_start, now)
    per_learner = (
        select(
            events.c.user_id,
            func.max(case((events.c.at >= boundary, 1), else_=0)).label("recent"),
            func.max(case((events.c.at < boundary, 1), else_=0)).label("prior"),
        )
        .group_by(events.c.user_id)
        .subquery()
    )
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(per_learner.c.prior), 0),
                func.coalesce(func.sum(per_learner.c.recent), 0),
                func.coalesce(func.sum(per_learner.c.prior * per_learner.c.recent), 0),
            )
        )
    ).one()
    return {"prior": int(row[0]), "recent": int(row[1]), "retained": int(row[2])}


async def idle_learners(session: AsyncSession, *, idle_since: datetime) -> int:
    """Learners who were active once and have done nothing since `idle_since` (churned)."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Streak)
            .join(User, User.id == Streak.user_id)
            .where(Streak.last_activity_at < idle_since, User.is_active.is_(True))
        )
        or 0
    )


async def chapter_funnel(session: AsyncSession) -> list[tuple[str, str, int, int]]:
    """(course, chapter, learners started, learners completed) for every chapter with any progress."""
    rows = await session.execute(
        select(
            ChapterProgress.course_id,
            ChapterProgress.chapter_id,
            func.count(),
            func.sum(case((ChapterProgress.completed.is_(True), 1), else_=0)),
        ).group_by(ChapterProgress.course_id, ChapterProgress.chapter_id)
    )
    return [(course, chapter, int(started), int(done or 0)) for course, chapter, started, done in rows.all()]


async def quiz_outcomes(
    session: AsyncSession, *, since: datetime
) -> list[tuple[str, str, int, int, int, float]]:
    """(course, quiz, attempts, passed, learners, mean score) over attempts submitted since."""
    rows = await session.execute(
        select(
            QuizAttempt.course_id,
            QuizAttempt.quiz_id,
            func.count(),
            func.sum(case((QuizAttempt.passed.is_(True), 1), else_=0)),
            func.count(func.distinct(QuizAttempt.user_id)),
            func.avg(QuizAttempt.score),
        )
        .where(QuizAttempt.submitted_at >= since, QuizAttempt.status == "submitted")
        .group_by(QuizAttempt.course_id, QuizAttempt.quiz_id)
    )
    return [
        (course, quiz, int(attempts), int(passed or 0), int(learners), round(float(mean or 0), 2))
        for course, quiz, attempts, passed, learners, mean in rows.all()
    ]


_MISSED_SQL = {
    "postgresql": """
        SELECT a.course_id, a.quiz_id, d.key AS question_id, count(*) AS misses
        FROM quiz_attempts a CROSS JOIN LATERAL jsonb_each(a.grading_details) d
        WHERE a.submitted_at >= :since AND a.grading_details IS NOT NULL
          AND d.value->>'status' = 'incorrect'
        GROUP BY 1, 2, 3 ORDER BY misses DESC, 3 LIMIT :limit""",
    "sqlite": """
        SELECT a.course_id, a.quiz_id, d.key AS question_id, count(*) AS misses
        FROM quiz_attempts a, json_each(a.grading_details) d
        WHERE a.submitted_at >= :since AND a.grading_details IS NOT NULL
          AND json_extract(d.value, '$.status') = 'incorrect'
        GROUP BY 1, 2, 3 ORDER BY misses DESC, 3 LIMIT :limit""",
}


async def most_missed(
    session: AsyncSession, *, since: datetime, limit: int
) -> list[tuple[str, str, str, int]]:
    """The questions most often answered wrong since a time: (course, quiz, question, misses)."""
    statement = text(_MISSED_SQL[session.get_bind().dialect.name]).bindparams(
        bindparam("since", type_=UTCDateTime())  # stored the way the column stores it on either engine
    )
    rows = await session.execute(statement, {"since": since, "limit": limit})
    return [(course, quiz, question, int(misses)) for course, quiz, question, misses in rows.all()]


async def tier_mix(session: AsyncSession) -> dict[str, int]:
    """Active accounts per subscription tier."""
    rows = await session.execute(
        select(User.subscription_tier, func.count())
        .where(User.is_active.is_(True))
        .group_by(User.subscription_tier)
    )
    return {tier: int(count) for tier, count in rows.all()}


async def tier_changes(session: AsyncSession, *, since: datetime) -> list[tuple[str, str, str, int]]:
    """(from tier, to tier, to status, count) of subscription changes since a time."""
    rows = await session.execute(
        select(
            SubscriptionChange.from_tier,
            SubscriptionChange.to_tier,
            SubscriptionChange.to_status,
            func.count(),
        )
        .where(SubscriptionChange.changed_at >= since)
        .group_by(SubscriptionChange.from_tier, SubscriptionChange.to_tier, SubscriptionChange.to_status)
    )
    return [(from_tier, to_tier, status, int(count)) for from_tier, to_tier, status, count in rows.all()]


async def signups(session: AsyncSession, *, since: datetime) -> int:
    """Accounts created since a time."""
    return int(
        await session.scalar(select(func.count()).select_from(User).where(User.created_at >= since)) or 0
    )


async def member_rows(
    session: AsyncSession, *, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """Per learner: chapters started and completed, time spent, quiz attempts, passes, best and mean score."""
    found: dict[uuid.UUID, dict[str, Any]] = {user_id: {} for user_id in user_ids}
    if not user_ids:
        return found
    progress = await session.execute(
        select(
            ChapterProgress.user_id,
            func.count(),
            func.sum(case((ChapterProgress.completed.is_(True), 1), else_=0)),
            func.sum(ChapterProgress.time_spent_seconds),
        )
        .where(ChapterProgress.user_id.in_(user_ids))
        .group_by(ChapterProgress.user_id)
    )
    for user_id, started, completed, seconds in progress.all():
        found[user_id].update(
            chapters_started=int(started),
            chapters_completed=int(completed or 0),
            time_spent_seconds=int(seconds or 0),
        )
    quizzes = await session.execute(
        select(
            QuizAttempt.user_id,
            func.count(),
            func.count(func.distinct(case((QuizAttempt.passed.is_(True), QuizAttempt.quiz_id)))),
            func.avg(QuizAttempt.score),
            func.max(QuizAttempt.score),
        )
        .where(QuizAttempt.user_id.in_(user_ids), QuizAttempt.status == "submitted")
        .group_by(QuizAttempt.user_id)
    )
    for user_id, attempts, passed, mean, best in quizzes.all():
        found[user_id].update(
            quiz_attempts=int(attempts),
            quizzes_passed=int(passed or 0),
            average_score=round(float(mean), 2) if mean is not None else None,
            best_score=float(best) if best is not None else None,
        )
    streaks = await session.execute(
        select(
            Streak.user_id, Streak.last_activity_at, Streak.current_streak, Streak.total_active_days
        ).where(Streak.user_id.in_(user_ids))
    )
    for user_id, last_at, current, total in streaks.all():
        found[user_id].update(last_active_at=last_at, current_streak=int(current), active_days=int(total))
    return found
