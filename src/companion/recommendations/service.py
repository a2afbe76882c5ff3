"""Learning-path recommendations: a path planned by rule (no LLM), and at most one active per learner.

The rules, in order of precedence:
1. A chapter whose quiz the learner has taken but never passed comes first ("revisit"), even if read.
2. Chapters the learner has started come next ("continue"); completed chapters are left out.
3. The rest follow ("study"): at or below the learner's level before chapters above it, then course order.
4. Every chapter comes after its prerequisites (unfinished prerequisites are pulled in ahead of it).
5. A chapter two levels below the learner's experience (a beginner chapter for an advanced learner) is
   optional review at the end, and does not hold back the chapters that build on it.
A chapter is judged against hardware experience when it is about hardware, else software experience.
Locked chapters stay in the path; whether the learner's plan opens them is decided when it is read,
so an upgrade shows at once. A path lasts 7 days, or until the background changes.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from companion.access import service as access_service
from companion.accounts.models import User
from companion.content.schemas import Chapter, ContentPack, Quiz
from companion.db import utcnow
from companion.errors import Conflict
from companion.progress import service as progress_service
from companion.progress.schemas import ChapterStateSummary
from companion.quizzes import queries as quiz_queries
from companion.quizzes.schemas import QuizScoreSummary
from companion.recommendations.models import LearningPathRecommendation
from companion.recommendations.schemas import (
    LearningPathRead,
    PathChapter,
    PathStep,
    RecommendedChapter,
)

PATH_LIFETIME = timedelta(days=7)
# Concurrent requests may each try to plan the learner's path; a clash with another's retries.
REPLACE_TRIES = 3

SOFTWARE_RANK = {"beginner": 0, "intermediate": 1, "advanced": 2}
HARDWARE_RANK = {"none": 0, "hobbyist": 1, "professional": 2}
DIFFICULTY_RANK = {"beginner": 0, "intermediate": 1, "advanced": 2}
# A chapter whose module or topics mention one of these is judged against hardware experience.
HARDWARE_MARKERS = ("hardware", "electronics", "sensor", "actuator", "microcontroller")
STEP_RANK: dict[PathStep, int] = {"revisit": 0, "continue": 1, "study": 2, "review": 3}


async def deactivate_active(session: AsyncSession, *, user_id: uuid.UUID) -> None:
    """Retire the learner's active recommendation (e.g. after a background change)."""
    await session.execute(
        update(LearningPathRecommendation)
        .where(LearningPathRecommendation.user_id == user_id, LearningPathRecommendation.is_active)
        .values(is_active=False)
    )


