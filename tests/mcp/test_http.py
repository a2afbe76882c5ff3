"""The MCP server at /mcp, driven by the SDK's own client over streamable HTTP against the running app."""

from __future__ import annotations

import httpx
import pytest
from mcp.server.apps import APP_MIME_TYPE
from sqlalchemy.ext.asyncio import AsyncSession

from companion.mcp.resources import SKYBRIDGE_MIME_TYPE
from tests.conftest import SignUp
from tests.mcp.conftest import COURSE, call, create_api_key, mcp_client, set_tier, structured

PHASE_1_TOOLS = {
    "list_courses",
    "get_course_outline",
    "read_chapter",
    "read_section",
    "next_chapter",
    "previous_chapter",
    "get_quiz",
    "check_access",
    "whoami",
    "search_course",
}
# Tools about the caller's own record (tools_learning.py): they need an account and a scope.
LEARNER_TOOLS = {
    "submit_quiz_answers": "progress:write",
    "record_progress": "progress:write",
    "my_progress": "content:read",
    "my_streak": "content:read",
    "my_learning_path": "content:read",
    # Premium (LLM) tools: they may spend the learner's AI budget, so they need progress:write.
    "personalize_chapter": "progress:write",
    "translate_chapter": "progress:write",
    "plan_adaptive_path": "progress:write",
    "grade_open_answers": "progress:write",
    "synthesize_chapters": "progress:write",
    "my_ai_usage": "content:read",
}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_lists_tools_prompts_and_resources(live_server: str, mode: str) -> None:
    async with mcp_client(live_server, mode=mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        prompts = {prompt.name for prompt in (await client.list_prompts()).prompts}
        resources = {resource.uri: resource for resource in (await client.list_resources()).resources}
    assert set(tools) == PHASE_1_TOOLS | set(LEARNER_TOOLS)
    for name, scope in LEARNER_TOOLS.items():
        tool = tools.pop(name)
        assert tool.description and len(tool.description) > 60, name
        assert tool.meta is not None and tool.meta["securitySchemes"] == [
            {"type": "oauth2", "scopes": [scope]}
        ]
        assert tool.annotations is not None and tool.annotations.destructive_hint is False
        assert tool.annotations.read_only_hint is (scope == "content:read"), name
    for tool in tools.values():
        assert tool.description and len(tool.description) > 60, tool.name
        assert tool.annotations is not None and tool.annotations.read_only_hint is True
        assert tool.annotations.destructive_hint is False
        assert tool.input_schema["type"] == "object"
        assert tool.meta is not None and {"type": "noauth"} in tool.meta["securitySchemes"]
    chapter_schema = tools["read_chapter"].input_schema
    assert chapter_schema["required"] == ["course_id", "chapter_id"]
    assert "get_course_outline" in chapter_schema["properties"]["chapter_id"]["description"]
    # Each widget is declared for MCP Apps hosts (Claude) and, in its legacy form, for ChatGPT.
    for tool, widget in (("read_chapter", "chapter-reader"), ("get_quiz", "quiz")):
        meta = tools[tool].meta
        assert meta is not None
        assert meta["ui"] == {"resourceUri": f"ui://course-companion/{widget}.html"}
        assert meta["openai/outputTemplate"] == f"ui://widget/{widget}.html"
        assert resources[f"ui://course-companion/{widget}.html"].mime_type == APP_MIME_TYPE
        assert resources[f"ui://widget/{widget}.html"].mime_type == SKYBRIDGE_MIME_TYPE
    assert prompts == {"concept-explainer", "quiz-master", "socratic-tutor", "progress-motivator"}
    assert resources["skill://quiz-master/SKILL.md"].mime_type == "text/markdown"


async def test_widget_and_prompt_contents(live_server: str) -> None:
    async with mcp_client(live_server) as client:
        app = await client.read_resource("ui://course-companion/quiz.html")
        legacy = await client.read_resource("ui://widget/quiz.html")
        prompt = await client.get_prompt("quiz-master", {"request": "quiz me on chapter 2"})
    html = app.contents[0].text  # type: ignore[union-attr]
    assert html == legacy.contents[0].text  # type: ignore[union-attr]  # one widget source
    # The one script speaks to both hosts: window.openai, or the MCP Apps postMessage bridge.
    assert 'callTool("submit_quiz_answers"' in html and "window.openai" in html and "ui/initialize" in html
    assert "companion:host-bridge" not in html
    assert app.contents[0].mime_type == APP_MIME_TYPE
    assert app.contents[0].meta == {  # type: ignore[union-attr]
        "ui": {"csp": {"connectDomains": [], "resourceDomains": []}, "prefersBorder": True}
    }
    text = prompt.messages[0].content.text  # type: ignore[union-attr]
    assert "get_quiz" in text and "Hints before answers" in text
    assert text.endswith("The learner's request: quiz me on chapter 2")


async def test_browse_and_read_anonymously(live_server: str, client: httpx.AsyncClient) -> None:
    async with mcp_client(live_server) as mcp:
        courses = structured(await call(mcp, "list_courses"))["courses"]
        outline = structured(await call(mcp, "get_course_outline", course_id=COURSE))
        detailed = structured(await call(mcp, "get_course_outline", course_id=COURSE, include_sections=True))
        chapter = structured(await call(mcp, "read_chapter", course_id=COURSE, chapter_id="01-intro-genai"))
        section = structured(
            await call(mcp, "read_section", course_id=COURSE, chapter_id="02-llms", section_id="01-tokens")
        )
        following = structured(await call(mcp, "next_chapter", course_id=COURSE, chapter_id="01-intro-genai"))
        preceding = structured(await call(mcp, "previous_chapter", course_id=COURSE, chapter_id="02-llms"))
        first = structured(await call(mcp, "previous_chapter", course_id=COURSE, chapter_id="01-intro-genai"))
        quiz = structured(await call(mcp, "get_quiz", course_id=COURSE, quiz_id="01-quiz"))
        me = structured(await call(mcp, "whoami"))

    assert [course["course_id"] for course in courses] == [COURSE]
    assert courses[0]["free_chapter_count"] == 3
    assert outline["your_tier"] == "free"
    assert [c["access"]["allowed"] for c in outline["chapters"]] == [True, True, True, False, False, False]
    # Anonymous callers have no plan: free content is open to everyone, no sign-in needed.
    assert outline["chapters"][0]["access"]["reason"].endswith(
        "is free: open to everyone, no sign-in needed."
    )
    assert "your Free plan" not in str(outline)
    assert outline["chapters"][0]["quiz_id"] == "01-quiz"
    assert outline["chapters"][0]["sections"] is None and outline["next_cursor"] is None
    assert len(detailed["chapters"][0]["sections"]) == outline["chapters"][0]["section_count"]

    # The same document as the REST API serves: the core is not implemented twice.
    rest = await client.get(f"/api/v1/courses/{COURSE}/chapters/01-intro-genai")
    assert chapter == {"status": "ok", "chapter": rest.json()}
    assert chapter["chapter"]["next_chapter_id"] == "02-llms"

    assert section["section"]["section_id"] == "01-tokens"
    assert section["previous"]["chapter_id"] == "01-intro-genai"  # crosses the chapter boundary
    assert section["next"]["section_id"] == "02-embeddings"
    assert following["chapter"]["chapter_id"] == "02-llms"
    assert preceding["chapter"]["chapter_id"] == "01-intro-genai"
    assert first["status"] == "start_of_course"

    questions = quiz["quiz"]["questions"]
    assert questions and all("correct_answer" not in q and "accepted_answers" not in q for q in questions)
    assert "explanation" not in str(quiz)
    assert me["signed_in"] is False and me["tier"] == "free"


async def test_search_cites_sections_and_withholds_locked_passages(live_server: str) -> None:
    async with mcp_client(live_server) as mcp:
        found = structured(
            await call(mcp, "search_course", query="How do temperature and top-p change decoding?", limit=10)
        )
        retrieval = structured(
            await call(mcp, "search_course", query="vector database chunking", course_id=COURSE)
        )
        unknown = await call(mcp, "search_course", query="tokens", course_id="no-such-course")
    best = found["results"][0]
    assert best["chapter_id"] == "02-llms" and best["locked"] is False
    assert best["citation"]["url"].startswith(f"/courses/{COURSE}/chapters/02-llms#")
    assert "**" in best["snippet"]
    locked = [result for result in retrieval["results"] if result["locked"]]
    assert locked and all(r["content"] is None and r["required_tier"] == "premium" for r in locked)
    assert unknown.is_error and "course_id" in str(structured(unknown))


async def test_gated_content_is_a_structured_upgrade_answer(live_server: str) -> None:
    async with mcp_client(live_server) as mcp:
        chapter = await call(mcp, "read_chapter", course_id=COURSE, chapter_id="04-rag")
        section = await call(
            mcp, "read_section", course_id=COURSE, chapter_id="04-rag", section_id="01-why-rag"
        )
        onward = await call(mcp, "next_chapter", course_id=COURSE, chapter_id="03-prompting")
        quiz = await call(mcp, "get_quiz", course_id=COURSE, quiz_id="05-quiz")
        access = structured(
            await call(mcp, "check_access", course_id=COURSE, chapter_id="06-ai-applications")
        )

    for result in (chapter, section, onward, quiz):
        assert result.is_error is False
        body = structured(result)
        assert body["status"] == "upgrade_required"
        assert body["required_tier"] == "premium" and body["current_tier"] == "free"
        assert "Premium" in body["reason"]
        assert "content_markdown" not in str(body)
    assert structured(chapter)["chapter_id"] == "04-rag"
    assert access["allowed"] is False and access["required_tier"] == "premium"


async def test_premium_learner_with_api_key_reads_everything(
    live_server: str, client: httpx.AsyncClient, sign_up: SignUp, db_session: AsyncSession
) -> None:
    learner = await sign_up(email="premium@example.com")
    await set_tier(db_session, "premium@example.com", "premium")
    key = await create_api_key(client, learner["headers"])

    async with mcp_client(live_server, token=key) as mcp:
        me = structured(await call(mcp, "whoami"))
        chapter = structured(await call(mcp, "read_chapter", course_id=COURSE, chapter_id="04-rag"))
        quiz = structured(await call(mcp, "get_quiz", course_id=COURSE, quiz_id="05-quiz"))
        feature = structured(await call(mcp, "check_access", feature="streak_freeze"))
        premium_feature = structured(await call(mcp, "check_access", feature="translation"))
        unbuilt = await call(mcp, "check_access", feature="time_travel")

    assert me["signed_in"] is True and me["user"]["email"] == "premium@example.com"
    assert me["tier"] == "premium" and me["auth_method"] == "api_key"
    assert me["scopes"] == ["content:read", "progress:write"]
    assert chapter["status"] == "ok" and chapter["chapter"]["chapter_id"] == "04-rag"
    assert quiz["status"] == "ok"
    assert feature["allowed"] is True
    # The gate names only features that exist, with the same validation as /api/v1/access/check.
    assert premium_feature["allowed"] is False and premium_feature["required_tier"] == "pro"
    assert unbuilt.is_error and "translation" in structured(unbuilt)["error"]["details"]["features"]


@pytest.mark.parametrize(
    ("tool", "arguments", "argument"),
    [
        ("get_course_outline", {"course_id": "no-such-course"}, "course_id"),
        ("read_chapter", {"course_id": COURSE, "chapter_id": "99-nope"}, "chapter_id"),
        ("read_section", {"course_id": COURSE, "chapter_id": "02-llms", "section_id": "nope"}, "section_id"),
        ("next_chapter", {"course_id": COURSE, "chapter_id": "nope"}, "chapter_id"),
        ("get_quiz", {"course_id": COURSE, "quiz_id": "nope"}, "quiz_id"),
        ("check_access", {"feature": "teleportation"}, "feature"),
    ],
)
async def test_unknown_ids_name_the_bad_argument(
    live_server: str, tool: str, arguments: dict[str, str], argument: str
) -> None:
    async with mcp_client(live_server) as mcp:
        result = await call(mcp, tool, **arguments)
    assert result.is_error is True
    body = structured(result)
    assert body["status"] == "error" and body["error"]["code"] == "not_found"
    assert body["error"]["details"]["argument"] == argument
    assert f"Unknown {argument}" in result.content[0].text  # type: ignore[union-attr]


async def test_malformed_arguments_are_tool_errors(live_server: str) -> None:
    async with mcp_client(live_server) as mcp:
        missing = await call(mcp, "read_chapter", course_id=COURSE)
        ambiguous = await call(
            mcp, "check_access", course_id=COURSE, chapter_id="01-intro-genai", feature="synthesis"
        )
        no_course = await call(mcp, "check_access", chapter_id="01-intro-genai")
    assert missing.is_error is True
    assert "chapter_id" in missing.content[0].text  # type: ignore[union-attr]
    assert structured(ambiguous)["error"]["code"] == "validation_error"
    # The same validation, and the same error body, as GET /api/v1/access/check.
    assert [error["field"] for error in structured(no_course)["error"]["details"]["errors"]] == ["course_id"]


async def test_invalid_bearer_token_is_refused_with_a_challenge(live_server: str) -> None:
    async with httpx.AsyncClient(base_url=live_server) as http:
        response = await http.post(
            "/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={
                "Authorization": "Bearer cc_not-a-real-key",
                "Accept": "application/json, text/event-stream",
            },
        )
        metadata = await http.get("/.well-known/oauth-protected-resource/mcp")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    challenge = response.headers["www-authenticate"]
    assert 'error="invalid_token"' in challenge
    assert f'resource_metadata="{live_server}/.well-known/oauth-protected-resource/mcp"' in challenge
    assert metadata.json()["resource"] == f"{live_server}/mcp"
    assert metadata.json()["authorization_servers"] == [f"{live_server}/oauth"]


