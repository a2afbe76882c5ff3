"""Quiz attempts: start, submit (graded with the answer key), history and best scores.

Late submissions are accepted: an attempt submitted after its deadline (plus a short grace for the
network) is graded and counted like any other, and flagged `is_late` so the learner and instructors
can see it. Passing a quiz completes its chapter; every submission counts for the daily streak.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Insert, Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from companion.access import service as access_service
from companion.accounts.models import User
from companion.cache import Cache
from companion.content import service as content_service
from companion.content.schemas import ContentPack, OpenEndedQuestion, Quiz
from companion.content.service import ContentCatalog
from companion.db import serialize_writes, upsert_insert, utcnow
from companion.errors import Conflict
from companion.progress import service as progress_service
from companion.quizzes import grading
from companion.quizzes.exceptions import (
    AttemptAlreadySubmitted,
    AttemptNotFound,
    AttemptNotSubmitted,
    InvalidGrades,
)
from companion.quizzes.models import QuizAttempt
from companion.quizzes.schemas import AttemptHistory, AttemptSummary, OpenAnswerGrade

LATE_GRACE = timedelta(seconds=30)
# Concurrent attempts of one learner at one quiz may pick the same number; each clash retries.
ATTEMPT_NUMBER_TRIES = 20


@functools.cache
def _attempt_insert(dialect: str, columns: tuple[str, ...]) -> Insert:
    """The insert of an attempt with these columns, built once: every value is a bound parameter.

    A number taken meanwhile by a concurrent attempt inserts nothing (without aborting the
    transaction, so no savepoint is needed). A Core insert, built once: on this hot path the ORM's
    bulk-insert machinery and building the statement cost more than running it.
    """
    table = cast(Table, QuizAttempt.__table__)
    next_number = (
        select(func.coalesce(func.max(table.c.attempt_number), 0) + 1)
        .where(
            table.c.user_id == bindparam("number_user_id"),
            table.c.course_id == bindparam("number_course_id"),
            table.c.quiz_id == bindparam("number_quiz_id"),
        )
        .scalar_subquery()
    )
    insert = upsert_insert(dialect)
    values = {name: bindparam(f"new_{name}", type_=table.c[name].type) for name in columns}
    return (
        insert(table)
        .values(attempt_number=next_number, **values)
        .on_conflict_do_nothing()
        .returning(*table.c)
    )


async def _insert_attempt(
    session: AsyncSession, *, user: User, pack: ContentPack, quiz: Quiz, values: dict[str, Any]
) -> QuizAttempt:
    """Insert the learner's next attempt, numbered 1, 2, 3... with no gaps or duplicates under concurrency."""
    await serialize_writes(session)
    course_id = pack.course.id
    row_values = {
        "user_id": user.id,
        "course_id": course_id,
        "quiz_id": quiz.quiz_id,
        "chapter_id": quiz.chapter_id,
        "content_version": pack.version,
        "total_questions": len(quiz.questions),
        **values,
    }
    statement = _attempt_insert(session.get_bind().dialect.name, tuple(row_values))
    parameters = {f"new_{name}": value for name, value in row_values.items()}
    parameters.update(number_user_id=user.id, number_course_id=course_id, number_quiz_id=quiz.quiz_id)
    for _ in range(ATTEMPT_NUMBER_TRIES):  # a clash with a concurrent attempt counts again
        row = (await session.execute(statement, parameters)).first()
        if row is not None:
            return QuizAttempt(**row._mapping)  # not added to the session: the row is written
    raise Conflict("Too many simultaneous attempts at this quiz; try again.")


def _graded_values(graded: grading.GradedQuiz, *, submitted_at: datetime) -> dict[str, Any]:
    return {
        "status": "submitted",
        "answers": graded.answers,
        "grading_details": graded.details,
        "score": graded.score,
        "correct_answers": graded.correct_answers,
        "pending_questions": graded.pending_questions,
        "passed": graded.passed,
        "submitted_at": submitted_at,
    }


def _deadline(quiz: Quiz, started_at: datetime) -> datetime | None:
    if quiz.time_limit_minutes is None:
        return None
    return started_at + timedelta(minutes=quiz.time_limit_minutes)


