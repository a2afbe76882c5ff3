"""The course owner's analytics report, built from the reporting queries and the content packs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from companion.access.tiers import TIERS
from companion.accounts.models import User
from companion.analytics import queries
from companion.analytics.schemas import (
    ActiveLearners,
    AnalyticsReport,
    ChapterFunnelStep,
    Conversions,
    DailyActive,
    MemberSummary,
    MissedQuestion,
    QuizResult,
    Retention,
)
from companion.billing.service import TIER_ORDER
from companion.content.schemas import ContentPack
from companion.jobs import records as job_records

CHURN_DAYS = 14
ROLLUP_JOB = "refresh-analytics"
MISSED_LIMIT = 10


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _chapter_order(packs: Sequence[ContentPack]) -> dict[tuple[str, str], tuple[int, int, str]]:
    return {
        (pack.course.id, chapter.chapter_id): (pack_index, index, chapter.title)
        for pack_index, pack in enumerate(packs)
        for index, chapter in enumerate(pack.chapters)
    }


async def build_report(
    session: AsyncSession, *, packs: Sequence[ContentPack], days: int, now: datetime
) -> AnalyticsReport:
    """Active learners, retention and churn, chapter funnel, quiz results, tier mix and conversions."""
    since = now - timedelta(days=days)
    today = now.date()
    # Day windows count today as their last day: "last 7 days" is today and the 6 before it.
    first_day = today - timedelta(days=days - 1)
    daily = await queries.daily_active(session, since=first_day)
    on_day, in_7_days, in_30_days = await queries.distinct_active(
        session, since=[today, today - timedelta(days=6), today - timedelta(days=29)]
    )
    active = ActiveLearners(
        today=on_day,
        last_7_days=in_7_days,
        last_30_days=in_30_days,
        daily=[DailyActive(day=day, learners=count) for day, count in daily],
    )
    boundary = now - timedelta(days=CHURN_DAYS)
    windows = await queries.retention(
        session,
        boundary=today - timedelta(days=CHURN_DAYS - 1),
        window_start=today - timedelta(days=2 * CHURN_DAYS - 1),
    )
    retention_rate = _rate(windows["retained"], windows["prior"])
    retention = Retention(
        active_previous_14_days=windows["prior"],
        active_last_14_days=windows["recent"],
        retained=windows["retained"],
        retention_rate=retention_rate,
        churn_rate=None if retention_rate is None else round(1 - retention_rate, 4),
        churned_learners=await queries.idle_learners(session, idle_since=boundary),
    )

    order = _chapter_order(packs)
    funnel = [
        ChapterFunnelStep(
            course_id=course,
            chapter_id=chapter,
            title=order.get((course, chapter), (0, 0, chapter))[2],
            started=started,
            completed=completed,
            completion_rate=_rate(completed, started),
        )
        for course, chapter, started, completed in await queries.chapter_funnel(session)
    ]
    funnel.sort(key=lambda step: order.get((step.course_id, step.chapter_id), (len(packs), 0, ""))[:2])

    quiz_titles = {(pack.course.id, quiz.quiz_id): quiz for pack in packs for quiz in pack.quizzes}
    quizzes = [
        QuizResult(
            course_id=course,
            quiz_id=quiz_id,
            title=quiz.title if (quiz := quiz_titles.get((course, quiz_id))) else quiz_id,
            attempts=attempts,
            passed=passed,
            pass_rate=_rate(passed, attempts),
            average_score=mean,
        )
        for course, quiz_id, attempts, passed, mean in await queries.quiz_outcomes(session, since=first_day)
    ]
    quizzes.sort(key=lambda result: (result.course_id, result.quiz_id))

    missed = []
    for course, quiz_id, question_id, misses in await queries.most_missed(
        session, since=first_day, limit=MISSED_LIMIT
    ):
        quiz = quiz_titles.get((course, quiz_id))
        question = quiz.question(question_id) if quiz else None
        missed.append(
            MissedQuestion(
                course_id=course,
                quiz_id=quiz_id,
                question_id=question_id,
                question_text=question.question_text if question else "(no longer in the course)",
                misses=misses,
            )
        )

    mix = dict.fromkeys(TIERS, 0) | await queries.tier_mix(session)
    changes = await queries.tier_changes(session, since=since)
    free_to_paid = sum(count for old, new, _, count in changes if old == "free" and new != "free")
    new_signups = await queries.signups(session, since=since)
    conversions = Conversions(
        signups=new_signups,
        free_to_paid=free_to_paid,
        # Of the learners who were on free during the window (now free, or converted in it).
        conversion_rate=_rate(free_to_paid, mix["free"] + free_to_paid),
        upgrades=sum(
            count for old, new, _, count in changes if old != "free" and TIER_ORDER[new] > TIER_ORDER[old]
        ),
        step_downs=sum(
            count
            for old, new, status, count in changes
            if new != "free" and TIER_ORDER[new] < TIER_ORDER[old] and status == "active"
        ),
        cancellations=sum(count for _, _, status, count in changes if status == "canceled"),
        expirations=sum(count for _, _, status, count in changes if status == "expired"),
        by_tier={
            tier: sum(count for old, new, _, count in changes if old == "free" and new == tier)
            for tier in TIERS[1:]
        },
    )
    return AnalyticsReport(
        generated_at=now,
        rollup_refreshed_at=await job_records.last_finished_at(session, ROLLUP_JOB),
        days=days,
        active_learners=active,
        retention=retention,
        chapter_funnel=funnel,
        quizzes=quizzes,
        most_missed_questions=missed,
        tier_mix=mix,
        conversions=conversions,
    )


async def member_summaries(
    session: AsyncSession, *, members: Sequence[tuple[User, datetime | None]]
) -> list[MemberSummary]:
    """Progress, quiz results and activity of each (learner, joined at)."""
    rows = await queries.member_rows(session, user_ids=[user.id for user, _ in members])
    return [
        MemberSummary(
            user_id=str(user.id),
            email=user.email,
            full_name=user.full_name,
            joined_at=joined_at,
            **rows[user.id],
        )
        for user, joined_at in members
    ]
