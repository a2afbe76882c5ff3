"""Deterministic grading with the answer key: checking answer shapes, marking, scoring."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from companion.content.schemas import (
    MultipleChoiceQuestion,
    MultipleSelectQuestion,
    OpenEndedQuestion,
    Question,
    Quiz,
    ShortAnswerQuestion,
    TrueFalseQuestion,
)
from companion.quizzes.exceptions import InvalidAnswers

MAX_TEXT_ANSWER = 10_000
# Joining punctuation separates words ("self-consistency" = "self consistency"); the rest is dropped.
_SEPARATORS = re.compile(r"[\-\u2010-\u2015/_]+")


@dataclass(frozen=True)
class GradedQuiz:
    """The outcome of grading: per-question details and the totals over auto-graded questions."""

    answers: dict[str, Any]
    details: dict[str, dict[str, Any]]
    correct_answers: int
    pending_questions: int
    score: float | None
    passed: bool | None


def normalize_text(text: str) -> str:
    """Case-, whitespace- and punctuation-insensitive form of a short answer."""
    text = _SEPARATORS.sub(" ", unicodedata.normalize("NFKC", text).casefold())
    text = "".join(char for char in text if not unicodedata.category(char).startswith("P"))
    return " ".join(text.split())


def _check(question: Question, answer: Any) -> tuple[Any, str | None]:
    """The answer in stored form, or a reason it does not fit the question type."""
    if isinstance(question, MultipleChoiceQuestion):
        option_ids = [option.id for option in question.options]
        if not isinstance(answer, str) or answer not in option_ids:
            return None, f"must be one option id of {option_ids}"
        return answer, None
    if isinstance(question, MultipleSelectQuestion):
        option_ids = [option.id for option in question.options]
        if not isinstance(answer, list) or not all(isinstance(item, str) for item in answer):
            return None, f"must be a list of option ids from {option_ids}"
        if any(item not in option_ids for item in answer):
            return None, f"must only contain option ids from {option_ids}"
        return sorted(set(answer)), None
    if isinstance(question, TrueFalseQuestion):
        if not isinstance(answer, bool):
            return None, "must be true or false (a JSON boolean)"
        return answer, None
    if not isinstance(answer, str) or len(answer) > MAX_TEXT_ANSWER:
        return None, f"must be text of at most {MAX_TEXT_ANSWER} characters"
    return answer, None


def check_answers(quiz: Quiz, answers: dict[str, Any]) -> dict[str, Any]:
    """Answers for exactly the quiz's questions, each of the right shape; otherwise InvalidAnswers."""
    missing = [question.question_id for question in quiz.questions if question.question_id not in answers]
    unknown = sorted(question_id for question_id in answers if quiz.question(question_id) is None)
    invalid: list[dict[str, Any]] = []
    checked: dict[str, Any] = {}
    for question in quiz.questions:
        if question.question_id not in answers:
            continue
        value, problem = _check(question, answers[question.question_id])
        if problem is not None:
            invalid.append({"question_id": question.question_id, "type": question.type, "message": problem})
        checked[question.question_id] = value
    if missing or unknown or invalid:
        raise InvalidAnswers(missing=missing, unknown=unknown, invalid=invalid)
    return checked


def _mark(question: Question, answer: Any) -> tuple[bool | None, Any]:
    """Whether the answer is right (None while it awaits a grader) and the right answer to show."""
    if isinstance(question, MultipleChoiceQuestion | TrueFalseQuestion):
        return answer == question.correct_answer, question.correct_answer
    if isinstance(question, MultipleSelectQuestion):
        expected = sorted(set(question.correct_answers))
        return answer == expected, expected
    if isinstance(question, ShortAnswerQuestion):
        accepted = {normalize_text(text) for text in question.accepted_answers}
        return normalize_text(answer) in accepted, question.accepted_answers[0]
    assert isinstance(question, OpenEndedQuestion)
    return None, question.sample_answer


def grade(quiz: Quiz, answers: dict[str, Any]) -> GradedQuiz:
    """Grade a complete set of answers; open-ended answers are pending and left out of the score."""
    checked = check_answers(quiz, answers)
    details: dict[str, dict[str, Any]] = {}
    correct_count = pending = 0
    for question in quiz.questions:
        answer = checked[question.question_id]
        correct, right_answer = _mark(question, answer)
        if correct is None:
            pending += 1
            status = "pending"
        else:
            correct_count += int(correct)
            status = "correct" if correct else "incorrect"
        details[question.question_id] = {
            "question_id": question.question_id,
            "type": question.type,
            "status": status,
            "correct": correct,
            "answer": answer,
            "correct_answer": right_answer,
            "explanation": question.explanation,
            "points": question.points,
            "earned_points": question.points if correct else 0,
        }
    score, passed = outcome(details, passing_score=quiz.passing_score)
    return GradedQuiz(
        answers=checked,
        details=details,
        correct_answers=correct_count,
        pending_questions=pending,
        score=score,
        passed=passed,
    )


def outcome(details: dict[str, dict[str, Any]], *, passing_score: float) -> tuple[float | None, bool | None]:
    """The score over the graded questions (0-100) and whether the attempt passed.

    While answers await grading, `passed` is decided only when the pending points cannot change it:
    True if the attempt passes even with no pending point earned, False if it fails even with all of
    them; otherwise None (awaiting grading).
    """
    graded = [item for item in details.values() if item["status"] != "pending"]
    earned = sum(item["earned_points"] for item in graded)
    possible = sum(item["points"] for item in graded)
    pending = sum(item["points"] for item in details.values() if item["status"] == "pending")
    score = round(100 * earned / possible, 2) if possible else None
    total = possible + pending
    if not total:
        return score, None
    if 100 * earned / total >= passing_score:
        return score, True
    if 100 * (earned + pending) / total < passing_score:
        return score, False
    return score, None
