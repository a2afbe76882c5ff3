"""Learning sessions: start, tracked requests, end, and the idle-session job."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from companion.db import create_sessionmaker
from companion.progress.models import LearningSession
from companion.progress.tasks import end_idle_sessions
from tests.conftest import SignUp
from tests.progress.helpers import COURSE


async def test_requests_carrying_the_session_are_counted_until_it_ends(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    headers, other = (await sign_up())["headers"], (await sign_up())["headers"]
    started = await client.post(
        "/api/v1/sessions",
        json={"interface": "chatgpt", "device": "mobile", "metadata": {"app_version": "1.2"}},
        headers={**headers, "User-Agent": "ChatGPT/1.0"},
    )
    assert started.status_code == 201, started.text
    learning_session = started.json()
    assert learning_session["interaction_count"] == 0 and learning_session["ended_at"] is None
    assert learning_session["metadata"] == {
        "app_version": "1.2",
        "device": "mobile",
        "user_agent": "ChatGPT/1.0",
    }
    tracked = {**headers, "X-Learning-Session-Id": learning_session["id"]}

    for section_id in ("01-what-is-genai", "02-model-families"):
        await client.put(
            f"/api/v1/progress/{COURSE}/01-intro-genai", json={"section_id": section_id}, headers=tracked
        )
    await client.put(f"/api/v1/progress/{COURSE}/02-llms", json={}, headers=tracked)
    await client.post(f"/api/v1/courses/{COURSE}/quizzes/01-quiz/attempts", headers=tracked)
    # Someone else's session id is ignored, never an error.
    foreign = {**other, "X-Learning-Session-Id": learning_session["id"]}
    assert (
        await client.put(f"/api/v1/progress/{COURSE}/03-prompting", json={}, headers=foreign)
    ).status_code == 200

    assert (
        await client.patch(f"/api/v1/sessions/{learning_session['id']}", headers=other)
    ).status_code == 404
    ended = await client.patch(
        f"/api/v1/sessions/{learning_session['id']}", json={"ended": True}, headers=headers
    )
    assert ended.status_code == 200
    body = ended.json()
    assert body["interaction_count"] == 4
    assert body["chapters_accessed"] == ["01-intro-genai", "02-llms"] and body["quizzes_taken"] == ["01-quiz"]
    assert body["ended_at"] is not None and body["ended_at"] >= body["started_at"]
    # An ended session counts nothing more; ending it again changes nothing.
    await client.put(f"/api/v1/progress/{COURSE}/01-intro-genai", json={}, headers=tracked)
    again = await client.patch(f"/api/v1/sessions/{learning_session['id']}", headers=headers)
    assert again.json()["interaction_count"] == 4 and again.json()["ended_at"] == body["ended_at"]

    bad = await client.post("/api/v1/sessions", json={"interface": "fax"}, headers=headers)
    assert bad.status_code == 422
    missing = await client.patch(f"/api/v1/sessions/{uuid.uuid4()}", headers=headers)
    assert missing.status_code == 404


async def test_refused_requests_are_not_counted(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    learner = await sign_up()
    headers = learner["headers"]
    started = await client.post("/api/v1/sessions", json={"interface": "web"}, headers=headers)
    session_id = started.json()["id"]
    tracked = {**headers, "X-Learning-Session-Id": session_id}
    chapters = f"/api/v1/courses/{COURSE}/chapters"
    refused = [
        await client.get(f"{chapters}/04-rag", headers=tracked),  # 403: above the learner's tier
        await client.get(f"{chapters}/04-rag/sections/01-why-rag", headers=tracked),  # 403
        await client.get(f"/api/v1/courses/{COURSE}/quizzes/04-quiz", headers=tracked),  # 403
        await client.put(f"/api/v1/progress/{COURSE}/04-rag", json={}, headers=tracked),  # 403
        await client.post(f"/api/v1/courses/{COURSE}/quizzes/05-quiz/attempts", headers=tracked),  # 403
        await client.get(f"{chapters}/99-missing", headers=tracked),  # 404
        await client.get(f"{chapters}/01-intro-genai/sections/nope", headers=tracked),  # 404
        await client.put(
            f"/api/v1/progress/{COURSE}/01-intro-genai", json={"bogus": 1}, headers=tracked
        ),  # 422
        await client.get(
            f"{chapters}/01-intro-genai",
            headers={"Authorization": "Bearer expired-or-forged", "X-Learning-Session-Id": session_id},
        ),  # 401
    ]
    assert [response.status_code for response in refused] == [403, 403, 403, 403, 403, 404, 404, 422, 401]
    # A read-only key may read, but counting would write to the learning record.
    key = await client.post(
        "/api/v1/me/api-keys", json={"name": "reader", "scopes": ["content:read"]}, headers=headers
    )
    read_only = {"Authorization": f"Bearer {key.json()['key']}", "X-Learning-Session-Id": session_id}
    assert (await client.get(f"{chapters}/01-intro-genai", headers=read_only)).status_code == 200

    untouched = (await client.patch(f"/api/v1/sessions/{session_id}", headers=headers)).json()
    assert untouched["interaction_count"] == 0
    assert untouched["chapters_accessed"] == [] and untouched["quizzes_taken"] == []


async def test_idle_sessions_are_ended_once_even_by_concurrent_jobs(
    client: httpx.AsyncClient, sign_up: SignUp, app: FastAPI, db_session: AsyncSession
) -> None:
    user_id = uuid.UUID((await sign_up())["user"]["id"])
    now = datetime.now(UTC)
    for minutes_idle in (90, 45, 31, 10):
        moment = now - timedelta(minutes=minutes_idle)
        db_session.add(
            LearningSession(
                user_id=user_id,
                interface="web",
                started_at=moment - timedelta(minutes=5),
                last_activity_at=moment,
            )
        )
    await db_session.commit()

    async def job() -> int:
        async with create_sessionmaker(app.state.engine)() as session:
            ended = await end_idle_sessions(session, now=now)
            await session.commit()
            return ended

    assert sum(await asyncio.gather(job(), job())) == 3
    assert await job() == 0
    rows = (
        await db_session.scalars(select(LearningSession).order_by(LearningSession.last_activity_at))
    ).all()
    assert [row.ended_at == row.last_activity_at for row in rows] == [True, True, True, False]
