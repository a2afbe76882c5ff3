"""The learning record: chapter progress, daily streaks and the progress dashboard.

Every write that touches a learner's streak takes the streak row lock first, then chapter progress,
so concurrent learning actions of one learner queue up instead of deadlocking.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from companion import cache as cache_keys
from companion.access import service as access_service
from companion.accounts.models import User
from companion.cache import Cache
from companion.content import service as content_service
from companion.content.schemas import Chapter, ContentPack
from companion.db import Base, serialize_writes, upsert_insert, utcnow
from companion.errors import Conflict, NotFound, ValidationFailed
from companion.progress import statements, streaks
from companion.progress.models import ChapterProgress, Streak
from companion.progress.schemas import (
    ChapterProgressItem,
    ChapterProgressRead,
    ChapterStateSummary,
    CourseDashboard,
    CourseProgress,
    NextChapter,
    ProgressDashboard,
    ProgressUpdate,
    StreakRead,
)
from companion.quizzes import queries as quiz_queries
from companion.quizzes.schemas import QuizScoreSummary


async def _insert_if_missing(session: AsyncSession, model: type[Base], values: dict[str, Any]) -> None:
    """Insert a row unless its unique key exists; a concurrent insert of the same key waits, then skips."""
    await serialize_writes(session)
    insert = upsert_insert(session.get_bind().dialect.name)
    await session.execute(insert(model).values(**values).on_conflict_do_nothing())


# --- Streaks -----------------------------------------------------------------------------------


def _streak_state(streak: Streak | None) -> streaks.StreakState:
    if streak is None:
        return streaks.StreakState()
    return streaks.StreakState(
        current=streak.current_streak,
        longest=streak.longest_streak,
        last_activity_date=streak.last_activity_date,
        total_active_days=streak.total_active_days,
        freeze_held=streak.streak_frozen,
    )


def _store_streak(streak: Streak, state: streaks.StreakState) -> None:
    streak.current_streak = state.current
    streak.longest_streak = state.longest
    streak.last_activity_date = state.last_activity_date
    streak.total_active_days = state.total_active_days
    streak.streak_frozen = state.freeze_held


def _streak_read(state: streaks.StreakState, *, timezone: str, today: date) -> StreakRead:
    last = state.last_activity_date
    return StreakRead(
        current_streak=streaks.current_as_of(state, today),
        longest_streak=state.longest,
        total_active_days=state.total_active_days,
        last_activity_date=last,
        active_today=last is not None and last >= today,
        freeze_held=state.freeze_held,
        timezone=timezone,
        today=today,
    )


async def _locked_streak(session: AsyncSession, *, user_id: uuid.UUID) -> Streak:
    await _insert_if_missing(session, Streak, {"user_id": user_id})
    result = await session.execute(
        select(Streak)
        .where(Streak.user_id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.scalar_one()


async def record_activity(session: AsyncSession, *, user: User, at: datetime, cache: Cache) -> None:
    """Count a learning action at `at` towards the streak of the learner's local day (once per day)."""
    day = streaks.local_date(at, user.timezone)
    await serialize_writes(session)
    # Most actions come on a day already counted: the streak stays as it is (see streaks.apply_activity)
    # and only the time of the last activity moves, so one UPDATE does it and no cached read goes stale.
    same_day = await session.execute(
        statements.SAME_DAY_ACTIVITY, {"streak_user_id": user.id, "streak_day": day, "streak_at": at}
    )
    if same_day.first() is not None:
        return
    streak = await _locked_streak(session, user_id=user.id)
    before = _streak_state(streak)
    after = streaks.apply_activity(before, day)
    _store_streak(streak, after)
    if before.freeze_held and not after.freeze_held:
        streak.freeze_used_at = at
    if streak.last_activity_at is None or at > streak.last_activity_at:
        streak.last_activity_at = at
    await session.flush()
    await cache.delete(cache_keys.streak_key(user.id), cache_keys.progress_key(user.id))