async def start_attempt(session: AsyncSession, *, user: User, pack: ContentPack, quiz_id: str) -> QuizAttempt:
    """Start the learner's next attempt at a quiz; timed quizzes get a deadline."""
    quiz = content_service.get_quiz(pack, quiz_id)
    access_service.check_quiz(user, pack, quiz_id).enforce()
    now = utcnow()
    return await _insert_attempt(
        session,
        user=user,
        pack=pack,
        quiz=quiz,
        values={"status": "started", "started_at": now, "deadline_at": _deadline(quiz, now)},
    )


async def get_attempt(session: AsyncSession, *, user: User, attempt_id: uuid.UUID) -> QuizAttempt:
    """One of the learner's own attempts; anyone else's is not found."""
    attempt = await session.get(QuizAttempt, attempt_id)
    if attempt is None or attempt.user_id != user.id:
        raise AttemptNotFound()
    return attempt


async def submit_attempt(
    session: AsyncSession,
    *,
    user: User,
    catalog: ContentCatalog,
    attempt_id: uuid.UUID,
    answers: dict[str, Any],
    cache: Cache,
) -> QuizAttempt:
    """Grade a started attempt; a second submission of the same attempt is a conflict."""
    attempt = await get_attempt(session, user=user, attempt_id=attempt_id)
    if attempt.status == "submitted":
        raise AttemptAlreadySubmitted(attempt.attempt_number)
    pack = catalog.pack(attempt.course_id)
    quiz = content_service.get_quiz(pack, attempt.quiz_id)
    access_service.check_quiz(user, pack, quiz.quiz_id).enforce()
    graded = grading.grade(quiz, answers)
    now = utcnow()
    await progress_service.record_activity(session, user=user, at=now, cache=cache)
    # Only a still-started attempt is updated, so two racing submissions cannot both be graded.
    result = await session.scalars(
        update(QuizAttempt)
        .where(QuizAttempt.id == attempt.id, QuizAttempt.status == "started")
        .values(
            **_graded_values(graded, submitted_at=now),
            total_questions=len(quiz.questions),
            time_taken_seconds=max(0, int((now - attempt.started_at).total_seconds())),
            is_late=attempt.deadline_at is not None and now > attempt.deadline_at + LATE_GRACE,
        )
        .returning(QuizAttempt),
        execution_options={"populate_existing": True, "synchronize_session": False},
    )
    submitted = result.one_or_none()
    if submitted is None:
        raise AttemptAlreadySubmitted(attempt.attempt_number)
    await progress_service.record_quiz_outcome(
        session,
        user_id=user.id,
        course_id=submitted.course_id,
        chapter_id=submitted.chapter_id,
        passed=submitted.passed,
        at=now,
        cache=cache,
    )
    return submitted


async def submit_quiz(
    session: AsyncSession,
    *,
    user: User,
    pack: ContentPack,
    quiz_id: str,
    answers: dict[str, Any],
    time_taken_seconds: int | None,
    cache: Cache,
) -> QuizAttempt:
    """Start and submit an attempt in one call; a client-reported time beyond the limit marks it late."""
    quiz = content_service.get_quiz(pack, quiz_id)
    access_service.check_quiz(user, pack, quiz_id).enforce()
    graded = grading.grade(quiz, answers)
    now = utcnow()
    started_at = now - timedelta(seconds=time_taken_seconds or 0)
    deadline_at = _deadline(quiz, started_at)
    await progress_service.record_activity(session, user=user, at=now, cache=cache)
    attempt = await _insert_attempt(
        session,
        user=user,
        pack=pack,
        quiz=quiz,
        values={
            **_graded_values(graded, submitted_at=now),
            "started_at": started_at,
            "deadline_at": deadline_at,
            "time_taken_seconds": time_taken_seconds,
            "is_late": deadline_at is not None and now > deadline_at + LATE_GRACE,
        },
    )
    await progress_service.record_quiz_outcome(
        session,
        user_id=user.id,
        course_id=pack.course.id,
        chapter_id=quiz.chapter_id,
        passed=attempt.passed,
        at=now,
        cache=cache,
    )
    return attempt


