"""Chapter progress and the dashboard through the API."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from companion.progress import service as progress_service
from tests.conftest import SignUp
from tests.progress.helpers import COURSE, make_premium, quiz, right_answers, wrong_answers

PROGRESS = f"/api/v1/progress/{COURSE}"
INTRO_SECTIONS = [
    "01-what-is-genai",
    "02-model-families",
    "03-brief-history",
    "04-uses-today",
    "05-limits-and-risks",
]


async def test_reading_sections_moves_a_chapter_to_completed_and_never_back(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    headers = (await sign_up())["headers"]
    first = await client.put(
        f"{PROGRESS}/01-intro-genai",
        json={"section_id": INTRO_SECTIONS[0], "time_spent_seconds": 120, "completed": False},
        headers=headers,
    )
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["state"], body["completion_percentage"], body["last_section_id"]) == (
        "in_progress",
        20.0,
        INTRO_SECTIONS[0],
    )
    assert body["completed_at"] is None and body["time_spent_seconds"] == 120

    # Re-reading a section does not count twice; the resume point is the last section touched.
    for section_id in [INTRO_SECTIONS[2], INTRO_SECTIONS[0]]:
        body = (
            await client.put(
                f"{PROGRESS}/01-intro-genai",
                json={"section_id": section_id, "time_spent_seconds": 60},
                headers=headers,
            )
        ).json()
    assert (body["completion_percentage"], body["last_section_id"], body["time_spent_seconds"]) == (
        40.0,
        INTRO_SECTIONS[0],
        240,
    )
    for section_id in INTRO_SECTIONS[1:]:
        body = (
            await client.put(f"{PROGRESS}/01-intro-genai", json={"section_id": section_id}, headers=headers)
        ).json()
    assert body["state"] == "completed" and body["completion_percentage"] == 100.0
    completed_at = body["completed_at"]
    assert completed_at is not None

    undo = await client.put(
        f"{PROGRESS}/01-intro-genai",
        json={"section_id": INTRO_SECTIONS[1], "completed": False},
        headers=headers,
    )
    assert undo.json()["state"] == "completed" and undo.json()["completed_at"] == completed_at
    assert undo.json()["last_section_id"] == INTRO_SECTIONS[1]

    # However a chapter is completed, it counts as 100%, and reading it again keeps it there.
    explicit = await client.put(f"{PROGRESS}/02-llms", json={"completed": True}, headers=headers)
    assert explicit.json()["state"] == "completed" and explicit.json()["completion_percentage"] == 100.0
    reread = await client.put(f"{PROGRESS}/02-llms", json={"section_id": "01-tokens"}, headers=headers)
    assert reread.json()["completion_percentage"] == 100.0


async def test_bad_targets_and_gated_chapters_are_refused(
    client: httpx.AsyncClient, sign_up: SignUp, db_session: AsyncSession
) -> None:
    tokens = await sign_up()
    headers = tokens["headers"]
    unknown_section = await client.put(
        f"{PROGRESS}/01-intro-genai", json={"section_id": "nope"}, headers=headers
    )
    assert unknown_section.status_code == 422
    error = unknown_section.json()["error"]
    assert error["code"] == "validation_error" and error["details"]["field"] == "section_id"
    assert INTRO_SECTIONS[0] in error["details"]["section_ids"]
    assert (await client.put(f"{PROGRESS}/99-nothing", json={}, headers=headers)).status_code == 404
    assert (
        await client.put("/api/v1/progress/no-course/01-intro-genai", json={}, headers=headers)
    ).status_code == 404
    negative = await client.put(
        f"{PROGRESS}/01-intro-genai", json={"time_spent_seconds": -5}, headers=headers
    )
    assert negative.status_code == 422

    gated = await client.put(f"{PROGRESS}/04-rag", json={"section_id": "01-why-rag"}, headers=headers)
    assert gated.status_code == 403 and gated.json()["error"]["code"] == "upgrade_required"
    await make_premium(db_session, tokens)
    opened = await client.put(f"{PROGRESS}/04-rag", json={"section_id": "01-why-rag"}, headers=headers)
    assert opened.status_code == 200 and opened.json()["state"] == "in_progress"
    assert (await client.put(f"{PROGRESS}/01-intro-genai", json={})).status_code == 401
    key = await client.post(
        "/api/v1/me/api-keys", json={"name": "reader", "scopes": ["content:read"]}, headers=headers
    )
    read_only = {"Authorization": f"Bearer {key.json()['key']}"}
    refused = await client.put(f"{PROGRESS}/01-intro-genai", json={}, headers=read_only)
    assert (
        refused.status_code == 403
        and refused.json()["error"]["details"]["required_scope"] == "progress:write"
    )
    assert (await client.get(PROGRESS, headers=read_only)).status_code == 200


async def test_dashboard_tracks_progress_quizzes_streak_and_next_chapter(
    client: httpx.AsyncClient, sign_up: SignUp, app: FastAPI, db_session: AsyncSession
) -> None:
    tokens = await sign_up()
    headers = tokens["headers"]
    fresh = (await client.get(PROGRESS, headers=headers)).json()
    assert fresh["chapters_completed"] == 0 and fresh["chapters_total"] == 6
    assert {chapter["state"] for chapter in fresh["chapters"]} == {"not_started"}
    assert fresh["locked_chapters"] == ["04-rag", "05-fine-tuning", "06-ai-applications"]
    assert fresh["next_chapter"]["chapter_id"] == "01-intro-genai"
    assert fresh["streak"]["current_streak"] == 0

    # Passing a quiz completes its chapter; failing one only starts it. Both count for the streak.
    await client.put(
        f"{PROGRESS}/01-intro-genai",
        json={"section_id": INTRO_SECTIONS[1], "time_spent_seconds": 90},
        headers=headers,
    )
    quizzes = f"/api/v1/courses/{COURSE}/quizzes"
    passed = await client.post(
        f"{quizzes}/01-quiz/submit", json={"answers": right_answers(quiz(app, "01-quiz"))}, headers=headers
    )
    assert passed.json()["passed"] is True
    failed = await client.post(
        f"{quizzes}/02-quiz/submit", json={"answers": wrong_answers(quiz(app, "02-quiz"))}, headers=headers
    )
    assert failed.json()["passed"] is False

    dashboard = (await client.get(PROGRESS, headers=headers)).json()  # the cached copy was invalidated
    chapters = {chapter["chapter_id"]: chapter for chapter in dashboard["chapters"]}
    intro, llms = chapters["01-intro-genai"], chapters["02-llms"]
    # Passing the quiz completed the chapter, so it is 100% although one section was read.
    assert intro["state"] == "completed" and intro["completion_percentage"] == 100.0
    assert intro["last_section_id"] == INTRO_SECTIONS[1] and intro["time_spent_seconds"] == 90
    assert intro["quiz"] == {"quiz_id": "01-quiz", "best_score": 100.0, "passed": True, "attempts": 1}
    assert (
        llms["state"] == "in_progress" and llms["quiz"]["passed"] is False and llms["quiz"]["attempts"] == 1
    )
    assert dashboard["chapters_completed"] == 1 and dashboard["completion_percentage"] == round(100 / 6, 2)
    assert dashboard["next_chapter"]["chapter_id"] == "02-llms"
    assert dashboard["next_chapter"]["reason"] == "Continue where you left off."
    assert dashboard["streak"]["current_streak"] == 1 and dashboard["streak"]["active_today"] is True

    for chapter_id in ("02-llms", "03-prompting"):
        await client.put(f"{PROGRESS}/{chapter_id}", json={"completed": True}, headers=headers)
    blocked = (await client.get(PROGRESS, headers=headers)).json()["next_chapter"]
    assert blocked["chapter_id"] == "04-rag" and blocked["upgrade_required"] is True
    assert blocked["required_tier"] == "premium" and "Premium" in blocked["reason"]

    # A new tier shows at once: the cached dashboard is keyed by the tier it was built for.
    await make_premium(db_session, tokens)
    upgraded = (await client.get(PROGRESS, headers=headers)).json()
    assert upgraded["locked_chapters"] == [] and upgraded["next_chapter"]["chapter_id"] == "04-rag"
    assert upgraded["next_chapter"]["upgrade_required"] is False

    everything = (await client.get("/api/v1/progress", headers=headers)).json()
    assert [course["course_id"] for course in everything["courses"]] == [COURSE]
    assert everything["courses"][0]["chapters_completed"] == 3 and everything["streak"]["current_streak"] == 1
    assert (await client.get("/api/v1/progress/no-course", headers=headers)).status_code == 404

    states = await progress_service.chapter_states(
        db_session, user_id=uuid.UUID(tokens["user"]["id"]), course_id=COURSE
    )
    assert {chapter_id: state.state for chapter_id, state in states.items()} == {
        "01-intro-genai": "completed",
        "02-llms": "completed",
        "03-prompting": "completed",
    }
    assert states["01-intro-genai"].last_section_id == INTRO_SECTIONS[1]