async def test_a_foreign_host_is_refused(live_server: str) -> None:
    async with httpx.AsyncClient(base_url=live_server) as http:
        response = await http.post(
            "/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Host": "evil.example", "Accept": "application/json, text/event-stream"},
        )
    assert response.status_code == 421


async def test_a_get_stream_is_refused_in_stateless_mode(live_server: str) -> None:
    async with httpx.AsyncClient(base_url=live_server) as http:
        # Stateless: the server never sends unprompted, so there is no event stream to open.
        stream = await http.get("/mcp", headers={"Accept": "text/event-stream"})
    assert stream.status_code == 405
    assert "POST" in stream.headers["allow"]
    assert stream.json()["error"]["code"]


async def test_the_text_beside_the_structured_content_is_short_and_readable(live_server: str) -> None:
    async with mcp_client(live_server) as mcp:
        courses = await call(mcp, "list_courses")
        outline = await call(mcp, "get_course_outline", course_id=COURSE)
        chapter = await call(mcp, "read_chapter", course_id=COURSE, chapter_id="01-intro-genai")
        locked = await call(mcp, "read_chapter", course_id=COURSE, chapter_id="04-rag")
        quiz = await call(mcp, "get_quiz", course_id=COURSE, quiz_id="01-quiz")
        me = await call(mcp, "whoami")
    texts = {
        name: result.content[0].text  # type: ignore[union-attr]
        for name, result in (
            ("courses", courses),
            ("outline", outline),
            ("chapter", chapter),
            ("locked", locked),
            ("quiz", quiz),
            ("me", me),
        )
    }
    assert not any(text.lstrip().startswith("{") for text in texts.values())  # never the JSON again
    assert "genai-fundamentals" in texts["courses"] and "3 free" in texts["courses"]
    # The ids the assistant needs next, in a fraction of the structured size.
    assert "chapter_id 04-rag; locked, needs premium" in texts["outline"]
    assert len(texts["outline"]) * 4 < len(str(structured(outline)))
    # The chapter itself, as Markdown, for hosts that give the model the text alone.
    first_section = structured(chapter)["chapter"]["sections"][0]
    assert f"## {first_section['title']}" in texts["chapter"]
    assert first_section["content_markdown"][:200] in texts["chapter"]
    assert "content_version" not in texts["chapter"]
    assert texts["locked"].startswith("Not in the caller's plan (needs premium)")
    questions = structured(quiz)["quiz"]["questions"]
    assert all(question["question_text"] in texts["quiz"] for question in questions)
    assert texts["me"].startswith("Not signed in: free content only.")
