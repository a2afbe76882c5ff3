"""Phase-2 tools about the learner's own record, driven by the SDK client over HTTP (and in process)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from mcp.client.client import Client
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from companion.mcp.context import ToolContext
from companion.mcp.server import create_server
from companion.progress import sessions as learning_sessions
from companion.progress.models import LearningSession
from companion.quizzes.models import QuizAttempt
from tests.conftest import SignUp
from tests.mcp.conftest import COURSE, call, create_api_key, mcp_client, structured
from tests.mcp.test_widgets import NODE, run_widget
from tests.progress.helpers import quiz, right_answers, wrong_answers

LEARNER_TOOL_CALLS: dict[str, dict[str, Any]] = {
    "submit_quiz_answers": {"course_id": COURSE, "quiz_id": "01-quiz", "answers": {"q1": "a"}},
    "record_progress": {
        "course_id": COURSE,
        "chapter_id": "01-intro-genai",
        "section_id": "01-what-is-genai",
    },
    "my_progress": {},
    "my_streak": {},
    "my_learning_path": {"course_id": COURSE},
}
LEARNER_TOOL_SCOPES = {
    "submit_quiz_answers": "progress:write",
    "record_progress": "progress:write",
    "my_progress": "content:read",
    "my_streak": "content:read",
    "my_learning_path": "content:read",
}


def in_process_server(app: FastAPI, *, api_key: str | None) -> Client:
    """The real server in process, acting for `api_key` as the stdio server does."""
    state = app.state
    context = ToolContext.from_app_state(state, api_key=api_key)
    return Client(create_server(lambda: context))


async def chatgpt_sessions(db_session: AsyncSession, user_id: str) -> list[LearningSession]:
    """The learner's learning sessions recorded from the assistant, oldest first."""
    db_session.expire_all()
    result = await db_session.scalars(
        select(LearningSession)
        .where(LearningSession.user_id == uuid.UUID(user_id))
        .order_by(LearningSession.started_at)
    )
    return list(result)


