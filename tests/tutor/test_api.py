"""The tutor chat through the HTTP API: grounded answers, selections, privacy, expiry and limits."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, update
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from companion.db import utcnow
from companion.search.index import CourseSearch
from companion.tutor import service as tutor_service
from companion.tutor.models import ChatConversation
from companion.tutor.tasks import purge_expired_conversations
from tests.conftest import SignUp
from tests.progress.helpers import make_premium

CONVERSATIONS = "/api/v1/tutor/conversations"
COURSE = "genai-fundamentals"
DECODING = "Decoding: Greedy, Temperature and Top-p"
TOP_P = (
    "Top-p sampling keeps only the smallest set of most-likely tokens whose probabilities add up to at "
    "least p, then samples from that set."
)


async def _ask(
    client: httpx.AsyncClient, headers: dict[str, str], content: str, **fields: Any
) -> dict[str, Any]:
    conversation = await client.post(CONVERSATIONS, json={}, headers=headers)
    assert conversation.status_code == 201, conversation.text
    response = await client.post(
        f"{CONVERSATIONS}/{conversation.json()['id']}/messages",
        json={"content": content, **fields},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    exchange: dict[str, Any] = response.json()
    return exchange


async def test_a_covered_question_gets_a_grounded_cited_answer(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    learner = await sign_up()
    question = "How do temperature and top-p affect what the model outputs?"

    created = await client.post(
        CONVERSATIONS,
        json={"course_id": COURSE, "message": {"content": question}},
        headers=learner["headers"],
    )

    assert created.status_code == 201, created.text
    conversation = created.json()
    assert conversation["course_id"] == COURSE and conversation["title"] == question
    assert conversation["message_count"] == 2 and conversation["last_message_at"] is not None
    asked, answer = conversation["messages"]
    assert (asked["role"], asked["sequence_number"], asked["content"]) == ("user", 1, question)
    assert (answer["role"], answer["sequence_number"]) == ("assistant", 2)
    sources = answer["sources"]
    assert sources and sources[0]["section_id"] == "05-decoding" and sources[0]["section_title"] == DECODING
    assert all(source["chapter_id"] == "02-llms" for source in sources)
    assert sources[0]["url"] == f"/courses/{COURSE}/chapters/02-llms#05-decoding"
    assert sources[0]["chunk_id"].startswith(f"{COURSE}/02-llms/05-decoding/")
    assert 0.3 <= sources[0]["relevance_score"] <= 1
    for number in range(1, len(sources) + 1):
        assert f"[{number}]" in answer["content"]
    assert "temperature" in answer["content"].lower()

    # A tutor question is a learning activity: it counts for today's streak.
    streak = (await client.get("/api/v1/streak", headers=learner["headers"])).json()
    assert streak["current_streak"] == 1

    follow_up = await client.post(
        f"{CONVERSATIONS}/{conversation['id']}/messages",
        json={"content": "What is greedy decoding?"},
        headers=learner["headers"],
    )
    assert follow_up.status_code == 201
    exchange = follow_up.json()
    assert (exchange["question"]["sequence_number"], exchange["answer"]["sequence_number"]) == (3, 4)
    assert exchange["grounding"] == "course" and exchange["conversation"]["message_count"] == 4
    detail = (await client.get(f"{CONVERSATIONS}/{conversation['id']}", headers=learner["headers"])).json()
    assert [message["sequence_number"] for message in detail["messages"]] == [1, 2, 3, 4]
    assert detail["title"] == question


async def test_a_first_question_is_answered_before_anything_is_written(
    client: httpx.AsyncClient, sign_up: SignUp, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Composing searches and judges passages: no row (and on SQLite no write lock) may be held meanwhile.
    learner = await sign_up()
    events: list[str] = []
    compose = tutor_service.compose_answer

    async def spied_compose(**arguments: Any) -> Any:
        events.append("compose")
        return await compose(**arguments)

    def spy(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            events.append("write")

    monkeypatch.setattr(tutor_service, "compose_answer", spied_compose)
    event.listen(Engine, "before_cursor_execute", spy)
    try:
        created = await client.post(
            CONVERSATIONS,
            json={"course_id": COURSE, "message": {"content": "What is greedy decoding?"}},
            headers=learner["headers"],
        )
    finally:
        event.remove(Engine, "before_cursor_execute", spy)

    assert created.status_code == 201, created.text
    assert created.json()["message_count"] == 2
    assert events[0] == "compose" and "write" in events


async def test_answers_use_only_chapters_the_learner_may_read(
    client: httpx.AsyncClient, sign_up: SignUp, db_session: AsyncSession
) -> None:
    learner = await sign_up()
    question = "What is retrieval-augmented generation?"

    free = (await _ask(client, learner["headers"], question))["answer"]

    assert free["sources"] and all(source["chapter_id"] != "04-rag" for source in free["sources"])
    assert "Retrieval-Augmented Generation (RAG)" in free["content"] and "Premium plan" in free["content"]

    await make_premium(db_session, learner)
    premium = (await _ask(client, learner["headers"], question))["answer"]
    assert premium["sources"][0]["chapter_id"] == "04-rag"
    assert "Premium plan" not in premium["content"]


async def test_a_question_the_course_does_not_cover_says_so(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    learner = await sign_up()

    exchange = await _ask(client, learner["headers"], "How do I bake sourdough bread?")

    answer = exchange["answer"]
    assert exchange["grounding"] == "not_covered" and answer["sources"] == []
    assert "does not seem to cover" in answer["content"]
    assert (
        "nearest sections" in answer["content"]
        and "/courses/genai-fundamentals/chapters/" in answer["content"]
    )


async def test_a_selected_passage_answer_draws_only_on_its_section(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    learner = await sign_up()
    context = {"chapter_id": "02-llms", "section_id": "05-decoding", "start_offset": 120, "end_offset": 245}

    exchange = await _ask(
        client,
        learner["headers"],
        "Why would I use this instead of temperature?",
        selected_text=TOP_P,
        selected_context=context,
    )

    assert exchange["grounding"] == "selection"
    assert exchange["question"]["selected_text"] == TOP_P
    assert exchange["question"]["selected_context"] == context
    sources = exchange["answer"]["sources"]
    assert sources and {(s["chapter_id"], s["section_id"]) for s in sources} == {("02-llms", "05-decoding")}
    assert "[1]" in exchange["answer"]["content"]

    # Without a context the section is found from the text itself.
    found = await _ask(client, learner["headers"], "What does this mean?", selected_text=TOP_P)
    assert {source["section_id"] for source in found["answer"]["sources"]} == {"05-decoding"}
    assert "nucleus" in found["answer"]["content"].lower() or "top-p" in found["answer"]["content"].lower()

    # A question about something else is not answered with the passage.
    elsewhere = await _ask(client, learner["headers"], "How do I bake bread?", selected_text=TOP_P)
    assert elsewhere["grounding"] == "not_covered" and elsewhere["answer"]["sources"] == []


async def test_selections_must_exist_and_be_readable(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    learner = await sign_up()
    conversation = (await client.post(CONVERSATIONS, json={}, headers=learner["headers"])).json()
    url = f"{CONVERSATIONS}/{conversation['id']}/messages"

    locked = await client.post(
        url,
        json={
            "content": "Explain this",
            "selected_context": {"chapter_id": "04-rag", "section_id": "01-why-rag"},
        },
        headers=learner["headers"],
    )
    unknown = await client.post(
        url,
        json={
            "content": "Explain this",
            "selected_context": {"chapter_id": "02-llms", "section_id": "99-nope"},
        },
        headers=learner["headers"],
    )

    assert locked.status_code == 403 and locked.json()["error"]["code"] == "upgrade_required"
    assert unknown.status_code == 422
    assert unknown.json()["error"]["details"]["errors"][0]["field"] == "selected_context.section_id"


async def test_conversations_are_private_newest_first_and_deletable(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    owner, stranger = await sign_up(), await sign_up()
    first = (await client.post(CONVERSATIONS, json={}, headers=owner["headers"])).json()
    second = (await client.post(CONVERSATIONS, json={}, headers=owner["headers"])).json()
    url = f"{CONVERSATIONS}/{first['id']}"

    listed = (await client.get(CONVERSATIONS, headers=owner["headers"])).json()
    assert [conversation["id"] for conversation in listed] == [second["id"], first["id"]]
    assert (await client.get(CONVERSATIONS, headers=stranger["headers"])).json() == []
    for response in (
        await client.get(url, headers=stranger["headers"]),
        await client.delete(url, headers=stranger["headers"]),
        await client.post(f"{url}/messages", json={"content": "Hello?"}, headers=stranger["headers"]),
    ):
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert (await client.get(CONVERSATIONS)).status_code == 401
    unknown_course = await client.post(CONVERSATIONS, json={"course_id": "no-such"}, headers=owner["headers"])
    assert unknown_course.status_code == 404
    assert (await client.get(f"{CONVERSATIONS}/{uuid.uuid4()}", headers=owner["headers"])).status_code == 404

    assert (await client.delete(url, headers=owner["headers"])).status_code == 204
    assert (await client.get(url, headers=owner["headers"])).status_code == 404


async def test_conversations_vanish_when_they_expire_and_are_purged(
    client: httpx.AsyncClient, sign_up: SignUp, db_session: AsyncSession
) -> None:
    learner = await sign_up()
    created = await client.post(
        CONVERSATIONS, json={"message": {"content": "What is a token?"}}, headers=learner["headers"]
    )
    conversation_id = uuid.UUID(created.json()["id"])
    assert created.json()["expires_at"] > created.json()["created_at"]

    past = utcnow() - timedelta(hours=25)
    await db_session.execute(
        update(ChatConversation)
        .where(ChatConversation.id == conversation_id)
        .values(created_at=past, expires_at=past + timedelta(hours=24))
    )
    await db_session.commit()

    assert (
        await client.get(f"{CONVERSATIONS}/{conversation_id}", headers=learner["headers"])
    ).status_code == 404
    assert (await client.get(CONVERSATIONS, headers=learner["headers"])).json() == []
    asked = await client.post(
        f"{CONVERSATIONS}/{conversation_id}/messages", json={"content": "More?"}, headers=learner["headers"]
    )
    assert asked.status_code == 404
    assert await purge_expired_conversations(db_session, now=utcnow()) == 1
    await db_session.commit()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": "x" * 5001}, "content"),
        ({"content": ""}, "content"),
        ({"content": "   "}, "content"),
        ({"content": "Explain", "selected_text": "y" * 5001}, "selected_text"),
        ({"content": "Explain", "selected_context": {"chapter_id": "02-llms", "start_offset": -1}}, None),
        (
            {
                "content": "Explain",
                "selected_context": {"chapter_id": "02-llms", "start_offset": 9, "end_offset": 2},
            },
            None,
        ),
    ],
)
async def test_messages_are_validated(
    client: httpx.AsyncClient, sign_up: SignUp, body: dict[str, Any], field: str | None
) -> None:
    learner = await sign_up()
    conversation = (await client.post(CONVERSATIONS, json={}, headers=learner["headers"])).json()

    response = await client.post(
        f"{CONVERSATIONS}/{conversation['id']}/messages", json=body, headers=learner["headers"]
    )

    assert response.status_code == 422 and response.json()["error"]["code"] == "validation_error"
    if field is not None:
        assert field in [problem["field"] for problem in response.json()["error"]["details"]["errors"]]


async def test_a_question_of_exactly_5000_characters_is_accepted(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    learner = await sign_up()

    exchange = await _ask(client, learner["headers"], ("What is a token? " * 300)[:5000])

    assert len(exchange["question"]["content"]) == 5000
    assert len(exchange["conversation"]["title"]) <= 80 and exchange["conversation"]["title"].endswith("…")


async def test_questions_are_rate_limited_per_learner(
    client: httpx.AsyncClient, sign_up: SignUp, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.state.settings, "tutor_messages_per_minute", 3)
    learner, other = await sign_up(), await sign_up()
    conversation = (await client.post(CONVERSATIONS, json={}, headers=learner["headers"])).json()
    url = f"{CONVERSATIONS}/{conversation['id']}/messages"

    statuses = [
        (await client.post(url, json={"content": "What is a token?"}, headers=learner["headers"])).status_code
        for _ in range(4)
    ]

    assert statuses == [201, 201, 201, 429]
    limited = await client.post(url, json={"content": "What is a token?"}, headers=learner["headers"])
    assert limited.json()["error"]["code"] == "rate_limited" and limited.headers["retry-after"]
    # Other learners are not affected, and the refused questions were not stored.
    assert (await _ask(client, other["headers"], "What is a token?"))["answer"]["sources"]
    detail = (await client.get(f"{CONVERSATIONS}/{conversation['id']}", headers=learner["headers"])).json()
    assert detail["message_count"] == 6


async def test_without_embeddings_the_tutor_judges_relevance_by_terms(
    client: httpx.AsyncClient, sign_up: SignUp, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    lexical = CourseSearch(
        app.state.settings, vectors=None, embedder=None, unavailable_reason="model missing"
    )
    await lexical.start(app.state.catalog.packs())
    monkeypatch.setitem(app.state._state, "search", lexical)  # State keeps attributes in _state
    learner = await sign_up()

    covered = await _ask(client, learner["headers"], "How do temperature and top-p affect the output?")
    uncovered = await _ask(client, learner["headers"], "How do I train a dog to sit?")

    assert covered["grounding"] == "course"
    assert covered["answer"]["sources"][0]["section_id"] == "05-decoding"
    assert covered["answer"]["sources"][0]["relevance_score"] >= 0.6
    assert uncovered["grounding"] == "not_covered" and uncovered["answer"]["sources"] == []
