"""What one quiz submission costs the database, and the guarantees kept while making it cheap."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy import event

from tests.conftest import SignUp
from tests.progress.helpers import COURSE, quiz, right_answers, wrong_answers

SUBMIT = f"/api/v1/courses/{COURSE}/quizzes/01-quiz/submit"


@contextmanager
def recorded_statements(app: FastAPI) -> Iterator[list[str]]:
    """The SQL statements the application runs inside the block, in order."""
    statements: list[str] = []

    def record(_connection: object, _cursor: object, statement: str, *_rest: object) -> None:
        statements.append(" ".join(statement.split()))

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_a_submission_runs_four_statements(
    client: httpx.AsyncClient, sign_up: SignUp, app: FastAPI
) -> None:
    headers = (await sign_up())["headers"]
    first = await client.post(SUBMIT, json={"answers": wrong_answers(quiz(app, "01-quiz"))}, headers=headers)
    assert first.status_code == 201, first.text  # the day's first action: starts the streak

    # A later submission on the same day: the caller (with their login's revocation), the streak's
    # last activity, the attempt, and the chapter's progress (completed, as this one passes).
    with recorded_statements(app) as statements:
        passed = await client.post(
            SUBMIT, json={"answers": right_answers(quiz(app, "01-quiz"))}, headers=headers
        )
    assert passed.status_code == 201, passed.text
    assert [statement.split()[0] for statement in statements] == ["SELECT", "UPDATE", "INSERT", "INSERT"], (
        statements
    )
    assert passed.json()["attempt_number"] == 2 and passed.json()["passed"] is True

    # What the cheaper statements must still do: complete the chapter, keep the day's streak.
    dashboard = await client.get(f"/api/v1/progress/{COURSE}", headers=headers)
    assert dashboard.status_code == 200, dashboard.text
    chapter_id = quiz(app, "01-quiz").chapter_id
    chapter = next(item for item in dashboard.json()["chapters"] if item["chapter_id"] == chapter_id)
    assert chapter["state"] == "completed" and chapter["completion_percentage"] == 100
    assert chapter["completed_at"] is not None
    streak = dashboard.json()["streak"]
    assert streak["current_streak"] == 1 and streak["active_today"] is True


async def test_a_logged_out_caller_is_refused_a_submission_at_once(
    client: httpx.AsyncClient, sign_up: SignUp, app: FastAPI
) -> None:
    tokens = await sign_up()
    answers = {"answers": right_answers(quiz(app, "01-quiz"))}
    assert (await client.post(SUBMIT, json=answers, headers=tokens["headers"])).status_code == 201
    logout = await client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert logout.status_code == 204, logout.text

    refused = await client.post(SUBMIT, json=answers, headers=tokens["headers"])
    assert refused.status_code == 401, refused.text
    assert refused.json()["error"]["code"] == "unauthorized"
