"""Quiz attempt endpoints: start, submit, start-and-submit, history (content serves the quiz itself)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, status

from companion.accounts.policies import ProgressWriterDep, ReaderDep
from companion.content import service as content_service
from companion.content.dependencies import CatalogDep, PackDep
from companion.dependencies import CacheDep, SessionDep
from companion.progress.dependencies import TRACKED
from companion.quizzes import service as quizzes_service
from companion.quizzes.schemas import (
    AttemptHistory,
    AttemptRead,
    AttemptStarted,
    AttemptSubmit,
    AttemptSummary,
    QuizSubmit,
)

router = APIRouter(prefix="/api/v1", tags=["quizzes"])

_GATED: dict[int | str, dict[str, Any]] = {
    403: {"description": "upgrade_required: your tier cannot take this quiz"}
}
_SUBMIT_ERRORS: dict[int | str, dict[str, Any]] = {
    **_GATED,
    422: {"description": "validation_error: answers missing, for unknown questions, or of the wrong type"},
}


@router.post(
    "/courses/{course_id}/quizzes/{quiz_id}/attempts",
    response_model=AttemptStarted,
    status_code=status.HTTP_201_CREATED,
    dependencies=TRACKED,
    responses=_GATED,
)
async def start_attempt(
    quiz_id: str, pack: PackDep, identity: ProgressWriterDep, session: SessionDep
) -> AttemptStarted:
    """Start your next attempt at a quiz; timed quizzes get a `deadline_at`."""
    attempt = await quizzes_service.start_attempt(session, user=identity.user, pack=pack, quiz_id=quiz_id)
    quiz = content_service.get_quiz(pack, quiz_id).for_learner()
    return AttemptStarted(**AttemptSummary.model_validate(attempt).model_dump(), quiz=quiz)


@router.post(
    "/quiz-attempts/{attempt_id}/submit",
    response_model=AttemptRead,
    dependencies=TRACKED,
    responses={**_SUBMIT_ERRORS, 404: {"description": "not_found"}, 409: {"description": "conflict"}},
)
async def submit_attempt(
    attempt_id: uuid.UUID,
    data: AttemptSubmit,
    identity: ProgressWriterDep,
    session: SessionDep,
    catalog: CatalogDep,
    cache: CacheDep,
) -> AttemptRead:
    """Submit answers to a started attempt and get it graded, question by question.

    Every question needs an answer. A submission after the deadline (plus 30 seconds' grace) is still
    graded and counted, and flagged `is_late: true`. Open-ended answers are `pending`: they count
    neither for nor against the score. Passing completes the chapter; a second submission is 409.
    """
    attempt = await quizzes_service.submit_attempt(
        session, user=identity.user, catalog=catalog, attempt_id=attempt_id, answers=data.answers, cache=cache
    )
    return AttemptRead.model_validate(attempt)


@router.post(
    "/courses/{course_id}/quizzes/{quiz_id}/submit",
    response_model=AttemptRead,
    status_code=status.HTTP_201_CREATED,
    dependencies=TRACKED,
    responses=_SUBMIT_ERRORS,
)
async def submit_quiz(
    quiz_id: str,
    data: QuizSubmit,
    pack: PackDep,
    identity: ProgressWriterDep,
    session: SessionDep,
    cache: CacheDep,
) -> AttemptRead:
    """Start and submit an attempt in one call, graded as for a started attempt.

    With `time_taken_seconds` beyond the quiz's time limit (plus 30 seconds' grace) the attempt is
    still graded and counted, and flagged `is_late: true`.
    """
    attempt = await quizzes_service.submit_quiz(
        session,
        user=identity.user,
        pack=pack,
        quiz_id=quiz_id,
        answers=data.answers,
        time_taken_seconds=data.time_taken_seconds,
        cache=cache,
    )
    return AttemptRead.model_validate(attempt)


@router.get("/courses/{course_id}/quizzes/{quiz_id}/attempts", response_model=AttemptHistory)
async def list_attempts(
    quiz_id: str, pack: PackDep, reader: ReaderDep, session: SessionDep
) -> AttemptHistory:
    """Your attempts at a quiz, oldest first, with your best score and whether you have passed."""
    return await quizzes_service.list_attempts(session, user=reader.user, pack=pack, quiz_id=quiz_id)


@router.get("/quiz-attempts/{attempt_id}", response_model=AttemptRead)
async def read_attempt(attempt_id: uuid.UUID, reader: ReaderDep, session: SessionDep) -> AttemptRead:
    """One of your attempts, with your answers and, once submitted, the grading of each question."""
    attempt = await quizzes_service.get_attempt(session, user=reader.user, attempt_id=attempt_id)
    return AttemptRead.model_validate(attempt)