async def test_a_learner_studies_through_the_assistant(
    live_server: str, client: httpx.AsyncClient, sign_up: SignUp, app: FastAPI, db_session: AsyncSession
) -> None:
    learner = await sign_up(email="studious@example.com")
    key = await create_api_key(client, learner["headers"])
    quiz_02 = quiz(app, "02-quiz")
    answers = wrong_answers(quiz_02)
    answers[quiz_02.questions[0].question_id] = right_answers(quiz_02)[quiz_02.questions[0].question_id]

    async with mcp_client(live_server, token=key) as mcp:
        chapter = structured(await call(mcp, "read_chapter", course_id=COURSE, chapter_id="01-intro-genai"))
        section = structured(
            await call(mcp, "read_section", course_id=COURSE, chapter_id="02-llms", section_id="01-tokens")
        )
        started = structured(
            await call(
                mcp,
                "record_progress",
                course_id=COURSE,
                chapter_id="01-intro-genai",
                section_id="01-what-is-genai",
                time_spent_seconds=300,
            )
        )
        finished = structured(
            await call(mcp, "record_progress", course_id=COURSE, chapter_id="01-intro-genai", completed=True)
        )
        submitted = await call(
            mcp, "submit_quiz_answers", course_id=COURSE, quiz_id="02-quiz", answers=answers
        )
        progress = structured(await call(mcp, "my_progress", course_id=COURSE))
        everything = structured(await call(mcp, "my_progress"))
        streak = structured(await call(mcp, "my_streak"))
        path = structured(await call(mcp, "my_learning_path", course_id=COURSE))

    assert chapter["status"] == section["status"] == "ok"
    assert started["progress"]["state"] == "in_progress"
    assert started["progress"]["completion_percentage"] == 20.0  # 1 of 5 sections
    assert started["progress"]["time_spent_seconds"] == 300
    assert finished["progress"]["state"] == "completed" and finished["progress"]["completed_at"]

    # The quiz is graded by the answer key, question by question.
    assert submitted.is_error is False
    attempt = structured(submitted)["attempt"]
    auto_graded = [q for q in quiz_02.questions if q.type != "open_ended"]
    assert attempt["correct_answers"] == 1 and attempt["total_questions"] == len(quiz_02.questions)
    assert attempt["score"] == round(100 / len(auto_graded), 2) and attempt["passed"] is False
    assert structured(submitted)["passing_score"] == quiz_02.passing_score
    details = attempt["grading_details"]
    assert set(details) == {q.question_id for q in quiz_02.questions}
    first = details[quiz_02.questions[0].question_id]
    assert first["status"] == "correct" and first["explanation"]
    assert details[auto_graded[1].question_id]["status"] == "incorrect"

    # ... and shows in the dashboard, with the chapter progress.
    chapters = {item["chapter_id"]: item for item in progress["chapters"]}
    assert progress["course_id"] == COURSE and progress["chapters_completed"] == 1
    assert chapters["01-intro-genai"]["state"] == "completed"
    assert chapters["02-llms"]["state"] == "in_progress"
    assert chapters["02-llms"]["quiz"] == {
        "quiz_id": "02-quiz",
        "best_score": attempt["score"],
        "passed": False,
        "attempts": 1,
    }
    assert chapters["03-prompting"]["state"] == "not_started"
    assert [course["course_id"] for course in everything["courses"]] == [COURSE]
    assert streak["streak"]["current_streak"] == 1 and streak["streak"]["active_today"] is True

    # The learning path: the failed quiz's chapter first, the completed chapter gone, locks marked.
    learning_path = path["learning_path"]
    ordered = [item["chapter_id"] for item in learning_path["chapters"]]
    assert ordered == ["02-llms", "03-prompting", "04-rag", "05-fine-tuning", "06-ai-applications"]
    assert [item["priority"] for item in learning_path["chapters"]] == [1, 2, 3, 4, 5]
    assert (
        learning_path["chapters"][0]["kind"] == "revisit"
        and "Revisit" in learning_path["chapters"][0]["reason"]
    )
    assert all(item["reason"] for item in learning_path["chapters"])
    locks = {
        item["chapter_id"]: (item["locked"], item["required_tier"]) for item in learning_path["chapters"]
    }
    assert locks["03-prompting"] == (False, None) and locks["04-rag"] == (True, "premium")
    assert learning_path["rationale"] and learning_path["software_experience"] == "beginner"

    # Every call was one interaction of one `chatgpt` learning session.
    [recorded] = await chatgpt_sessions(db_session, learner["user"]["id"])
    assert recorded.interface == "chatgpt" and recorded.ended_at is None
    assert recorded.interaction_count == 9
    assert recorded.chapters_accessed == ["01-intro-genai", "02-llms"]
    assert recorded.quizzes_taken == ["02-quiz"]


async def test_anonymous_callers_are_asked_to_sign_in_and_nothing_is_recorded(
    live_server: str, client: httpx.AsyncClient, db_session: AsyncSession
) -> None:
    async with mcp_client(live_server) as mcp:
        results = {tool: await call(mcp, tool, **arguments) for tool, arguments in LEARNER_TOOL_CALLS.items()}
        await call(mcp, "read_chapter", course_id=COURSE, chapter_id="01-intro-genai")
    for tool, result in results.items():
        assert result.is_error is True, tool
        body = structured(result)
        assert body["status"] == "sign_in_required", tool
        assert body["error"]["details"]["required_scope"] == LEARNER_TOOL_SCOPES[tool]
        assert "mcp/www_authenticate" in (result.meta or {}), tool
    assert await db_session.scalar(select(func.count()).select_from(LearningSession)) == 0