async def deactivate_expired(session: AsyncSession, *, now: datetime) -> int:
    """Retire every active recommendation past its expiry; returns how many."""
    result = await session.execute(
        update(LearningPathRecommendation)
        .where(LearningPathRecommendation.is_active, LearningPathRecommendation.expires_at <= now)
        .values(is_active=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- Planning by rule --------------------------------------------------------------------------


@dataclass(frozen=True)
class Background:
    """The learner's self-reported experience, which the path is planned for."""

    software_experience: str
    hardware_experience: str

    def is_hardware(self, chapter: Chapter) -> bool:
        """Whether the chapter is about hardware (so hardware experience is what counts)."""
        words = [chapter.module or "", *chapter.topics]
        return any(marker in word.lower() for word in words for marker in HARDWARE_MARKERS)

    def gap(self, chapter: Chapter) -> int:
        """The learner's level minus the chapter's difficulty: above 0 the chapter is below the learner."""
        if self.is_hardware(chapter):
            level = HARDWARE_RANK.get(self.hardware_experience, 0)
        else:
            level = SOFTWARE_RANK.get(self.software_experience, 0)
        return level - DIFFICULTY_RANK.get(chapter.difficulty_level, 0)

    def experience(self, chapter: Chapter) -> str:
        """The experience that counts for the chapter, as a phrase ("advanced software experience")."""
        if not self.is_hardware(chapter):
            return f"{self.software_experience} software experience"
        if self.hardware_experience == "none":
            return "no hardware experience"
        return f"{self.hardware_experience} hardware experience"


@dataclass(frozen=True)
class PlannedPath:
    """The chapters in the order to study them, each with its reason, and why the path looks so."""

    chapters: list[RecommendedChapter]
    rationale: str


@dataclass(frozen=True)
class _FailedQuiz:
    quiz: Quiz
    result: QuizScoreSummary


def _step(
    chapter: Chapter,
    *,
    background: Background,
    states: Mapping[str, ChapterStateSummary],
    failed: Mapping[str, _FailedQuiz],
) -> PathStep | None:
    """Where a chapter belongs in the path, or None when it is done."""
    state = states.get(chapter.chapter_id)
    if chapter.chapter_id in failed:
        return "revisit"
    if state is not None and state.state == "completed":
        return None
    if state is not None and state.state == "in_progress":
        return "continue"
    return "review" if background.gap(chapter) >= 2 else "study"


def _level_note(chapter: Chapter, background: Background) -> str:
    gap, experience = background.gap(chapter), background.experience(chapter)
    if gap == 0:
        return f"At your level: a {chapter.difficulty_level} chapter for a learner with {experience}."
    if gap > 0:
        return f"A {chapter.difficulty_level} chapter: with {experience} you can move through it quickly."
    return (
        f"A step up ({chapter.difficulty_level}) for a learner with {experience}: allow extra time and "
        "work through the examples."
    )


def _reason(
    chapter: Chapter,
    step: PathStep,
    *,
    pack: ContentPack,
    background: Background,
    states: Mapping[str, ChapterStateSummary],
    failed: Mapping[str, _FailedQuiz],
) -> str:
    if step == "revisit":
        miss = failed[chapter.chapter_id]
        return (
            f'Revisit first: your best score on "{miss.quiz.title}" is {miss.result.best_score:.0f}%, below '
            f"its {miss.quiz.passing_score}% pass mark. Re-read the chapter, then retake the quiz."
        )
    if step == "review":
        return (
            f"Optional review: a {chapter.difficulty_level} chapter that a learner with "
            f"{background.experience(chapter)} likely knows. Skim it, or take its quiz to check."
        )
    parts = []
    if step == "continue":
        parts.append(
            f"Continue where you left off ({states[chapter.chapter_id].completion_percentage:.0f}% read)."
        )
    parts.append(_level_note(chapter, background))
    builds_on = [found.title for found in map(pack.chapter, chapter.prerequisites) if found is not None]
    if builds_on:
        parts.append("Builds on " + ", ".join(f'"{title}"' for title in builds_on) + ".")
    else:
        parts.append("A foundation for the chapters after it.")
    return " ".join(parts)


def _rationale(background: Background, *, steps: Mapping[str, PathStep], completed: int, total: int) -> str:
    hardware = (
        "no hardware experience"
        if background.hardware_experience == "none"
        else f"{background.hardware_experience} hardware experience"
    )
    parts = [
        f"Planned by rule from your background ({background.software_experience} software experience, "
        f"{hardware}), your progress and your quiz results."
    ]
    counts = {step: sum(1 for value in steps.values() if value == step) for step in STEP_RANK}
    if not steps:
        parts.append(
            f"You have completed all {total} chapters and passed every quiz you took: retake a quiz to "
            "beat your best score, or start another course."
        )
        return " ".join(parts)
    if counts["revisit"]:
        parts.append(f"{counts['revisit']} chapter(s) whose quiz you have not passed yet come first.")
    if counts["continue"]:
        parts.append(f"{counts['continue']} chapter(s) you have started come next.")
    if completed:
        parts.append(f"{completed} completed chapter(s) are left out.")
    parts.append(
        "Every chapter comes after its prerequisites; chapters at your level come before harder ones."
    )
    if counts["review"]:
        parts.append(f"{counts['review']} chapter(s) below your level are at the end as optional review.")
    return " ".join(parts)


def plan_path(
    pack: ContentPack,
    *,
    background: Background,
    states: Mapping[str, ChapterStateSummary],
    quiz_results: Mapping[str, QuizScoreSummary],
) -> PlannedPath:
    """Order the course's chapters for this learner by the rules above (pure; no database, no LLM)."""
    course_order = {chapter.chapter_id: index for index, chapter in enumerate(pack.chapters)}
    failed: dict[str, _FailedQuiz] = {}
    for chapter in pack.chapters:
        quiz = pack.quiz_for_chapter(chapter.chapter_id)
        result = quiz_results.get(quiz.quiz_id) if quiz is not None else None
        # A quiz whose answers all await a grader has no score: it is neither passed nor failed yet.
        if quiz and result and result.attempts and not result.passed and result.best_score is not None:
            failed[chapter.chapter_id] = _FailedQuiz(quiz, result)
    steps: dict[str, PathStep] = {}
    for chapter in pack.chapters:
        step = _step(chapter, background=background, states=states, failed=failed)
        if step is not None:
            steps[chapter.chapter_id] = step
    completed = {chapter_id for chapter_id, state in states.items() if state.state == "completed"}

    # Prerequisites count as met when done, or when the learner's background covers them (review).
    met = (completed - set(failed)) | {chapter_id for chapter_id, step in steps.items() if step == "review"}
    remaining = [
        chapter for chapter in pack.chapters if steps.get(chapter.chapter_id) not in (None, "review")
    ]
    ordered: list[tuple[Chapter, PathStep]] = []
    while remaining:
        ready = [
            chapter
            for chapter in remaining
            if all(required in met or required not in course_order for required in chapter.prerequisites)
        ]
        chosen = min(
            ready or remaining,  # a prerequisite cycle in the content: fall back to course order
            key=lambda chapter: (
                STEP_RANK[steps[chapter.chapter_id]],
                background.gap(chapter) < 0,
                course_order[chapter.chapter_id],
            ),
        )
        remaining.remove(chosen)
        met.add(chosen.chapter_id)
        ordered.append((chosen, steps[chosen.chapter_id]))
    ordered.extend(
        (chapter, "review") for chapter in pack.chapters if steps.get(chapter.chapter_id) == "review"
    )

    chapters = [
        RecommendedChapter(
            chapter_id=chapter.chapter_id,
            module=chapter.module,
            priority=priority,
            reason=_reason(chapter, step, pack=pack, background=background, states=states, failed=failed),
            kind=step,
        )
        for priority, (chapter, step) in enumerate(ordered, start=1)
    ]
    rationale = _rationale(
        background,
        steps=steps,
        completed=len((completed & set(course_order)) - set(failed)),
        total=len(pack.chapters),
    )
    return PlannedPath(chapters=chapters, rationale=rationale)


# --- The learner's active path -----------------------------------------------------------------


def _is_active_clash(error: IntegrityError) -> bool:
    message = str(error.orig)
    # PostgreSQL names the index; SQLite names its column.
    return (
        "uq_learning_path_recommendations_one_active" in message
        or "learning_path_recommendations.user_id" in message
    )


async def _active(session: AsyncSession, *, user_id: uuid.UUID) -> LearningPathRecommendation | None:
    return await session.scalar(
        select(LearningPathRecommendation)
        .where(LearningPathRecommendation.user_id == user_id, LearningPathRecommendation.is_active)
        .execution_options(populate_existing=True)
    )


def _fits(recommendation: LearningPathRecommendation, *, user: User, course_id: str, now: datetime) -> bool:
    """Whether a stored path still answers for this learner and course now."""
    return (
        recommendation.course_id == course_id
        and recommendation.expires_at > now
        and recommendation.software_experience == user.software_experience
        and recommendation.hardware_experience == user.hardware_experience
    )


async def _replace_active(
    session: AsyncSession, *, user: User, course_id: str, plan: PlannedPath, now: datetime
) -> LearningPathRecommendation:
    """Retire the learner's active path and store the new one; a concurrent planner's path may win."""
    for _ in range(REPLACE_TRIES):
        await deactivate_active(session, user_id=user.id)
        recommendation = LearningPathRecommendation(
            user_id=user.id,
            course_id=course_id,
            recommended_chapters=[chapter.model_dump(mode="json") for chapter in plan.chapters],
            rationale=plan.rationale,
            software_experience=user.software_experience,
            hardware_experience=user.hardware_experience,
            generator="rules",
            created_at=now,
            expires_at=now + PATH_LIFETIME,
            is_active=True,
        )
        try:
            # A savepoint: losing the race to the unique index undoes only this insert.
            async with session.begin_nested():
                session.add(recommendation)
                await session.flush()
            return recommendation
        except IntegrityError as error:
            if not _is_active_clash(error):
                raise
        # Another request stored a path for this learner meanwhile; it is as good as ours if it fits.
        winner = await _active(session, user_id=user.id)
        if winner is not None and _fits(winner, user=user, course_id=course_id, now=now):
            return winner
    raise Conflict("Your learning path is being planned by another request; try again.")


def _path_read(
    recommendation: LearningPathRecommendation,
    *,
    user: User,
    pack: ContentPack,
    states: Mapping[str, ChapterStateSummary],
) -> LearningPathRead:
    chapters = []
    for item in recommendation.recommended_chapters:
        entry = RecommendedChapter.model_validate(item)
        chapter = pack.chapter(entry.chapter_id)
        if chapter is None:  # gone from the course since the path was planned
            continue
        decision = access_service.check_chapter(user, chapter)
        quiz = pack.quiz_for_chapter(chapter.chapter_id)
        state = states.get(chapter.chapter_id)
        chapters.append(
            PathChapter(
                **entry.model_dump(),
                title=chapter.title,
                difficulty_level=chapter.difficulty_level,
                estimated_time_minutes=chapter.estimated_time_minutes,
                prerequisites=chapter.prerequisites,
                quiz_id=quiz.quiz_id if quiz else None,
                state=state.state if state else "not_started",
                access_tier=chapter.access_tier,
                locked=not decision.allowed,
                required_tier=None if decision.allowed else decision.required_tier,
            )
        )
    return LearningPathRead(
        id=recommendation.id,
        course_id=recommendation.course_id,
        generator="llm" if recommendation.generator == "llm" else "rules",
        rationale=recommendation.rationale,
        software_experience=recommendation.software_experience,
        hardware_experience=recommendation.hardware_experience,
        created_at=recommendation.created_at,
        expires_at=recommendation.expires_at,
        chapters=chapters,
    )


async def get_learning_path(
    session: AsyncSession, *, user: User, pack: ContentPack, regenerate: bool = False
) -> LearningPathRead:
    """The learner's active path through a course, planned anew when missing, stale or `regenerate`d."""
    now = utcnow()
    course_id = pack.course.id
    states = await progress_service.chapter_states(session, user_id=user.id, course_id=course_id)
    recommendation = None if regenerate else await _active(session, user_id=user.id)
    if recommendation is None or not _fits(recommendation, user=user, course_id=course_id, now=now):
        scores = await quiz_queries.best_scores(session, user_id=user.id)
        plan = plan_path(
            pack,
            background=Background(user.software_experience, user.hardware_experience),
            states=states,
            quiz_results={
                quiz_id: score for (course, quiz_id), score in scores.items() if course == course_id
            },
        )
        recommendation = await _replace_active(session, user=user, course_id=course_id, plan=plan, now=now)
    return _path_read(recommendation, user=user, pack=pack, states=states)