async def get_streak(session: AsyncSession, *, user: User, cache: Cache) -> StreakRead:
    """The learner's streak as of today in their zone (cached for a few minutes)."""
    today = streaks.local_date(utcnow(), user.timezone)
    key = cache_keys.streak_key(user.id)
    fingerprint = f"{user.timezone}|{today.isoformat()}"
    cached = await cache.get(key)
    if isinstance(cached, dict) and cached.get("fingerprint") == fingerprint:
        return StreakRead.model_validate(cached["streak"])
    streak = await session.scalar(select(Streak).where(Streak.user_id == user.id))
    read = _streak_read(_streak_state(streak), timezone=user.timezone, today=today)
    await cache.set(
        key, {"fingerprint": fingerprint, "streak": read.model_dump(mode="json")}, cache_keys.STREAK_TTL
    )
    return read


async def arm_freeze(session: AsyncSession, *, user: User, cache: Cache) -> StreakRead:
    """Hold a streak freeze (premium); at most one is held at a time."""
    access_service.check_feature(user, "streak_freeze").enforce()
    streak = await _locked_streak(session, user_id=user.id)
    state = _streak_state(streak)
    if state.freeze_held:
        raise Conflict("A streak freeze is already held; it is used up when it covers a missed day.")
    today = streaks.local_date(utcnow(), user.timezone)
    armed = streaks.arm_freeze(state, today)
    _store_streak(streak, armed)
    await session.flush()
    await cache.delete(cache_keys.streak_key(user.id), cache_keys.progress_key(user.id))
    return _streak_read(armed, timezone=user.timezone, today=today)


# --- Chapter progress --------------------------------------------------------------------------


def _percentage(chapter: Chapter, sections_read: list[str]) -> float:
    section_ids = {section.section_id for section in chapter.sections}
    if not section_ids:
        return 0.0
    return round(100 * len(section_ids.intersection(sections_read)) / len(section_ids), 2)


def _complete(progress: ChapterProgress, at: datetime) -> None:
    # A completed chapter is 100% however it was completed (every section read, marked done, or its
    # quiz passed), so the dashboard never shows "completed" next to a partial percentage.
    progress.completion_percentage = 100.0
    if not progress.completed:
        progress.completed = True
        progress.completed_at = at


def _progress_read(progress: ChapterProgress) -> ChapterProgressRead:
    return ChapterProgressRead(
        course_id=progress.course_id,
        chapter_id=progress.chapter_id,
        state="completed" if progress.completed else "in_progress",
        completion_percentage=progress.completion_percentage,
        last_section_id=progress.last_section_id,
        sections_read=list(progress.sections_read),
        time_spent_seconds=progress.time_spent_seconds,
        started_at=progress.started_at,
        completed_at=progress.completed_at,
    )