async def test_a_free_learner_is_offered_an_upgrade_for_premium_work(
    live_server: str, client: httpx.AsyncClient, sign_up: SignUp, app: FastAPI, db_session: AsyncSession
) -> None:
    learner = await sign_up()
    key = await create_api_key(client, learner["headers"])
    async with mcp_client(live_server, token=key) as mcp:
        premium_quiz = await call(
            mcp,
            "submit_quiz_answers",
            course_id=COURSE,
            quiz_id="04-quiz",
            answers=right_answers(quiz(app, "04-quiz")),
        )
        premium_chapter = await call(
            mcp,
            "record_progress",
            course_id=COURSE,
            chapter_id="05-fine-tuning",
            section_id="02-when-to-fine-tune",
        )
    for result, target in (
        (premium_quiz, {"quiz_id": "04-quiz"}),
        (premium_chapter, {"chapter_id": "05-fine-tuning"}),
    ):
        assert result.is_error is False
        body = structured(result)
        assert body["status"] == "upgrade_required"
        assert body["required_tier"] == "premium" and body["current_tier"] == "free"
        assert "Premium" in body["reason"] and body["course_id"] == COURSE
        assert target.items() <= body.items()
    assert await db_session.scalar(select(func.count()).select_from(QuizAttempt)) == 0


async def test_answers_that_cannot_be_graded_name_the_questions(
    live_server: str, client: httpx.AsyncClient, sign_up: SignUp, app: FastAPI
) -> None:
    learner = await sign_up()
    key = await create_api_key(client, learner["headers"])
    answers = right_answers(quiz(app, "01-quiz"))
    del answers["q2"], answers["q3"]
    answers["q1"] = ["not", "one", "option"]
    answers["q99"] = "a"
    async with mcp_client(live_server, token=key) as mcp:
        result = await call(mcp, "submit_quiz_answers", course_id=COURSE, quiz_id="01-quiz", answers=answers)
        unknown_quiz = await call(mcp, "submit_quiz_answers", course_id=COURSE, quiz_id="99-quiz", answers={})
        unknown_section = await call(
            mcp, "record_progress", course_id=COURSE, chapter_id="01-intro-genai", section_id="nope"
        )
    assert result.is_error is True
    body = structured(result)
    assert body["status"] == "error" and body["error"]["code"] == "validation_error"
    message = result.content[0].text  # type: ignore[union-attr]
    for question_id in ("q1", "q2", "q3", "q99"):
        assert question_id in message
    details = body["error"]["details"]
    assert details["missing"] == ["q2", "q3"] and details["unknown"] == ["q99"]
    assert [item["question_id"] for item in details["invalid"]] == ["q1"]
    assert structured(unknown_quiz)["error"]["details"]["argument"] == "quiz_id"
    assert structured(unknown_section)["error"]["details"]["argument"] == "section_id"


async def test_a_read_only_credential_reads_its_record_but_records_nothing(
    app: FastAPI, client: httpx.AsyncClient, sign_up: SignUp, db_session: AsyncSession
) -> None:
    learner = await sign_up()
    key = await create_api_key(client, learner["headers"], scopes=["content:read"])
    async with in_process_server(app, api_key=key) as mcp:
        streak = await call(mcp, "my_streak")
        submitted = await call(mcp, "submit_quiz_answers", course_id=COURSE, quiz_id="01-quiz", answers={})
        await call(mcp, "read_chapter", course_id=COURSE, chapter_id="01-intro-genai")
    assert structured(streak)["streak"]["current_streak"] == 0
    assert structured(submitted)["status"] == "sign_in_required"
    assert 'error="insufficient_scope"' in submitted.meta["mcp/www_authenticate"][0]  # type: ignore[index]
    assert await chatgpt_sessions(db_session, learner["user"]["id"]) == []


async def test_desktop_calls_are_recorded_even_for_tools_that_do_not_need_an_account(
    app: FastAPI, client: httpx.AsyncClient, sign_up: SignUp, db_session: AsyncSession
) -> None:
    learner = await sign_up()
    key = await create_api_key(client, learner["headers"])
    async with in_process_server(app, api_key=key) as mcp:
        await call(mcp, "list_courses")
        await call(mcp, "read_chapter", course_id=COURSE, chapter_id="04-rag")  # locked: not counted
        await call(mcp, "next_chapter", course_id=COURSE, chapter_id="01-intro-genai")
        await call(mcp, "read_chapter", course_id=COURSE, chapter_id="02-llms")
    [recorded] = await chatgpt_sessions(db_session, learner["user"]["id"])
    assert recorded.interaction_count == 3
    assert recorded.chapters_accessed == ["02-llms"] and recorded.quizzes_taken == []


