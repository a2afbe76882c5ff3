"""Quiz attempts through the API: start, grade, submit once, history, gate, deadlines, concurrency."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from companion.quizzes.models import QuizAttempt
from tests.conftest import SignUp
from tests.progress.helpers import COURSE, make_premium, quiz, right_answers, wrong_answers

QUIZZES = f"/api/v1/courses/{COURSE}/quizzes"


async def test_attempt_is_graded_per_question_and_submitted_once(
    client: httpx.AsyncClient, sign_up: SignUp, app: FastAPI
) -> None:
    headers = (await sign_up())["headers"]
    started = await client.post(f"{QUIZZES}/01-quiz/attempts", headers=headers)
    assert started.status_code == 201, started.text
    attempt = started.json()
    assert attempt["attempt_number"] == 1 and attempt["status"] == "started"
    assert attempt["deadline_at"] is not None and "grading_details" not in attempt
    questions = attempt["quiz"]["questions"]
    assert len(questions) == 12
    assert set().union(*questions) <= {"question_id", "type", "question_text", "points", "options"}

    answers = right_answers(quiz(app, "01-quiz"))
    answers["q10"] = "  A HALLUCINATION! "  # case, whitespace and punctuation do not matter
    answers["q1"] = "a"  # wrong
    submitted = await client.post(
        f"/api/v1/quiz-attempts/{attempt['id']}/submit", json={"answers": answers}, headers=headers
    )
    assert submitted.status_code == 200, submitted.text
    result = submitted.json()
    # 11 auto-graded questions, 10 right; the open-ended q12 counts neither way.
    assert result["status"] == "submitted" and result["is_late"] is False
    assert result["score"] == round(100 * 10 / 11, 2) and result["passed"] is True
    assert (result["correct_answers"], result["pending_questions"], result["total_questions"]) == (10, 1, 12)
    # The essay's point awaits grading; 10 of 12 points already pass the 70% mark whatever it earns.
    assert result["grading_status"] == "awaiting_grading"
    assert (result["earned_points"], result["pending_points"], result["total_points"]) == (10, 1, 12)
    details = result["grading_details"]
    assert details["q1"]["status"] == "incorrect" and details["q1"]["correct_answer"] == "c"
    assert details["q1"]["answer"] == "a" and details["q1"]["explanation"]
    assert details["q6"]["correct"] is True and details["q6"]["answer"] == ["a", "c", "d"]
    assert details["q10"]["status"] == "correct"
    assert details["q12"]["status"] == "pending" and details["q12"]["correct"] is None

    again = await client.post(
        f"/api/v1/quiz-attempts/{attempt['id']}/submit", json={"answers": answers}, headers=headers
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"

    retry = await client.post(
        f"{QUIZZES}/01-quiz/submit", json={"answers": wrong_answers(quiz(app, "01-quiz"))}, headers=headers
    )
    assert retry.status_code == 201 and retry.json()["attempt_number"] == 2
    assert retry.json()["score"] == 0 and retry.json()["passed"] is False
    history = (await client.get(f"{QUIZZES}/01-quiz/attempts", headers=headers)).json()
    assert history["attempts_count"] == 2 and history["best_score"] == result["score"]
    assert history["passed"] is True
    assert [item["attempt_number"] for item in history["attempts"]] == [1, 2]
    assert "grading_details" not in history["attempts"][0]


async def test_answers_that_cannot_be_graded_are_rejected(
    client: httpx.AsyncClient, sign_up: SignUp, app: FastAPI
) -> None:
    headers = (await sign_up())["headers"]
    answers = right_answers(quiz(app, "01-quiz"))
    partial = {key: value for key, value in answers.items() if key not in ("q3", "q12")}
    missing = await client.post(f"{QUIZZES}/01-quiz/submit", json={"answers": partial}, headers=headers)
    assert missing.status_code == 422
    assert missing.json()["error"]["code"] == "validation_error"
    assert missing.json()["error"]["details"]["missing"] == ["q3", "q12"]

    unknown = await client.post(
        f"{QUIZZES}/01-quiz/submit", json={"answers": {**answers, "q99": "a"}}, headers=headers
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["details"]["unknown"] == ["q99"]

    wrong_types = {**answers, "q8": "false", "q1": "z", "q6": "a", "q10": 5}
    invalid = await client.post(f"{QUIZZES}/01-quiz/submit", json={"answers": wrong_types}, headers=headers)
    assert invalid.status_code == 422
    flagged = {item["question_id"] for item in invalid.json()["error"]["details"]["invalid"]}
    assert flagged == {"q1", "q6", "q8", "q10"}

    history = (await client.get(f"{QUIZZES}/01-quiz/attempts", headers=headers)).json()
    assert history["attempts_count"] == 0
    unknown_quiz = await client.post(f"{QUIZZES}/99-quiz/attempts", headers=headers)
    assert unknown_quiz.status_code == 404


async def test_premium_quizzes_need_an_upgrade(
    client: httpx.AsyncClient, sign_up: SignUp, app: FastAPI, db_session: AsyncSession
) -> None:
    tokens = await sign_up()
    headers = tokens["headers"]
    answers = right_answers(quiz(app, "04-quiz"))
    for response in (
        await client.post(f"{QUIZZES}/04-quiz/attempts", headers=headers),
        await client.post(f"{QUIZZES}/04-quiz/submit", json={"answers": answers}, headers=headers),
    ):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "upgrade_required"
        assert response.json()["error"]["details"]["required_tier"] == "premium"
    await make_premium(db_session, tokens)
    passed = await client.post(f"{QUIZZES}/04-quiz/submit", json={"answers": answers}, headers=headers)
    assert passed.status_code == 201 and passed.json()["score"] == 100


async def test_an_attempt_belongs_to_its_learner(
    client: httpx.AsyncClient, sign_up: SignUp, app: FastAPI
) -> None:
    owner, other = (await sign_up())["headers"], (await sign_up())["headers"]
    attempt = (await client.post(f"{QUIZZES}/01-quiz/attempts", headers=owner)).json()
    answers = right_answers(quiz(app, "01-quiz"))
    stolen = await client.post(
        f"/api/v1/quiz-attempts/{attempt['id']}/submit", json={"answers": answers}, headers=other
    )
    assert stolen.status_code == 404 and stolen.json()["error"]["code"] == "not_found"
    assert (await client.get(f"/api/v1/quiz-attempts/{attempt['id']}", headers=other)).status_code == 404
    mine = await client.get(f"/api/v1/quiz-attempts/{attempt['id']}", headers=owner)
    assert mine.status_code == 200 and mine.json()["grading_details"] is None


async def test_late_submissions_are_graded_and_flagged(
    client: httpx.AsyncClient, sign_up: SignUp, app: FastAPI, db_session: AsyncSession
) -> None:
    headers = (await sign_up())["headers"]
    answers = right_answers(quiz(app, "01-quiz"))
    attempt = (await client.post(f"{QUIZZES}/01-quiz/attempts", headers=headers)).json()
    started_at = datetime.now(UTC) - timedelta(minutes=25)
    await db_session.execute(
        update(QuizAttempt)
        .where(QuizAttempt.id == uuid.UUID(attempt["id"]))
        .values(started_at=started_at, deadline_at=started_at + timedelta(minutes=20))
    )
    await db_session.commit()
    late = await client.post(
        f"/api/v1/quiz-attempts/{attempt['id']}/submit", json={"answers": answers}, headers=headers
    )
    assert late.status_code == 200
    assert late.json()["is_late"] is True and late.json()["passed"] is True
    assert late.json()["time_taken_seconds"] >= 25 * 60

    reported = await client.post(
        f"{QUIZZES}/01-quiz/submit", json={"answers": answers, "time_taken_seconds": 21 * 60}, headers=headers
    )
    on_time = await client.post(
        f"{QUIZZES}/01-quiz/submit", json={"answers": answers, "time_taken_seconds": 19 * 60}, headers=headers
    )
    assert reported.json()["is_late"] is True and on_time.json()["is_late"] is False


async def test_concurrent_attempts_are_numbered_without_gaps(
    client: httpx.AsyncClient, sign_up: SignUp, app: FastAPI
) -> None:
    headers = (await sign_up())["headers"]
    answers = right_answers(quiz(app, "02-quiz"))
    submits = [
        client.post(f"{QUIZZES}/02-quiz/submit", json={"answers": answers}, headers=headers) for _ in range(8)
    ]
    starts = [client.post(f"{QUIZZES}/02-quiz/attempts", headers=headers) for _ in range(6)]
    responses = await asyncio.gather(*submits, *starts)
    assert [response.status_code for response in responses] == [201] * 14, [r.text for r in responses]
    numbers = sorted(response.json()["attempt_number"] for response in responses)
    assert numbers == list(range(1, 15))
    history = (await client.get(f"{QUIZZES}/02-quiz/attempts", headers=headers)).json()
    assert [item["attempt_number"] for item in history["attempts"]] == list(range(1, 15))
