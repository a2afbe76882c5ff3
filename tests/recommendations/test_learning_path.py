"""GET /api/v1/learning-path: the rule-based path, its lifetime, and one active path per learner."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from companion.accounts.models import User
from companion.db import create_sessionmaker
from companion.recommendations import service as recommendations_service
from companion.recommendations.models import LearningPathRecommendation
from tests.conftest import SignUp
from tests.progress.helpers import COURSE, make_premium, quiz, right_answers, wrong_answers

PATH = f"/api/v1/learning-path?course_id={COURSE}"
ALL_CHAPTERS = ["01-intro-genai", "02-llms", "03-prompting", "04-rag", "05-fine-tuning", "06-ai-applications"]


def order(path: dict[str, Any]) -> list[str]:
    """The chapter ids of a path, in order."""
    return [item["chapter_id"] for item in path["chapters"]]


async def complete(client: httpx.AsyncClient, headers: dict[str, str], chapter_id: str) -> None:
    """Mark a chapter completed through the progress API."""
    response = await client.put(
        f"/api/v1/progress/{COURSE}/{chapter_id}", json={"completed": True}, headers=headers
    )
    assert response.status_code == 200, response.text


async def active_count(db_session: AsyncSession, user_id: str) -> int:
    """How many active paths the learner has (the database allows one)."""
    return int(
        await db_session.scalar(
            select(func.count())
            .select_from(LearningPathRecommendation)
            .where(
                LearningPathRecommendation.user_id == uuid.UUID(user_id), LearningPathRecommendation.is_active
            )
        )
        or 0
    )


async def test_a_beginner_follows_the_course_in_order_with_locks_marked(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    learner = await sign_up(software_experience="beginner", hardware_experience="none")
    response = await client.get(PATH, headers=learner["headers"])
    assert response.status_code == 200, response.text
    path = response.json()
    assert order(path) == ALL_CHAPTERS
    assert [item["priority"] for item in path["chapters"]] == [1, 2, 3, 4, 5, 6]
    assert {item["kind"] for item in path["chapters"]} == {"study"}
    first, prompting = path["chapters"][0], path["chapters"][2]
    assert first["module"] == "foundations" and "At your level" in first["reason"]
    assert (
        "step up" in prompting["reason"]
        and 'Builds on "How Large Language Models Work"' in prompting["reason"]
    )
    assert [(item["locked"], item["required_tier"]) for item in path["chapters"]] == [
        (False, None),
        (False, None),
        (False, None),
        (True, "premium"),
        (True, "premium"),
        (True, "premium"),
    ]
    assert path["generator"] == "rules" and path["course_id"] == COURSE
    assert (path["software_experience"], path["hardware_experience"]) == ("beginner", "none")
    assert "beginner software experience" in path["rationale"]
    lifetime = datetime.fromisoformat(path["expires_at"]) - datetime.fromisoformat(path["created_at"])
    assert lifetime == timedelta(days=7)


async def test_an_advanced_learner_starts_at_their_level_with_basics_as_review(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    learner = await sign_up(software_experience="advanced", hardware_experience="professional")
    path = (await client.get(PATH, headers=learner["headers"])).json()
    assert order(path) == [
        "03-prompting",
        "04-rag",
        "05-fine-tuning",
        "06-ai-applications",
        "01-intro-genai",
        "02-llms",
    ]
    kinds = [item["kind"] for item in path["chapters"]]
    assert kinds == ["study"] * 4 + ["review"] * 2
    assert "move through it quickly" in path["chapters"][0]["reason"]
    assert path["chapters"][-1]["reason"].startswith("Optional review")
    assert "optional review" in path["rationale"]


async def test_completed_chapters_are_dropped_and_a_failed_quiz_comes_first(
    client: httpx.AsyncClient, sign_up: SignUp, app: FastAPI
) -> None:
    learner = await sign_up()
    headers = learner["headers"]
    for chapter_id in ("01-intro-genai", "02-llms", "03-prompting"):
        await complete(client, headers, chapter_id)
    passed = await client.post(
        f"/api/v1/courses/{COURSE}/quizzes/01-quiz/submit",
        json={"answers": right_answers(quiz(app, "01-quiz"))},
        headers=headers,
    )
    failed = await client.post(
        f"/api/v1/courses/{COURSE}/quizzes/02-quiz/submit",
        json={"answers": wrong_answers(quiz(app, "02-quiz"))},
        headers=headers,
    )
    assert passed.json()["passed"] is True and failed.json()["passed"] is False

    path = (await client.get(PATH, headers=headers)).json()
    # 02 was read to the end, but its quiz was not passed: it is revisited before anything new.
    assert order(path) == ["02-llms", "04-rag", "05-fine-tuning", "06-ai-applications"]
    revisit = path["chapters"][0]
    assert revisit["kind"] == "revisit" and revisit["state"] == "completed"
    assert "0%" in revisit["reason"] and "pass mark" in revisit["reason"]
    assert "2 completed chapter(s) are left out" in path["rationale"]


async def test_started_chapters_come_next_but_never_before_their_prerequisites(
    client: httpx.AsyncClient, sign_up: SignUp, db_session: AsyncSession
) -> None:
    learner = await sign_up()
    await make_premium(db_session, learner)
    response = await client.put(
        f"/api/v1/progress/{COURSE}/05-fine-tuning",
        json={"section_id": "02-when-to-fine-tune"},
        headers=learner["headers"],
    )
    assert response.status_code == 200, response.text
    path = (await client.get(PATH, headers=learner["headers"])).json()
    assert order(path) == [
        "01-intro-genai",
        "02-llms",
        "05-fine-tuning",
        "03-prompting",
        "04-rag",
        "06-ai-applications",
    ]
    started = path["chapters"][2]
    assert started["kind"] == "continue" and started["state"] == "in_progress"
    assert started["reason"].startswith("Continue where you left off (14% read)")
    assert not any(item["locked"] for item in path["chapters"])


async def test_the_path_is_kept_until_it_expires_or_is_regenerated(
    client: httpx.AsyncClient, sign_up: SignUp, db_session: AsyncSession
) -> None:
    learner = await sign_up()
    headers, user_id = learner["headers"], learner["user"]["id"]
    first = (await client.get(PATH, headers=headers)).json()
    await complete(client, headers, "01-intro-genai")
    kept = (await client.get(PATH, headers=headers)).json()
    # The stored path is kept for 7 days; each chapter shows its state now.
    assert kept["id"] == first["id"] and order(kept) == ALL_CHAPTERS
    assert kept["chapters"][0]["state"] == "completed"

    regenerated = (await client.get(PATH + "&regenerate=true", headers=headers)).json()
    assert regenerated["id"] != first["id"] and "01-intro-genai" not in order(regenerated)
    assert await active_count(db_session, user_id) == 1

    await db_session.execute(
        update(LearningPathRecommendation)
        .where(LearningPathRecommendation.id == uuid.UUID(regenerated["id"]))
        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    await db_session.commit()
    renewed = (await client.get(PATH, headers=headers)).json()
    assert renewed["id"] not in (first["id"], regenerated["id"])
    assert await active_count(db_session, user_id) == 1
    total = await db_session.scalar(
        select(func.count())
        .select_from(LearningPathRecommendation)
        .where(LearningPathRecommendation.user_id == uuid.UUID(user_id))
    )
    assert total == 3


async def test_a_background_change_replans_the_path(
    client: httpx.AsyncClient, sign_up: SignUp, db_session: AsyncSession
) -> None:
    learner = await sign_up(software_experience="beginner")
    headers = learner["headers"]
    before = (await client.get(PATH, headers=headers)).json()
    changed = await client.patch("/api/v1/me", json={"software_experience": "advanced"}, headers=headers)
    assert changed.status_code == 200, changed.text
    after = (await client.get(PATH, headers=headers)).json()
    assert after["id"] != before["id"] and after["software_experience"] == "advanced"
    assert order(after)[-2:] == ["01-intro-genai", "02-llms"]
    assert await active_count(db_session, learner["user"]["id"]) == 1


async def test_concurrent_requests_leave_one_active_path(
    client: httpx.AsyncClient, sign_up: SignUp, db_session: AsyncSession
) -> None:
    learner = await sign_up()
    headers = learner["headers"]
    responses = await asyncio.gather(
        *(client.get(PATH + ("&regenerate=true" if index % 2 else ""), headers=headers) for index in range(6))
    )
    assert [response.status_code for response in responses] == [200] * 6, [r.text for r in responses]
    assert await active_count(db_session, learner["user"]["id"]) == 1


async def test_a_planner_that_loses_the_race_answers_with_the_winners_path(
    client: httpx.AsyncClient, sign_up: SignUp, app: FastAPI, db_session: AsyncSession
) -> None:
    learner = await sign_up()
    user_id = uuid.UUID(learner["user"]["id"])
    pack = app.state.catalog.pack(COURSE)
    sessionmaker = create_sessionmaker(app.state.engine)
    async with sessionmaker() as first_session, sessionmaker() as second_session:
        first_user = await first_session.get(User, user_id)
        second_user = await second_session.get(User, user_id)
        assert first_user is not None and second_user is not None
        # The first planner has stored its path but not committed when the second one starts.
        first = await recommendations_service.get_learning_path(first_session, user=first_user, pack=pack)
        second_task = asyncio.create_task(
            recommendations_service.get_learning_path(second_session, user=second_user, pack=pack)
        )
        await asyncio.sleep(0.3)
        await first_session.commit()
        second = await asyncio.wait_for(second_task, timeout=30)
        await second_session.commit()
    # PostgreSQL: the second waits on the unique index, then answers with the first's path;
    # SQLite: the second waits for the write lock, then retires the first's path. Never two, never a 500.
    assert second.id in (first.id, second.id) and order(second.model_dump()) == ALL_CHAPTERS
    assert await active_count(db_session, str(user_id)) == 1


async def test_signed_in_only_and_unknown_courses_are_not_found(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    assert (await client.get(PATH)).status_code == 401
    headers = (await sign_up())["headers"]
    missing = await client.get("/api/v1/learning-path?course_id=no-such-course", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    no_course = await client.get("/api/v1/learning-path", headers=headers)
    assert no_course.status_code == 422