async def test_submit_quiz_answers_is_callable_by_the_quiz_widget(app: FastAPI) -> None:
    async with in_process_server(app, api_key=None) as mcp:
        tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
    submit = tools["submit_quiz_answers"]
    assert submit.meta == {
        "securitySchemes": [{"type": "oauth2", "scopes": ["progress:write"]}],
        "openai/widgetAccessible": True,
    }
    assert submit.annotations is not None and submit.annotations.idempotent_hint is False
    properties = submit.input_schema["properties"]
    assert submit.input_schema["required"] == ["course_id", "quiz_id", "answers"]
    assert "multiple_select" in properties["answers"]["description"]
    assert "time_taken_seconds" in properties


@pytest.mark.skipif(NODE is None, reason="Node.js is needed to run the widget scripts")
async def test_the_quiz_widget_shows_a_real_grading(
    app: FastAPI, client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    learner = await sign_up()
    key = await create_api_key(client, learner["headers"])
    answers = right_answers(quiz(app, "01-quiz"))
    async with in_process_server(app, api_key=key) as mcp:
        output = structured(await call(mcp, "get_quiz", course_id=COURSE, quiz_id="01-quiz"))
        graded = structured(
            await call(mcp, "submit_quiz_answers", course_id=COURSE, quiz_id="01-quiz", answers=answers)
        )
    events: list[Any] = []
    for question in output["quiz"]["questions"]:
        name, value = question["question_id"], answers[question["question_id"]]
        if question["type"] == "multiple_select":
            events.extend(["change", {"name": name, "value": option, "checked": True}] for option in value)
        elif question["type"] == "true_false":
            events.append(["change", {"name": name, "value": "true" if value else "false"}])
        else:
            events.append(["change", {"name": name, "value": value, "checked": True}])
    rendered = run_widget("quiz", output, [*events, ["submit", {}]], reply=graded)
    assert [sent["name"] for sent in rendered["calls"]] == ["submit_quiz_answers"]
    html = rendered["html"]
    assert "Passed · 100%" in html and "Correct" in html and "Awaiting review" in html


async def test_assistant_calls_share_a_session_until_half_an_hour_of_quiet(
    client: httpx.AsyncClient, sign_up: SignUp, db_session: AsyncSession
) -> None:
    learner = await sign_up()
    user_id = uuid.UUID(learner["user"]["id"])
    start = datetime.now(UTC)

    async def record(at: datetime, **touched: str) -> uuid.UUID:
        session_id = await learning_sessions.record_assistant_interaction(
            db_session, user_id=user_id, now=at, **touched
        )
        await db_session.commit()
        return session_id

    first = await record(start, chapter_id="01-intro-genai")
    assert await record(start + timedelta(minutes=20), chapter_id="01-intro-genai") == first
    assert await record(start + timedelta(minutes=49), quiz_id="01-quiz") == first  # 29 min after the last
    later = await record(start + timedelta(minutes=80), chapter_id="02-llms")
    assert later != first
    # An ended session is never reused, however recent.
    await learning_sessions.end(db_session, user_id=user_id, learning_session_id=later)
    await db_session.commit()
    third = await record(start + timedelta(minutes=81))

    rows = {row.id: row for row in await chatgpt_sessions(db_session, str(user_id))}
    assert set(rows) == {first, later, third}
    assert rows[first].interaction_count == 3 and rows[first].interface == "chatgpt"
    assert rows[first].chapters_accessed == ["01-intro-genai"] and rows[first].quizzes_taken == ["01-quiz"]
    assert rows[first].last_activity_at == start + timedelta(minutes=49)
    assert (rows[later].interaction_count, rows[later].chapters_accessed) == (1, ["02-llms"])
    assert (rows[third].interaction_count, rows[third].chapters_accessed) == (1, [])
