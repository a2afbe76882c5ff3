"""Reporting statements: set-based, index-friendly, the same on both engines.

Activity is any learning action with a timestamp: a quiz submitted, a chapter's progress written, a
learning session, a tutor conversation started. Activity, quiz results and missed questions are read
from the daily roll-ups (analytics/rollup.py); funnel, tiers and teams' figures from the live tables.
Reporting only reads other domains' tables; it never writes them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    case,
    func,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Subquery

from companion.accounts.models import User
from companion.analytics.models import ActivityDay, QuestionMissDay, QuizDay
from companion.billing.models import SubscriptionChange
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


async def daily_active(session: AsyncSession, *, since: date) -> list[tuple[str, int]]:
    """Distinct active learners per UTC day from a day on (from the roll-up)."""
    rows = await session.execute(
        select(ActivityDay.day, func.count())
        .where(ActivityDay.day >= since)
        .group_by(ActivityDay.day)
        .order_by(ActivityDay.day)
    )
    return [
        (found.isoformat() if isinstance(found, date) else str(found), int(count))
        for found, count in rows.all()
    ]


async def distinct_active(session: AsyncSession, *, since: Sequence[date]) -> list[int]:
    """Distinct learners active on any UTC day from each given day on, in one pass over the roll-up."""
    columns = [
        func.count(func.distinct(case((ActivityDay.day >= first, ActivityDay.user_id)))) for first in since
    ]
    row = (await session.execute(select(*columns).where(ActivityDay.day >= min(since)))).one()
    return [int(count) for count in row]


async def retention(session: AsyncSession, *, boundary: date, window_start: date) -> dict[str, int]:
    """Learners active in [window_start, boundary), from the boundary on, and in both."""
    per_learner = (
        select(
            ActivityDay.user_id,
            func.max(case((ActivityDay.day >= boundary, 1), else_=0)).label("recent"),
            func.max(case((ActivityDay.day < boundary, 1), else_=0)).label("prior"),
        )
        .where(ActivityDay.day >= window_start)
        .group_by(ActivityDay.user_id)
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


async def quiz_outcomes(session: AsyncSession, *, since: date) -> list[tuple[str, str, int, int, float]]:
    """(course, quiz, attempts, passed, mean score) over attempts submitted from a UTC day on."""
    rows = await session.execute(
        select(
            QuizDay.course_id,
            QuizDay.quiz_id,
            func.sum(QuizDay.attempts),
            func.sum(QuizDay.passed),
            func.sum(QuizDay.score_total),
        )
        .where(QuizDay.day >= since)
        .group_by(QuizDay.course_id, QuizDay.quiz_id)
    )
    return [
        (
            course,
            quiz,
            int(attempts),
            int(passed),
            round(float(total) / int(attempts), 2) if attempts else 0.0,
        )
        for course, quiz, attempts, passed, total in rows.all()
    ]


async def most_missed(session: AsyncSession, *, since: date, limit: int) -> list[tuple[str, str, str, int]]:
    """The questions most often answered wrong from a UTC day on: (course, quiz, question, misses)."""
    misses = func.sum(QuestionMissDay.misses).label("misses")
    rows = await session.execute(
        select(QuestionMissDay.course_id, QuestionMissDay.quiz_id, QuestionMissDay.question_id, misses)
        .where(QuestionMissDay.day >= since)
        .group_by(QuestionMissDay.course_id, QuestionMissDay.quiz_id, QuestionMissDay.question_id)
        .order_by(misses.desc(), QuestionMissDay.question_id)
        .limit(limit)
    )
    return [(course, quiz, question, int(count)) for course, quiz, question, count in rows.all()]


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
