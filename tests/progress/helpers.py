"""Helpers shared by the learning-record tests: tiers, users and answer sheets."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from companion.accounts.models import User
from companion.billing import service as billing_service
from companion.content.schemas import (
    MultipleChoiceQuestion,
    MultipleSelectQuestion,
    Quiz,
    ShortAnswerQuestion,
    TrueFalseQuestion,
)

COURSE = "genai-fundamentals"


async def make_premium(session: AsyncSession, tokens: dict[str, Any]) -> None:
    """Move a signed-up learner to the premium tier."""
    user = await session.get(User, uuid.UUID(tokens["user"]["id"]))
    assert user is not None
    await billing_service.change_tier(session, user=user, tier="premium")
    await session.commit()


def quiz(app: FastAPI, quiz_id: str) -> Quiz:
    """A quiz of the shipped course, with its answer key."""
    found = app.state.catalog.pack(COURSE).quiz(quiz_id)
    assert found is not None
    return found


def right_answers(quiz: Quiz) -> dict[str, Any]:
    """An answer sheet with every auto-graded question right."""
    answers: dict[str, Any] = {}
    for question in quiz.questions:
        if isinstance(question, MultipleChoiceQuestion | TrueFalseQuestion):
            answers[question.question_id] = question.correct_answer
        elif isinstance(question, MultipleSelectQuestion):
            answers[question.question_id] = list(reversed(question.correct_answers))
        elif isinstance(question, ShortAnswerQuestion):
            answers[question.question_id] = question.accepted_answers[0]
        else:
            answers[question.question_id] = "An essay that a grader will read later."
    return answers


def wrong_answers(quiz: Quiz) -> dict[str, Any]:
    """An answer sheet with every auto-graded question wrong."""
    answers = right_answers(quiz)
    for question in quiz.questions:
        if isinstance(question, MultipleChoiceQuestion):
            answers[question.question_id] = next(
                option.id for option in question.options if option.id != question.correct_answer
            )
        elif isinstance(question, MultipleSelectQuestion):
            answers[question.question_id] = []
        elif isinstance(question, TrueFalseQuestion):
            answers[question.question_id] = not question.correct_answer
        elif isinstance(question, ShortAnswerQuestion):
            answers[question.question_id] = "no idea"
    return answers
