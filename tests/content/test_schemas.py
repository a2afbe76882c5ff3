"""The typed content model: learner quiz view, lookups and navigation, content hash."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from companion.content.schemas import ContentPack, Quiz, Section, TrueFalseQuestion
from companion.content.validation import load_pack

from .factories import quiz_data

ANSWER_WORDS = ("correct_answer", "accepted_answers", "rubric", "sample_answer", "explanation")


def test_learner_quiz_contains_no_answer_material() -> None:
    quiz = Quiz.model_validate(quiz_data("01-quiz", "01-one"))

    learner = quiz.for_learner()
    dumped = learner.model_dump_json()

    for word in ANSWER_WORDS:
        assert word not in dumped
    for secret in ("Because.", "transformer", "A sample answer.", "Is correct"):
        assert secret not in dumped
    assert [q.question_id for q in learner.questions] == ["q1", "q2", "q3", "q4", "q5"]
    assert learner.questions[0].options is not None
    assert [o.id for o in learner.questions[0].options] == ["a", "b"]
    assert learner.total_points == 5


def test_questions_are_discriminated_by_type() -> None:
    quiz = Quiz.model_validate(quiz_data("01-quiz", "01-one"))

    question = quiz.question("q3")

    assert isinstance(question, TrueFalseQuestion)
    assert question.correct_answer is True


def test_passing_score_must_be_a_percentage() -> None:
    with pytest.raises(ValidationError):
        Quiz.model_validate(quiz_data("01-quiz", "01-one", passing_score=101))


def test_section_keeps_unknown_fields_and_gets_an_anchor() -> None:
    section = Section.model_validate(
        {
            "section_id": "01-Intro",
            "title": "Intro",
            "order": 1,
            "content_markdown": "x",
            "video_url": "v.mp4",
        }
    )

    assert section.anchor == "01-intro"
    assert section.model_dump()["video_url"] == "v.mp4"


def test_lookups(json_pack: Path) -> None:
    pack = load_pack(json_pack)

    chapter = pack.chapter("02-two")
    section = pack.section("02-two", "02-first")
    quiz = pack.quiz_for_chapter("02-two")

    assert chapter is not None and chapter.title == "Chapter 2"
    assert section is not None and section.title == "First"
    assert quiz is not None and quiz.quiz_id == "02-quiz"
    assert pack.quiz("01-quiz") is not None
    assert pack.chapter("missing") is None
    assert pack.section("01-one", "missing") is None


def test_chapter_navigation_follows_course_order(json_pack: Path) -> None:
    pack = load_pack(json_pack)

    assert pack.next_chapter_id("01-one") == "02-two"
    assert pack.next_chapter_id("02-two") is None
    assert pack.previous_chapter_id("02-two") == "01-one"
    assert pack.previous_chapter_id("01-one") is None


def test_section_navigation_crosses_chapter_boundaries(json_pack: Path) -> None:
    pack = load_pack(json_pack)

    after_last = pack.next_section("01-one", "01-second")
    before_first = pack.previous_section("02-two", "02-first")

    assert after_last is not None
    assert (after_last.chapter.chapter_id, after_last.section.section_id) == ("02-two", "02-first")
    assert before_first is not None
    assert (before_first.chapter.chapter_id, before_first.section.section_id) == ("01-one", "01-second")
    assert pack.previous_section("01-one", "01-first") is None
    assert pack.next_section("02-two", "02-second") is None


def test_assembly_fills_module_and_next_chapter(json_pack: Path) -> None:
    pack = load_pack(json_pack)

    chapters = {chapter.chapter_id: chapter for chapter in pack.chapters}

    assert chapters["01-one"].module == "basics"
    assert chapters["02-two"].next_chapter_id is None
    assert chapters["01-one"].next_chapter_id == "02-two"


def test_version_is_a_stable_content_hash(json_pack: Path) -> None:
    pack = load_pack(json_pack)

    reloaded = ContentPack.model_validate_json(pack.canonical_json())

    assert pack.version == load_pack(json_pack).version
    assert len(pack.version) == 64
    assert reloaded.version == pack.version
    assert reloaded.content_hash() == pack.version


def test_version_changes_with_content(json_pack: Path) -> None:
    before = load_pack(json_pack).version
    chapter_file = json_pack / "chapters" / "02-two.json"
    chapter_file.write_text(chapter_file.read_text().replace("More text.", "Changed text."))

    assert load_pack(json_pack).version != before
