"""Builders of content packs for the content tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"
DOCS_COURSE = FIXTURES / "docs-course"
SHIPPED_COURSE = Path(__file__).resolve().parents[2] / "courses" / "genai-fundamentals"


def write_json(path: Path, data: Any) -> None:
    """Write `data` as indented JSON, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def chapter_data(chapter_id: str, number: int, **overrides: Any) -> dict[str, Any]:
    """A valid chapter in the seed format with two sections."""
    data: dict[str, Any] = {
        "chapter_id": chapter_id,
        "chapter_number": number,
        "title": f"Chapter {number}",
        "subtitle": "A subtitle",
        "learning_objectives": ["Learn something"],
        "estimated_time_minutes": 20,
        "prerequisites": [],
        "access_tier": "free",
        "sections": [
            {
                "section_id": f"{number:02d}-first",
                "title": "First",
                "order": 1,
                "content_markdown": "# First\n\nSome text.",
                "examples": [{"name": "Example", "description": "An example"}],
                "key_concepts": ["concept"],
                "estimated_time_minutes": 10,
            },
            {
                "section_id": f"{number:02d}-second",
                "title": "Second",
                "order": 2,
                "content_markdown": "More text.",
                "timeline": [{"year": 2018, "event": "Something happened"}],
                "estimated_time_minutes": 10,
            },
        ],
        "summary": "A summary.",
    }
    data.update(overrides)
    return data


def quiz_data(quiz_id: str, chapter_id: str, **overrides: Any) -> dict[str, Any]:
    """A valid quiz with one question of every type."""
    data: dict[str, Any] = {
        "quiz_id": quiz_id,
        "chapter_id": chapter_id,
        "title": "A quiz",
        "description": "Test yourself",
        "time_limit_minutes": 30,
        "passing_score": 70,
        "questions": [
            {
                "question_id": "q1",
                "type": "multiple_choice",
                "question_text": "Pick one",
                "options": [{"id": "a", "text": "Right"}, {"id": "b", "text": "Wrong"}],
                "correct_answer": "a",
                "explanation": "Because.",
            },
            {
                "question_id": "q2",
                "type": "multiple_select",
                "question_text": "Pick two",
                "options": [
                    {"id": "a", "text": "Yes"},
                    {"id": "b", "text": "Yes too"},
                    {"id": "c", "text": "No"},
                ],
                "correct_answers": ["a", "b"],
            },
            {
                "question_id": "q3",
                "type": "true_false",
                "question_text": "True?",
                "correct_answer": True,
            },
            {
                "question_id": "q4",
                "type": "short_answer",
                "question_text": "Name it",
                "accepted_answers": ["transformer"],
            },
            {
                "question_id": "q5",
                "type": "open_ended",
                "question_text": "Explain",
                "rubric": {"accuracy": "Is correct"},
                "sample_answer": "A sample answer.",
            },
        ],
    }
    data.update(overrides)
    return data


def write_pack(root: Path, *, course_id: str = "mini-course") -> Path:
    """A valid JSON pack: two chapters, each with a quiz."""
    write_json(
        root / "course.json",
        {
            "id": course_id,
            "title": "Mini Course",
            "description": "A tiny course.",
            "modules": [{"id": "basics", "title": "Basics", "chapters": ["01-one", "02-two"]}],
            "chapters": ["01-one", "02-two"],
        },
    )
    write_json(root / "chapters" / "01-one.json", chapter_data("01-one", 1, next_chapter_id="02-two"))
    write_json(root / "chapters" / "02-two.json", chapter_data("02-two", 2, prerequisites=["01-one"]))
    write_json(root / "quizzes" / "01-quiz.json", quiz_data("01-quiz", "01-one"))
    write_json(root / "quizzes" / "02-quiz.json", quiz_data("02-quiz", "02-two"))
    return root
