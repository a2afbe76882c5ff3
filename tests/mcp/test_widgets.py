"""The widget templates render real tool output and call the right tools (run in Node with a fake DOM)."""

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
from companion.mcp.server import create_server
from tests.mcp.conftest import COURSE, call, structured

NODE = shutil.which("node")
WIDGETS = Path(__file__).parents[2] / "src" / "companion" / "mcp" / "widgets"
HARNESS = Path(__file__).with_name("widget_harness.js")

pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is needed to run the widget scripts")


async def tool_output(app: FastAPI, tool: str, **arguments: str) -> dict[str, Any]:
    """What ChatGPT would hand the widget as window.openai.toolOutput."""
    state = app.state
    context = ToolContext.from_app_state(state)
    async with Client(create_server(lambda: context)) as mcp:
        return structured(await call(mcp, tool, **arguments))


def run_widget(name: str, output: dict[str, Any], events: list[Any] | None = None, reply: Any = None) -> Any:
    """Render the widget with this tool output, replay events, and return its HTML and tool calls."""
    finished = subprocess.run(
        [str(NODE), str(HARNESS), str(WIDGETS / f"{name}.html")],
        input=json.dumps({"toolOutput": output, "events": events or [], "reply": reply}),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(finished.stdout)


async def test_chapter_reader_shows_a_chapter_and_navigates(app: FastAPI) -> None:
    output = await tool_output(app, "read_chapter", course_id=COURSE, chapter_id="02-llms")
    sections = output["chapter"]["sections"]
    first = run_widget("chapter-reader", output)
    assert output["chapter"]["title"] in first["html"]
    assert first["html"].count("data-section=") == len(sections)
    assert "<h2>" in first["html"]

    last = [["click", {"dataset": {"section": str(len(sections) - 1)}}]]
    onward = run_widget("chapter-reader", output, [*last, ["click", {"dataset": {"action": "chapter-next"}}]])
    assert onward["calls"] == [
        {"name": "next_chapter", "args": {"course_id": COURSE, "chapter_id": "02-llms"}}
    ]

    quiz = run_widget("chapter-reader", output, [*last, ["click", {"dataset": {"action": "quiz"}}]])
    assert quiz["calls"][0]["name"] == "sendFollowUpMessage"
    assert "02-quiz" in quiz["calls"][0]["args"]["prompt"]


async def test_chapter_reader_explains_a_locked_chapter(app: FastAPI) -> None:
    output = await tool_output(app, "read_chapter", course_id=COURSE, chapter_id="04-rag")
    rendered = run_widget("chapter-reader", output)
    assert "premium plan" in rendered["html"] and "Sign in and upgrade" in rendered["html"]


async def test_quiz_collects_every_answer_and_submits_them(app: FastAPI) -> None:
    output = await tool_output(app, "get_quiz", course_id=COURSE, quiz_id="01-quiz")
    questions = output["quiz"]["questions"]
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
    reply = {"status": "ok", "score": 80.0, "passed": True, "grading_details": {}}

    incomplete = run_widget("quiz", output, [events[0], ["submit", {}]])
    assert incomplete["calls"] == [] and "Answer every question first" in incomplete["html"]

    submitted = run_widget("quiz", output, [*events, ["submit", {}]], reply=reply)
    assert len(submitted["calls"]) == 1
    sent = submitted["calls"][0]
    assert sent["name"] == "submit_quiz_answers"
    assert sent["args"]["course_id"] == COURSE and sent["args"]["quiz_id"] == "01-quiz"
    assert sent["args"]["answers"] == expected
    assert "Passed · 80%" in submitted["html"]
