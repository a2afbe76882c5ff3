"""The content API as a learner and an assistant meet it: catalogue, outline, reading, the gate, caching."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from companion.accounts.models import User
from companion.billing import service as billing_service
from companion.content import publishing
from companion.content.service import ContentCatalog
from companion.content.store import LocalContentStore
from tests.conftest import SignUp

from .factories import chapter_data, write_json

COURSE = "/api/v1/courses/genai-fundamentals"


async def _set_tier(
    db_session: AsyncSession, user_id: str, tier: str, expires_at: datetime | None = None
) -> None:
    user = await db_session.get(User, uuid.UUID(user_id))
    assert user is not None
    await billing_service.change_tier(db_session, user=user, tier=tier, expires_at=expires_at)
    await db_session.commit()


async def test_catalogue_is_public_and_conditional(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/courses")
    assert response.status_code == 200
    [course] = response.json()
    assert course["course_id"] == "genai-fundamentals"
    assert (course["chapter_count"], course["free_chapter_count"]) == (6, 3)
    again = await client.get("/api/v1/courses", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


async def test_outline_shows_access_per_chapter(client: httpx.AsyncClient) -> None:
    outline = (await client.get(COURSE)).json()
    access = {chapter["chapter_id"]: chapter["access"] for chapter in outline["chapters"]}
    assert [cid for cid, a in access.items() if a["allowed"]] == ["01-intro-genai", "02-llms", "03-prompting"]
    assert access["04-rag"]["required_tier"] == "premium"
    assert "Premium" in access["04-rag"]["reason"]
    assert all(
        chapter["section_count"] >= 4 and chapter["sections"] is None for chapter in outline["chapters"]
    )
    detailed = (await client.get(COURSE, params={"detail": "sections"})).json()
    assert all(module["chapters"] is None for module in outline["modules"])
    listed = [chapter_id for module in detailed["modules"] for chapter_id in module["chapters"]]
    assert set(listed) == {chapter["chapter_id"] for chapter in outline["chapters"] if chapter["module"]}
    assert [len(chapter["sections"]) for chapter in detailed["chapters"]] == [
        chapter["section_count"] for chapter in outline["chapters"]
    ]


async def test_outline_pages_follow_the_cursor_in_course_order(client: httpx.AsyncClient) -> None:
    whole = (await client.get(COURSE)).json()
    assert whole["chapter_count"] == 6 and whole["next_cursor"] is None

    seen, cursor = [], None
    while True:
        page = (
            await client.get(COURSE, params={"limit": 4, **({"cursor": cursor} if cursor else {})})
        ).json()
        seen += [chapter["chapter_id"] for chapter in page["chapters"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [chapter["chapter_id"] for chapter in whole["chapters"]]

    unknown = await client.get(COURSE, params={"cursor": "99-missing"})
    assert unknown.status_code == 422 and unknown.json()["error"]["details"]["field"] == "cursor"
    assert (await client.get(COURSE, params={"detail": "everything"})).status_code == 422


async def test_free_chapter_verbatim_with_etag(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{COURSE}/chapters/01-intro-genai")
    assert response.status_code == 200
    chapter = response.json()
    assert chapter["title"] and chapter["sections"][0]["content_markdown"]
    assert chapter["next_chapter_id"] == "02-llms" and chapter["previous_chapter_id"] is None
    assert chapter["quiz_id"] == "01-quiz"
    assert response.headers["cache-control"].startswith("public")
    assert len(response.headers["etag"]) == 66  # the whole SHA-256, quoted
    cached = await client.get(
        f"{COURSE}/chapters/01-intro-genai", headers={"If-None-Match": response.headers["etag"]}
    )
    assert cached.status_code == 304 and cached.content == b""


async def test_gated_chapter_needs_premium(
    client: httpx.AsyncClient, sign_up: SignUp, db_session: AsyncSession
) -> None:
    anonymous = await client.get(f"{COURSE}/chapters/04-rag")
    assert anonymous.status_code == 403
    error = anonymous.json()["error"]
    assert error["code"] == "upgrade_required" and error["details"]["required_tier"] == "premium"

    learner = await sign_up()
    assert (await client.get(f"{COURSE}/chapters/04-rag", headers=learner["headers"])).status_code == 403
    await _set_tier(db_session, learner["user"]["id"], "premium")
    opened = await client.get(f"{COURSE}/chapters/04-rag", headers=learner["headers"])
    assert opened.status_code == 200
    assert opened.headers["cache-control"].startswith("private")


async def test_lapsed_subscription_never_grants_access(
    client: httpx.AsyncClient, sign_up: SignUp, db_session: AsyncSession
) -> None:
    learner = await sign_up()
    await _set_tier(
        db_session, learner["user"]["id"], "premium", expires_at=datetime.now(UTC) - timedelta(minutes=1)
    )
    response = await client.get(f"{COURSE}/chapters/05-fine-tuning", headers=learner["headers"])
    assert response.status_code == 403
    assert response.json()["error"]["details"]["current_tier"] == "free"


async def test_sections_and_navigation_cross_chapters(client: httpx.AsyncClient) -> None:
    outline = (await client.get(COURSE, params={"detail": "sections"})).json()
    first, second = outline["chapters"][0], outline["chapters"][1]
    last_section = first["sections"][-1]["section_id"]
    section = (await client.get(f"{COURSE}/chapters/01-intro-genai/sections/{last_section}")).json()
    assert section["section"]["section_id"] == last_section
    assert section["next"]["chapter_id"] == "02-llms"
    assert section["next"]["section_id"] == second["sections"][0]["section_id"]

    start = first["sections"][0]["section_id"]
    previous = (await client.get(f"{COURSE}/chapters/01-intro-genai/sections/{start}/previous")).json()
    assert previous["section"] is None and "start" in previous["message"]

    nxt = (await client.get(f"{COURSE}/chapters/03-prompting/next")).json()
    assert nxt["chapter_id"] == "04-rag" and nxt["access"]["allowed"] is False
    end = (await client.get(f"{COURSE}/chapters/06-ai-applications/next")).json()
    assert end["chapter_id"] is None


async def test_quiz_for_learners_reveals_no_answers(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{COURSE}/quizzes/01-quiz")
    assert response.status_code == 200
    quiz = response.json()
    assert len(quiz["questions"]) >= 8
    assert {q["type"] for q in quiz["questions"]} >= {
        "multiple_choice",
        "multiple_select",
        "true_false",
        "short_answer",
        "open_ended",
    }
    for secret in ("correct_answer", "accepted_answers", "rubric", "sample_answer", "explanation"):
        assert secret not in response.text
    assert (await client.get(f"{COURSE}/quizzes/06-quiz")).status_code == 403


async def test_access_check_and_bad_input(client: httpx.AsyncClient) -> None:
    chapter = (
        await client.get(
            "/api/v1/access/check", params={"course_id": "genai-fundamentals", "chapter_id": "04-rag"}
        )
    ).json()
    assert chapter["allowed"] is False and chapter["required_tier"] == "premium"
    feature = (await client.get("/api/v1/access/check", params={"feature": "streak_freeze"})).json()
    assert feature["allowed"] is False and feature["required_tier"] == "premium"
    vague = await client.get("/api/v1/access/check", params={"course_id": "genai-fundamentals"})
    assert vague.status_code == 422 and vague.json()["error"]["code"] == "validation_error"
    both = await client.get(
        "/api/v1/access/check",
        params={"course_id": "genai-fundamentals", "chapter_id": "04-rag", "feature": "streak_freeze"},
    )
    assert both.status_code == 422
    assert {error["field"] for error in both.json()["error"]["details"]["errors"]} == {
        "chapter_id",
        "feature",
    }
    no_course = await client.get("/api/v1/access/check", params={"quiz_id": "01-quiz"})
    assert no_course.status_code == 422
    # Only features that exist are named: the gate never promises one that is not built.
    unknown = await client.get("/api/v1/access/check", params={"feature": "time_travel"})
    assert unknown.status_code == 404 and unknown.json()["error"]["details"]["features"] == [
        "adaptive_path",
        "llm_grading",
        "personalization",
        "streak_freeze",
        "synthesis",
        "team_analytics",
        "teams",
        "translation",
        "tutor_synthesis",
    ]
    pro = (await client.get("/api/v1/access/check", params={"feature": "translation"})).json()
    assert pro["allowed"] is False and pro["required_tier"] == "pro"
    assert (await client.get("/api/v1/courses/nope")).json()["error"]["code"] == "not_found"
    assert (await client.get(f"{COURSE}/chapters/99-missing")).status_code == 404
    assert (await client.get(f"{COURSE}/chapters/01-intro-genai/sections/zzz")).status_code == 404


async def test_outline_and_reads_reflect_the_learner(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    learner = await sign_up()
    headers = learner["headers"]
    started = await client.post("/api/v1/sessions", json={"interface": "web"}, headers=headers)
    session_id = started.json()["id"]
    await client.get(f"{COURSE}/chapters/02-llms", headers={**headers, "X-Learning-Session-Id": session_id})
    outline = (await client.get(COURSE, headers=headers)).json()
    states = {chapter["chapter_id"]: chapter["progress"]["state"] for chapter in outline["chapters"]}
    assert set(states.values()) == {"not_started"}
    detailed = (await client.get(COURSE, params={"detail": "sections"}, headers=headers)).json()
    first_section = detailed["chapters"][0]["sections"][0]["section_id"]
    await client.put(
        "/api/v1/progress/genai-fundamentals/01-intro-genai",
        json={"section_id": first_section},
        headers=headers,
    )
    outline = (await client.get(COURSE, headers=headers)).json()
    assert outline["chapters"][0]["progress"]["state"] == "in_progress"
    assert outline["chapters"][0]["progress"]["last_section_id"] == first_section
    ended = await client.patch(f"/api/v1/sessions/{session_id}", json={}, headers=headers)
    assert "02-llms" in ended.json()["chapters_accessed"]
    assert (await client.get(COURSE)).json()["chapters"][0]["progress"] is None


async def test_chapters_sharing_a_long_id_prefix_never_share_a_cached_body(
    client: httpx.AsyncClient,
    app: FastAPI,
    sign_up: SignUp,
    db_session: AsyncSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Docusaurus file names often share 24+ characters; the body cache was once keyed on a shortened id.
    premium_id, free_id = "01-introduction-to-robotics-advanced", "01-introduction-to-robotics-basics"
    root = tmp_path / "prefix-course"
    write_json(
        root / "course.json",
        {
            "id": "prefix-course",
            "title": "Prefixes",
            "description": "Chapter ids sharing a long prefix.",
            "chapters": [premium_id, free_id],
        },
    )
    premium = chapter_data(premium_id, 1, access_tier="premium")
    premium["sections"][0]["content_markdown"] = "# First\n\nPremium-only text."
    write_json(root / "chapters" / f"{premium_id}.json", premium)
    write_json(root / "chapters" / f"{free_id}.json", chapter_data(free_id, 2))
    store = LocalContentStore(tmp_path / "store")
    publishing.publish_pack(store, root)
    pack = publishing.load_current(store, "prefix-course")
    monkeypatch.setitem(
        app.state._state, "catalog", ContentCatalog.from_packs([*app.state.catalog.packs(), pack])
    )
    base = "/api/v1/courses/prefix-course/chapters"

    reader = await sign_up()
    await _set_tier(db_session, reader["user"]["id"], "premium")
    opened = await client.get(f"{base}/{premium_id}", headers=reader["headers"])
    assert opened.status_code == 200 and "Premium-only text." in opened.text

    free = await client.get(f"{base}/{free_id}")
    assert free.status_code == 200 and free.json()["chapter_id"] == free_id
    assert "Premium-only text." not in free.text
    assert free.headers["etag"] != opened.headers["etag"]
    assert (await client.get(f"{base}/{premium_id}")).status_code == 403


async def test_anonymous_reads_open_no_database_session(
    app: FastAPI, client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    learner = await sign_up()
    opened: list[int] = []
    sessionmaker = app.state.sessionmaker

    def counting_sessionmaker(*args: Any, **kwargs: Any) -> Any:
        opened.append(1)
        return sessionmaker(*args, **kwargs)

    reads = [
        f"{COURSE}/chapters/01-intro-genai",
        f"{COURSE}/chapters/01-intro-genai/sections/01-what-is-genai",
        f"{COURSE}/quizzes/01-quiz",
        "/api/v1/search?q=temperature",
    ]
    # Set and restored by hand: pytest's monkeypatch cannot restore an attribute of Starlette's State.
    app.state.sessionmaker = counting_sessionmaker
    try:
        anonymous = [(await client.get(path)).status_code for path in reads]
        opened_anonymously = len(opened)
        signed_in = [(await client.get(path, headers=learner["headers"])).status_code for path in reads]
    finally:
        app.state.sessionmaker = sessionmaker
    assert anonymous == signed_in == [200, 200, 200, 200]
    assert opened_anonymously == 0
    # A credential sent to an optional read is checked in one short session of its own, once: the
    # identity it resolved to is then remembered for a few seconds (accounts/identity_cache.py).
    assert len(opened) == 1
