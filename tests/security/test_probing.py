"""A learner cannot learn, through the tutor or search, whether some text occurs above their tier."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from companion.search import chunking
from tests.conftest import SignUp

CONVERSATIONS = "/api/v1/tutor/conversations"
COURSE = "genai-fundamentals"


def _premium_sentence(app: FastAPI) -> str:
    chapter = app.state.catalog.pack(COURSE).chapter("04-rag")
    text = " ".join(chunking.plain_text(chapter.sections[0].content_markdown).split())
    return text[:160]


async def _ask(client: httpx.AsyncClient, headers: dict[str, str], **message: Any) -> httpx.Response:
    conversation = (await client.post(CONVERSATIONS, json={}, headers=headers)).json()
    return await client.post(
        f"{CONVERSATIONS}/{conversation['id']}/messages",
        json={"content": "What does this mean?", **message},
        headers=headers,
    )


def _shape(response: httpx.Response) -> tuple[int, Any, Any, Any]:
    body = response.json()
    if response.status_code != 201:
        return response.status_code, body["error"]["code"], None, None
    return response.status_code, body["grounding"], body["answer"]["sources"], sorted(body)


async def test_premium_text_selected_by_a_free_learner_looks_like_text_found_nowhere(
    client: httpx.AsyncClient, app: FastAPI, sign_up: SignUp
) -> None:
    learner = await sign_up()
    premium = _premium_sentence(app)
    invented = "Quokka lanterns hum softly beneath the violet harbour of forgotten spreadsheets today."

    for probe in (premium, premium[:40]):
        leaked = await _ask(client, learner["headers"], selected_text=probe)
        nowhere = await _ask(client, learner["headers"], selected_text=invented)
        assert _shape(leaked) == _shape(nowhere)
        assert leaked.status_code == 201 and leaked.json()["answer"]["sources"] == []
        assert "04-rag" not in leaked.text and "premium" not in leaked.text.lower()

    # Naming a locked chapter is refused before its text is looked at: the text changes nothing.
    context = {"chapter_id": "04-rag"}
    named = await _ask(client, learner["headers"], selected_text=premium, selected_context=context)
    named_invented = await _ask(client, learner["headers"], selected_text=invented, selected_context=context)
    assert named.status_code == named_invented.status_code == 403
    assert named.json() == named_invented.json()


async def test_locked_search_results_carry_no_scores_and_no_rank(
    client: httpx.AsyncClient, app: FastAPI, sign_up: SignUp
) -> None:
    learner = await sign_up()
    query = _premium_sentence(app)[:120]

    for headers in (None, learner["headers"]):
        results = (
            await client.get("/api/v1/search", params={"q": query, "limit": 20}, headers=headers)
        ).json()["results"]
        locked = [result for result in results if result["locked"]]
        assert locked, results
        for result in locked:
            assert (result["score"], result["lexical_score"], result["semantic_score"]) == (None, None, None)
            assert result["chunk_id"] is None and result["content"] is None and result["snippet"] is None
        # Locked results come after every open one, once per section, in course order.
        flags = [result["locked"] for result in results]
        assert flags == sorted(flags)
        places = [(r["chapter_id"], r["section_id"]) for r in locked]
        assert len(places) == len(set(places))
        assert [p[0] for p in places] == sorted(p[0] for p in places)