async def list_attempts(
    session: AsyncSession, *, user: User, pack: ContentPack, quiz_id: str
) -> AttemptHistory:
    """The learner's attempts at a quiz, oldest first, with the best score and whether any passed."""
    quiz = content_service.get_quiz(pack, quiz_id)
    result = await session.scalars(
        select(QuizAttempt)
        .where(
            QuizAttempt.user_id == user.id,
            QuizAttempt.course_id == pack.course.id,
            QuizAttempt.quiz_id == quiz.quiz_id,
        )
        .order_by(QuizAttempt.attempt_number)
    )
    attempts = list(result)
    scores = [attempt.score for attempt in attempts if attempt.score is not None]
    return AttemptHistory(
        course_id=pack.course.id,
        quiz_id=quiz.quiz_id,
        best_score=max(scores, default=None),
        passed=any(attempt.passed for attempt in attempts),
        attempts_count=len(attempts),
        attempts=[AttemptSummary.model_validate(attempt) for attempt in attempts],
    )


async def submitted_attempts(session: AsyncSession, *, user: User, course_id: str) -> list[AttemptSummary]:
    """The learner's submitted attempts in a course, oldest first (scores over time)."""
    result = await session.scalars(
        select(QuizAttempt)
        .where(
            QuizAttempt.user_id == user.id,
            QuizAttempt.course_id == course_id,
            QuizAttempt.status == "submitted",
        )
        .order_by(QuizAttempt.submitted_at, QuizAttempt.attempt_number)
    )
    return [AttemptSummary.model_validate(attempt) for attempt in result]


def open_questions(pack: ContentPack, attempt: QuizAttempt, *, pending_only: bool) -> list[OpenEndedQuestion]:
    """The attempt's open-ended questions (only those still awaiting a grader with `pending_only`)."""
    quiz = content_service.get_quiz(pack, attempt.quiz_id)
    details = attempt.grading_details or {}
    return [
        question
        for question in quiz.questions
        if isinstance(question, OpenEndedQuestion)
        and question.question_id in details
        and (not pending_only or details[question.question_id]["status"] == "pending")
    ]


async def get_attempt_for_instructor(session: AsyncSession, *, attempt_id: uuid.UUID) -> QuizAttempt:
    """Any learner's attempt, for an instructor."""
    attempt = await session.get(QuizAttempt, attempt_id)
    if attempt is None:
        raise AttemptNotFound()
    return attempt


async def record_open_grades(
    session: AsyncSession,
    *,
    attempt: QuizAttempt,
    pack: ContentPack,
    grades: dict[str, OpenAnswerGrade],
    graded_by: str,
    cache: Cache,
) -> QuizAttempt:
    """Record grades of open-ended answers, then the attempt's score, `passed` and pending counts anew."""
    if attempt.status != "submitted" or attempt.grading_details is None:
        raise AttemptNotSubmitted()
    quiz = content_service.get_quiz(pack, attempt.quiz_id)
    now = utcnow()
    details = {question_id: dict(item) for question_id, item in attempt.grading_details.items()}
    problems = []
    for question_id, grade in grades.items():
        question = quiz.question(question_id)
        if not isinstance(question, OpenEndedQuestion) or question_id not in details:
            problems.append(
                {"question_id": question_id, "message": "not an open-ended question of this quiz"}
            )
        elif grade.earned_points > question.points:
            problems.append({"question_id": question_id, "message": f"at most {question.points} points"})
    if problems:
        raise InvalidGrades(problems)
    for question_id, grade in grades.items():
        points = details[question_id]["points"]
        earned = round(grade.earned_points, 2)
        details[question_id].update(
            status="correct" if earned >= points else "incorrect" if earned == 0 else "partial",
            correct=earned >= points,
            earned_points=earned,
            feedback=grade.feedback,
            criteria=[criterion.model_dump() for criterion in grade.criteria],
            graded_by=graded_by,
            graded_at=now.isoformat(),
        )
    score, passed = grading.outcome(details, passing_score=quiz.passing_score)
    attempt.grading_details = details
    attempt.score = score
    attempt.passed = passed
    attempt.pending_questions = sum(1 for item in details.values() if item["status"] == "pending")
    attempt.correct_answers = sum(1 for item in details.values() if item["status"] == "correct")
    await session.flush()
    await progress_service.record_quiz_outcome(
        session,
        user_id=attempt.user_id,
        course_id=attempt.course_id,
        chapter_id=attempt.chapter_id,
        passed=passed,
        at=now,
        cache=cache,
    )
    return attempt
