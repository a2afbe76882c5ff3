"""The widgets render real tool output and call the right tools, hosted as ChatGPT hosts them and as MCP
Apps hosts (Claude) do; their scripts run in Node (present on every machine) with a fake DOM."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from mcp.client.client import Client

from companion.mcp.context import ToolContext
from companion.mcp.resources import WIDGETS
from companion.mcp.server import create_server
from tests.mcp.conftest import COURSE, call, structured

HARNESS = Path(__file__).with_name("widget_harness.js")
HOSTS = ["openai", "mcp-apps"]


def node() -> str:
    """The Node.js binary: the widget tests fail, rather than skip, without it."""
    found = shutil.which("node")
    if found is None:
        pytest.fail("Node.js is needed to run the widget scripts: install it (apt-get install nodejs)")
    return found


async def tool_output(app: FastAPI, tool: str, **arguments: str) -> dict[str, Any]:
    """The structured content the host hands the widget."""
    state = app.state
    context = ToolContext.from_app_state(state)
    async with Client(create_server(lambda: context)) as mcp:
        return structured(await call(mcp, tool, **arguments))


def run_widget(
    name: str,
    output: dict[str, Any],
    events: list[Any] | None = None,
    reply: Any = None,
    *,
    host: str = "openai",
    **hosting: Any,
) -> Any:
    """Render the served widget with this tool output in that host, replay events, and return the result."""
    widget = next(widget for widget in WIDGETS if widget.name == name)
    finished = subprocess.run(
        [node(), str(HARNESS)],
        input=json.dumps(
            {
                "html": widget.html(),
                "host": host,
                "toolOutput": output,
                "events": events or [],
                "reply": reply,
                **hosting,
            }
        ),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout)


def answer_events(questions: list[dict[str, Any]]) -> tuple[list[Any], dict[str, Any]]:
    """Events choosing a first answer to every question, and the answers the widget should send."""
    events: list[Any] = []
    expected: dict[str, Any] = {}
    for question in questions:
        qid = question["question_id"]
        if question["type"] in ("multiple_choice", "multiple_select"):
            option = question["options"][0]["id"]
            events.append(["change", {"name": qid, "value": option, "checked": True}])
            expected[qid] = option if question["type"] == "multiple_choice" else [option]
        elif question["type"] == "true_false":
            events.append(["change", {"name": qid, "value": "true"}])
            expected[qid] = True
        else:
            events.append(["change", {"name": qid, "value": "an answer"}])
            expected[qid] = "an answer"
    return events, expected


@pytest.mark.parametrize("host", HOSTS)
async def test_chapter_reader_shows_a_chapter_and_navigates(app: FastAPI, host: str) -> None:
    output = await tool_output(app, "read_chapter", course_id=COURSE, chapter_id="02-llms")
    following = await tool_output(app, "read_chapter", course_id=COURSE, chapter_id="03-prompting")
    sections = output["chapter"]["sections"]
    first = run_widget("chapter-reader", output, host=host)
    assert output["chapter"]["title"] in first["html"]
    assert first["html"].count("data-section=") == len(sections)
    assert "<h2>" in first["html"]

    last = [["click", {"dataset": {"section": str(len(sections) - 1)}}]]
    onward = run_widget(
        "chapter-reader",
        output,
        [*last, ["click", {"dataset": {"action": "chapter-next"}}]],
        reply=following,
        host=host,
    )
    assert onward["calls"] == [
        {"name": "next_chapter", "args": {"course_id": COURSE, "chapter_id": "02-llms"}}
    ]
    # The next chapter opens at its first section and at the top of the page.
    assert (
        following["chapter"]["title"] in onward["html"]
        and 'data-section="0" aria-current="true"' in onward["html"]
    )
    assert onward["scrolls"] == 2  # once for the last section, once for the new chapter

    quiz = run_widget(
        "chapter-reader", output, [*last, ["click", {"dataset": {"action": "quiz"}}]], host=host
    )
    [message] = quiz["calls"]
    if host == "openai":
        assert message["name"] == "sendFollowUpMessage" and "02-quiz" in message["args"]["prompt"]
    else:
        assert message["name"] == "ui/message" and message["args"]["role"] == "user"
        assert "02-quiz" in message["args"]["content"][0]["text"]


async def test_the_mcp_apps_handshake(app: FastAPI) -> None:
    output = await tool_output(app, "read_chapter", course_id=COURSE, chapter_id="01-intro-genai")
    rendered = run_widget("chapter-reader", output, host="mcp-apps")
    assert rendered["protocol"][:2] == ["ui/initialize", "ui/notifications/initialized"]
    assert rendered["dark"] is True  # the theme from the host context
    assert output["chapter"]["title"] in rendered["html"]  # from ui/notifications/tool-result

    # A host that leaves the structured content out of the notification: the view asks for it.
    arguments = {"course_id": COURSE, "chapter_id": "01-intro-genai"}
    stripped = run_widget(
        "chapter-reader", output, host="mcp-apps", stripped=True, tool="read_chapter", toolArguments=arguments
    )
    assert stripped["calls"] == [{"name": "read_chapter", "args": arguments}]
    assert output["chapter"]["title"] in stripped["html"]


@pytest.mark.parametrize("host", HOSTS)
async def test_chapter_reader_explains_a_locked_chapter(app: FastAPI, host: str) -> None:
    output = await tool_output(app, "read_chapter", course_id=COURSE, chapter_id="04-rag")
    rendered = run_widget("chapter-reader", output, host=host)
    assert "premium plan" in rendered["html"] and "Sign in and upgrade" in rendered["html"]


@pytest.mark.parametrize("host", HOSTS)
async def test_quiz_collects_every_answer_and_submits_them(app: FastAPI, host: str) -> None:
    output = await tool_output(app, "get_quiz", course_id=COURSE, quiz_id="01-quiz")
    events, expected = answer_events(output["quiz"]["questions"])
    reply = {"status": "ok", "score": 80.0, "passed": True, "grading_details": {}}

    incomplete = run_widget("quiz", output, [events[0], ["submit", {}]], host=host)
    assert incomplete["calls"] == [] and "Answer every question first" in incomplete["html"]
    # The message follows the answers: it names what is still missing, and goes once nothing is.
    fewer = run_widget("quiz", output, [events[0], ["submit", {}], events[1]], host=host)
    assert "missing: 3," in fewer["html"] and "missing: 2," not in fewer["html"]
    completed = run_widget("quiz", output, [events[0], ["submit", {}], *events[1:]], host=host)
    assert "Answer every question first" not in completed["html"]

    submitted = run_widget("quiz", output, [*events, ["submit", {}]], reply=reply, host=host)
    assert len(submitted["calls"]) == 1
    sent = submitted["calls"][0]
    assert sent["name"] == "submit_quiz_answers"
    assert sent["args"]["course_id"] == COURSE and sent["args"]["quiz_id"] == "01-quiz"
    assert sent["args"]["answers"] == expected
    assert "Passed · 80%" in submitted["html"]


async def test_quiz_explains_an_upgrade_reply_instead_of_a_blank_score(app: FastAPI) -> None:
    output = await tool_output(app, "get_quiz", course_id=COURSE, quiz_id="01-quiz")
    locked = await tool_output(app, "get_quiz", course_id=COURSE, quiz_id="05-quiz")
    events, _ = answer_events(output["quiz"]["questions"])
    rendered = run_widget("quiz", output, [*events, ["submit", {}]], reply=locked)
    assert "Submitted" not in rendered["html"] and "—" not in rendered["html"]
    assert "part of the premium plan" in rendered["html"] and "Sign in and upgrade" in rendered["html"]