async def _locked_progress(
    session: AsyncSession, *, user_id: uuid.UUID, course_id: str, chapter_id: str, now: datetime
) -> ChapterProgress:
    await _insert_if_missing(
        session,
        ChapterProgress,
        {"user_id": user_id, "course_id": course_id, "chapter_id": chapter_id, "started_at": now},
    )
    result = await session.execute(
        select(ChapterProgress)
        .where(
            ChapterProgress.user_id == user_id,
            ChapterProgress.course_id == course_id,
            ChapterProgress.chapter_id == chapter_id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result.scalar_one()


async def record_chapter_progress(
    session: AsyncSession,
    *,
    user: User,
    pack: ContentPack,
    chapter_id: str,
    data: ProgressUpdate,
    cache: Cache,
) -> ChapterProgressRead:
    """Record a section read, time spent and explicit completion; reading every section completes it."""
    chapter = content_service.get_chapter(pack, chapter_id)
    access_service.check_chapter(user, chapter).enforce()
    if data.section_id is not None and chapter.section(data.section_id) is None:
        raise ValidationFailed(
            f"No section '{data.section_id}' in chapter '{chapter_id}'.",
            details={
                "field": "section_id",
                "section_id": data.section_id,
                "section_ids": [section.section_id for section in chapter.sections],
            },
        )
    now = utcnow()
    await record_activity(session, user=user, at=now, cache=cache)
    progress = await _locked_progress(
        session, user_id=user.id, course_id=pack.course.id, chapter_id=chapter_id, now=now
    )
    if data.section_id is not None:
        if data.section_id not in progress.sections_read:
            progress.sections_read = [*progress.sections_read, data.section_id]
        progress.last_section_id = data.section_id
        if not progress.completed:  # completion is never undone, so neither is its 100%
            progress.completion_percentage = _percentage(chapter, progress.sections_read)
    progress.time_spent_seconds += data.time_spent_seconds
    if data.completed or progress.completion_percentage >= 100:
        _complete(progress, now)
    await session.flush()
    await cache.delete(cache_keys.progress_key(user.id))
    return _progress_read(progress)


async def record_quiz_outcome(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    course_id: str,
    chapter_id: str,
    passed: bool | None,
    at: datetime,
    cache: Cache,
) -> None:
    """A submitted quiz puts its chapter in progress; passing it completes the chapter."""
    await serialize_writes(session)
    await session.execute(
        statements.quiz_outcome(session.get_bind().dialect.name, passed=bool(passed)),
        {
            "progress_user_id": user_id,
            "progress_course_id": course_id,
            "progress_chapter_id": chapter_id,
            "progress_at": at,
        },
    )
    await cache.delete(cache_keys.progress_key(user_id))


async def chapter_states(
    session: AsyncSession, *, user_id: uuid.UUID, course_id: str
) -> dict[str, ChapterStateSummary]:
    """The learner's state per chapter of a course; chapters missing from the result are not started."""
    result = await session.execute(
        select(
            ChapterProgress.chapter_id,
            ChapterProgress.completed,
            ChapterProgress.completion_percentage,
            ChapterProgress.last_section_id,
        ).where(ChapterProgress.user_id == user_id, ChapterProgress.course_id == course_id)
    )
    return {
        row.chapter_id: ChapterStateSummary(
            state="completed" if row.completed else "in_progress",
            completion_percentage=row.completion_percentage,
            last_section_id=row.last_section_id,
        )
        for row in result
    }


# --- Dashboard ---------------------------------------------------------------------------------


def _next_chapter(
    user: User, pack: ContentPack, items: dict[str, ChapterProgressItem], completed: set[str]
) -> NextChapter:
    """The first unfinished chapter, in course order, whose prerequisites are done and whose tier is held."""
    upgrade: tuple[Chapter, access_service.AccessDecision] | None = None
    for chapter in pack.chapters:
        if chapter.chapter_id in completed or not set(chapter.prerequisites) <= completed:
            continue
        decision = access_service.check_chapter(user, chapter)
        if not decision.allowed:
            upgrade = upgrade or (chapter, decision)
            continue
        item = items[chapter.chapter_id]
        started = item.state == "in_progress"
        return NextChapter(
            chapter_id=chapter.chapter_id,
            title=chapter.title,
            resume_section_id=item.last_section_id,
            reason="Continue where you left off." if started else "Next in course order.",
            upgrade_required=False,
            required_tier=None,
        )
    if len(completed) >= len(pack.chapters):
        reason = "You have completed every chapter of this course."
        return NextChapter(
            chapter_id=None,
            title=None,
            resume_section_id=None,
            reason=reason,
            upgrade_required=False,
            required_tier=None,
        )
    if upgrade is not None:
        chapter, decision = upgrade
        return NextChapter(
            chapter_id=chapter.chapter_id,
            title=chapter.title,
            resume_section_id=None,
            reason=decision.reason,
            upgrade_required=True,
            required_tier=decision.required_tier,
        )
    return NextChapter(
        chapter_id=None,
        title=None,
        resume_section_id=None,
        reason="The remaining chapters need prerequisites you have not completed yet.",
        upgrade_required=False,
        required_tier=None,
    )


def _course_progress(
    user: User,
    pack: ContentPack,
    rows: dict[str, Any],
    quiz_scores: dict[tuple[str, str], QuizScoreSummary],
) -> CourseProgress:
    course_id = pack.course.id
    completed = {chapter_id for chapter_id, row in rows.items() if row.completed}
    items: dict[str, ChapterProgressItem] = {}
    for chapter in pack.chapters:
        row = rows.get(chapter.chapter_id)
        quiz = pack.quiz_for_chapter(chapter.chapter_id)
        state = "not_started" if row is None else "completed" if row.completed else "in_progress"
        items[chapter.chapter_id] = ChapterProgressItem(
            chapter_id=chapter.chapter_id,
            chapter_number=chapter.chapter_number,
            title=chapter.title,
            access_tier=chapter.access_tier,
            locked=not access_service.check_chapter(user, chapter).allowed,
            prerequisites_met=set(chapter.prerequisites) <= completed,
            state=state,
            completion_percentage=row.completion_percentage if row else 0.0,
            last_section_id=row.last_section_id if row else None,
            time_spent_seconds=row.time_spent_seconds if row else 0,
            completed_at=row.completed_at if row else None,
            quiz=None
            if quiz is None
            else quiz_scores.get(
                (course_id, quiz.quiz_id),
                QuizScoreSummary(quiz_id=quiz.quiz_id, best_score=None, passed=False, attempts=0),
            ),
        )
    chapters = list(items.values())
    credit = [100.0 if item.state == "completed" else item.completion_percentage for item in chapters]
    return CourseProgress(
        course_id=course_id,
        title=pack.course.title,
        content_version=pack.version,
        chapters_total=len(chapters),
        chapters_completed=sum(1 for item in chapters if item.state == "completed"),
        completion_percentage=round(sum(credit) / len(credit), 2) if credit else 0.0,
        time_spent_seconds=sum(item.time_spent_seconds for item in chapters),
        locked_chapters=[item.chapter_id for item in chapters if item.locked],
        next_chapter=_next_chapter(user, pack, items, completed & set(items)),
        chapters=chapters,
    )


async def build_dashboard(
    session: AsyncSession, *, user: User, packs: list[ContentPack]
) -> ProgressDashboard:
    """The learner's progress in every course, straight from the database (no cache)."""
    progress_rows = await session.execute(
        select(
            ChapterProgress.course_id,
            ChapterProgress.chapter_id,
            ChapterProgress.completed,
            ChapterProgress.completion_percentage,
            ChapterProgress.last_section_id,
            ChapterProgress.time_spent_seconds,
            ChapterProgress.completed_at,
        ).where(ChapterProgress.user_id == user.id)
    )
    by_course: dict[str, dict[str, Any]] = {}
    for row in progress_rows:
        by_course.setdefault(row.course_id, {})[row.chapter_id] = row
    quiz_scores = await quiz_queries.best_scores(session, user_id=user.id)
    streak = await session.scalar(select(Streak).where(Streak.user_id == user.id))
    today = streaks.local_date(utcnow(), user.timezone)
    return ProgressDashboard(
        streak=_streak_read(_streak_state(streak), timezone=user.timezone, today=today),
        courses=[
            _course_progress(user, pack, by_course.get(pack.course.id, {}), quiz_scores) for pack in packs
        ],
    )


async def get_dashboard(
    session: AsyncSession, *, user: User, packs: list[ContentPack], cache: Cache
) -> ProgressDashboard:
    """The dashboard through the `progress:{user_id}` cache; a new tier, zone, day or version misses it."""
    today = streaks.local_date(utcnow(), user.timezone)
    versions = ",".join(f"{pack.course.id}@{pack.version}" for pack in packs)
    fingerprint = f"{access_service.tier_of(user)}|{user.timezone}|{today.isoformat()}|{versions}"
    key = cache_keys.progress_key(user.id)
    cached = await cache.get(key)
    if isinstance(cached, dict) and cached.get("fingerprint") == fingerprint:
        return ProgressDashboard.model_validate(cached["dashboard"])
    dashboard = await build_dashboard(session, user=user, packs=packs)
    await cache.set(
        key,
        {"fingerprint": fingerprint, "dashboard": dashboard.model_dump(mode="json")},
        cache_keys.PROGRESS_TTL,
    )
    return dashboard


async def get_course_dashboard(
    session: AsyncSession, *, user: User, packs: list[ContentPack], course_id: str, cache: Cache
) -> CourseDashboard:
    """One course's progress with the streak, from the same cached dashboard."""
    dashboard = await get_dashboard(session, user=user, packs=packs, cache=cache)
    for course in dashboard.courses:
        if course.course_id == course_id:
            return CourseDashboard(**dict(course), streak=dashboard.streak)
    raise NotFound(f"No course '{course_id}'.", details={"course_id": course_id})
