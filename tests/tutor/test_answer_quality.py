"""A fast slice of bench/tutor_quality.py on the shipped course: answers quote the units that answer."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from companion.tutor.units import quote, units_of
from tests.conftest import SignUp
from tests.progress.helpers import make_premium

from .test_api import _ask

ANSWERED = [
    ("What is a token?", "02-llms", "01-tokens", "chunks of text"),
    ("What is prompt injection?", "03-prompting", "08-prompt-injection-and-safety", "override or subvert"),
    ("What problems does retrieval-augmented generation solve?", "04-rag", "01-why-rag", "Knowledge cut-off"),
    (
        "What is the difference between zero-shot and few-shot prompting?",
        "03-prompting",
        "03-zero-and-few-shot",
        "| Zero-shot | Few-shot |",  # the comparison table, quoted as a table
    ),
]
OFF_BOOK = [
    "What is the price per million tokens of GPT-4o on Azure?",
    "How do I install CUDA 12 drivers on Windows 11?",
]


@pytest.fixture
async def premium_headers(sign_up: SignUp, db_session: AsyncSession) -> dict[str, str]:
    learner = await sign_up()
    await make_premium(db_session, learner)
    return learner["headers"]


async def test_questions_are_answered_from_the_section_that_teaches_them(
    client: httpx.AsyncClient, premium_headers: dict[str, str]
) -> None:
    for question, chapter_id, section_id, phrase in ANSWERED:
        exchange = await _ask(client, premium_headers, question)

        assert exchange["grounding"] == "course", question
        first = exchange["answer"]["sources"][0]
        assert (first["chapter_id"], first["section_id"]) == (chapter_id, section_id), question
        assert phrase in exchange["answer"]["content"], question


async def test_plausible_off_book_questions_are_refused(
    client: httpx.AsyncClient, premium_headers: dict[str, str]
) -> None:
    for question in OFF_BOOK:
        exchange = await _ask(client, premium_headers, question)

        assert exchange["grounding"] == "not_covered", (question, exchange["answer"]["content"])
        assert exchange["answer"]["sources"] == []


async def test_a_generic_request_about_a_selection_is_answered_from_it(
    client: httpx.AsyncClient, premium_headers: dict[str, str]
) -> None:
    exchange = await _ask(
        client,
        premium_headers,
        "Explain this in simpler terms",
        selected_text="An LLM is stateless.",
        selected_context={"chapter_id": "02-llms", "section_id": "06-context-windows"},
    )

    assert exchange["grounding"] == "selection"
    assert [source["section_id"] for source in exchange["answer"]["sources"]] == ["06-context-windows"]
    assert "stateless" in exchange["answer"]["content"]


def test_units_keep_a_list_with_its_lead_in_and_carry_their_heading() -> None:
    markdown = (
        "Intro paragraph.\n\n### Engines\n\nGazebo supports several physics engines:\n\n"
        "- **ODE**: the default.\n- **Bullet**: fast collisions.\n\n"
        "| Engine | Speed |\n|---|---|\n| ODE | medium |\n"
    )

    units = units_of(markdown)

    assert [(unit.kind, unit.heading) for unit in units] == [
        ("paragraph", None),
        ("list", "Engines"),
        ("table", "Engines"),
    ]
    assert units[1].markdown.startswith("Gazebo supports several physics engines:\n\n- **ODE**")
    assert quote(units[1]).split("\n")[:4] == [
        "> **Engines**",
        ">",
        "> Gazebo supports several physics engines:",
        ">",
    ]
