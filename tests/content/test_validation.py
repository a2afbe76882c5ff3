"""Validation reports every planted problem with its file and location."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from companion.content.schemas import Problem
from companion.content.validation import ContentInvalid, load_pack, validate_pack
from companion.errors import ValidationFailed

from .factories import chapter_data, quiz_data, write_json


def _find(problems: list[Problem], file: str, location: str, text: str) -> Problem:
    for problem in problems:
        if problem.file == file and problem.location == location and text in problem.message:
            return problem
    listing = "\n".join(str(problem) for problem in problems)
    raise AssertionError(f"no problem {file}:{location}: ...{text}... among:\n{listing}")


def _edit(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    write_json(path, data)


@pytest.fixture
def broken_pack(json_pack: Path) -> Path:
    """The valid mini pack with one of every kind of problem planted in it."""
    chapters, quizzes = json_pack / "chapters", json_pack / "quizzes"
    one = chapter_data(
        "01-one", 1, access_tier="gold", next_chapter_id="99-missing", prerequisites=["02-two"]
    )
    one["sections"][1]["content_markdown"] = "   "
    one["sections"][1]["section_id"] = "01-first"
    write_json(chapters / "01-one.json", one)
    two = chapter_data("02-two", 2, chapter_number="two", prerequisites=["01-one", "07-nowhere"])
    del two["title"]
    write_json(chapters / "02-two.json", two)
    write_json(chapters / "03-extra.json", chapter_data("03-extra", 3))
    write_json(chapters / "05-dup.json", chapter_data("02-two", 2))
    _edit(json_pack / "course.json", chapters=["01-one", "02-two", "04-ghost"])

    quiz = quiz_data("01-quiz", "01-one", passing_score=150)
    quiz["questions"][0]["correct_answer"] = "z"
    quiz["questions"][1]["correct_answers"] = ["a", "x"]
    quiz["questions"][2]["type"] = "essay"
    quiz["questions"][4]["question_id"] = "q4"
    write_json(quizzes / "01-quiz.json", quiz)
    write_json(quizzes / "09-quiz.json", quiz_data("09-quiz", "09-nope"))
    write_json(quizzes / "10-quiz.json", quiz_data("02-quiz", "02-two"))
    (quizzes / "bad.json").write_text('{\n  "quiz_id": "bad",\n  "title": oops\n}\n')
    return json_pack


def test_valid_pack_has_no_problems(json_pack: Path) -> None:
    assert validate_pack(json_pack) == []


def test_every_planted_problem_is_reported_with_file_and_location(broken_pack: Path) -> None:
    problems = validate_pack(broken_pack)

    one, two = "chapters/01-one.json", "chapters/02-two.json"
    _find(problems, one, "access_tier", "'gold' is not a valid access_tier")
    _find(problems, one, "sections[1].content_markdown", "has no text")
    _find(problems, one, "sections[1].section_id", "duplicate section id '01-first'")
    _find(problems, one, "next_chapter_id", "next chapter '99-missing' does not exist")
    _find(problems, one, "prerequisites", "prerequisite cycle: 01-one -> 02-two -> 01-one")
    _find(problems, two, "title", "missing required field 'title'")
    _find(problems, two, "chapter_number", "chapter_number: Input should be a valid integer")
    _find(problems, two, "prerequisites[1]", "prerequisite '07-nowhere' does not exist")
    _find(problems, "chapters/03-extra.json", "chapter_id", "not listed in the chapters of course.json")
    _find(problems, "chapters/05-dup.json", "chapter_id", "duplicate chapter id '02-two'")
    _find(
        problems, "course.json", "chapters[2]", "chapter '04-ghost' is listed but no chapter file defines it"
    )

    quiz = "quizzes/01-quiz.json"
    _find(problems, quiz, "passing_score", "less than or equal to 100")
    _find(
        problems, quiz, "questions[0].correct_answer", "correct answer 'z' is not one of the options (a, b)"
    )
    _find(problems, quiz, "questions[1].correct_answers[1]", "correct answer 'x' is not one of the options")
    _find(problems, quiz, "questions[2]", "unknown question type 'essay'")
    _find(problems, quiz, "questions[4].question_id", "duplicate question id 'q4'")
    _find(problems, "quizzes/09-quiz.json", "chapter_id", "chapter '09-nope', which does not exist")
    _find(problems, "quizzes/10-quiz.json", "quiz_id", "duplicate quiz id '02-quiz'")
    _find(problems, "quizzes/10-quiz.json", "chapter_id", "chapter '02-two' already has quiz '02-quiz'")
    _find(problems, "quizzes/bad.json", "line 3, column 12", "invalid JSON")
    warnings = [problem.message for problem in problems if problem.severity == "warning"]
    assert warnings == ["prerequisite '02-two' comes after this chapter in the course order"]


def test_the_cycle_is_reported_once(broken_pack: Path) -> None:
    problems = validate_pack(broken_pack)

    assert sum("prerequisite cycle" in problem.message for problem in problems) == 1


def test_loading_a_broken_pack_raises_with_every_problem(broken_pack: Path) -> None:
    with pytest.raises(ContentInvalid) as raised:
        load_pack(broken_pack)

    error = raised.value
    assert isinstance(error, ValidationFailed)
    assert error.code == "validation_error"
    assert len(error.problems) >= 20
    assert error.to_body()["error"]["details"]["problems"][0]["file"]


def test_self_prerequisite_and_missing_quiz_type(json_pack: Path) -> None:
    write_json(json_pack / "chapters" / "02-two.json", chapter_data("02-two", 2, prerequisites=["02-two"]))
    quiz = quiz_data("02-quiz", "02-two")
    del quiz["questions"][0]["type"]
    write_json(json_pack / "quizzes" / "02-quiz.json", quiz)

    problems = validate_pack(json_pack)

    _find(problems, "chapters/02-two.json", "prerequisites", "prerequisite cycle: 02-two -> 02-two")
    _find(problems, "quizzes/02-quiz.json", "questions[0]", "question has no 'type'")


def test_disagreements_with_course_order_are_warnings(json_pack: Path) -> None:
    write_json(json_pack / "chapters" / "01-one.json", chapter_data("01-one", 5, prerequisites=["02-two"]))
    write_json(json_pack / "chapters" / "02-two.json", chapter_data("02-two", 2))

    problems = validate_pack(json_pack)

    assert {problem.severity for problem in problems} == {"warning"}
    _find(problems, "chapters/01-one.json", "chapter_number", "differs from its position 1")
    _find(problems, "chapters/01-one.json", "prerequisites[0]", "comes after this chapter")
    assert load_pack(json_pack).chapter("01-one") is not None


def test_unsafe_ids_are_rejected(json_pack: Path) -> None:
    _edit(json_pack / "course.json", id="../etc")

    problems = validate_pack(json_pack)

    _find(problems, "course.json", "id", "'../etc' is not a valid id")


def test_missing_folder_is_a_problem(tmp_path: Path) -> None:
    problems = validate_pack(tmp_path / "nowhere")

    assert len(problems) == 1
    assert "not a folder" in problems[0].message


def test_markdown_problems_point_at_lines(tmp_path: Path) -> None:
    docs = tmp_path / "course"
    (docs / "quizzes").mkdir(parents=True)
    (docs / "broken.md").write_text("---\ntitle: Broken\ntags: [a, b\n---\nText\n")
    (docs / "empty.md").write_text(
        "---\naccess_tier: gold\nprerequisites: [nowhere]\n---\nIntro.\n\n## Empty\n\n## Full\n\nText.\n"
    )
    (docs / "quizzes" / "q.yaml").write_text("quiz_id: q\nchapter_id: empty\nquestions:\n  - [unclosed\n")

    problems = validate_pack(docs)

    broken = next(problem for problem in problems if problem.file == "broken.md")
    assert broken.location == "line 4" and "front matter is not valid YAML" in broken.message
    _find(problems, "empty.md", "front matter access_tier", "'gold' is not a valid access_tier")
    _find(
        problems,
        "empty.md",
        "front matter prerequisites",
        "not pages of this book are kept as a note: nowhere",
    )
    _find(problems, "empty.md", "line 7", "section 'Empty' has no text")
    quiz = next(problem for problem in problems if problem.file == "quizzes/q.yaml")
    assert quiz.location.startswith("line ") and "invalid YAML" in quiz.message
