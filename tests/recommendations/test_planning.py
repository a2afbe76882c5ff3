"""The planning rules on their own: background per chapter domain, prerequisites, review, odd content."""

from __future__ import annotations

from typing import Any

from companion.content.schemas import Chapter, ContentPack, Course, Quiz, TrueFalseQuestion
from companion.progress.schemas import ChapterStateSummary
from companion.quizzes.schemas import QuizScoreSummary
from companion.recommendations.service import Background, plan_path


def chapter(chapter_id: str, number: int, difficulty: str, **fields: Any) -> Chapter:
    """A chapter with no sections, free."""
    return Chapter(
        chapter_id=chapter_id,
        chapter_number=number,
        title=chapter_id.title(),
        difficulty_level=difficulty,
        access_tier="free",
        sections=[],
        **fields,
    )


def robotics() -> ContentPack:
    """A small robotics course: software and hardware chapters, some building on others."""
    chapters = [
        chapter("intro", 1, "beginner", module="introduction"),
        chapter("workstation", 2, "beginner", module="hardware", topics=["workstation setup"]),
        chapter("ros2", 3, "intermediate", module="module-1", prerequisites=["intro"]),
        chapter(
            "sensors", 4, "intermediate", module="module-2", topics=["sensors"], prerequisites=["workstation"]
        ),
    ]
    quiz = Quiz(
        quiz_id="ros2-quiz",
        chapter_id="ros2",
        title="ROS 2 check",
        passing_score=70,
        questions=[
            TrueFalseQuestion(question_id="q1", question_text="Nodes talk over topics.", correct_answer=True)
        ],
    )
    course = Course(id="robotics", title="Robotics", chapters=[c.chapter_id for c in chapters])
    return ContentPack(course=course, chapters=chapters, quizzes=[quiz])


def plan(
    pack: ContentPack,
    software: str,
    hardware: str,
    states: dict[str, ChapterStateSummary] | None = None,
    results: dict[str, QuizScoreSummary] | None = None,
) -> list[tuple[str, str]]:
    """The planned (chapter id, kind) pairs."""
    planned = plan_path(
        pack, background=Background(software, hardware), states=states or {}, quiz_results=results or {}
    )
    return [(item.chapter_id, item.kind) for item in planned.chapters]


def test_hardware_chapters_are_judged_by_hardware_experience() -> None:
    # Advanced in software, new to hardware: software basics become review, hardware stays in the path.
    assert plan(robotics(), "advanced", "none") == [
        ("workstation", "study"),
        ("ros2", "study"),
        ("sensors", "study"),
        ("intro", "review"),
    ]
    # A beginner programmer who is a hardware professional: the reverse.
    assert plan(robotics(), "beginner", "professional") == [
        ("intro", "study"),
        ("sensors", "study"),
        ("ros2", "study"),  # a step up: after the ready chapters at the learner's level
        ("workstation", "review"),
    ]


def test_reasons_name_the_experience_that_counts() -> None:
    planned = plan_path(robotics(), background=Background("advanced", "none"), states={}, quiz_results={})
    reasons = {item.chapter_id: item.reason for item in planned.chapters}
    assert "no hardware experience" in reasons["sensors"] and "step up" in reasons["sensors"]
    assert 'Builds on "Workstation"' in reasons["sensors"]
    assert "advanced software experience" in reasons["intro"]
    assert "advanced software experience, no hardware experience" in planned.rationale


def test_a_failed_quiz_outranks_everything_and_pending_grading_is_not_a_failure() -> None:
    states = {
        "intro": ChapterStateSummary(state="completed", completion_percentage=100, last_section_id=None),
        "ros2": ChapterStateSummary(state="completed", completion_percentage=100, last_section_id=None),
        "workstation": ChapterStateSummary(
            state="in_progress", completion_percentage=50, last_section_id=None
        ),
    }
    failed = {"ros2-quiz": QuizScoreSummary(quiz_id="ros2-quiz", best_score=40.0, passed=False, attempts=2)}
    assert plan(robotics(), "beginner", "none", states, failed) == [
        ("ros2", "revisit"),
        ("workstation", "continue"),
        ("sensors", "study"),
    ]
    pending = {"ros2-quiz": QuizScoreSummary(quiz_id="ros2-quiz", best_score=None, passed=False, attempts=1)}
    assert plan(robotics(), "beginner", "none", states, pending) == [
        ("workstation", "continue"),
        ("sensors", "study"),
    ]


def test_everything_done_leaves_an_empty_path_that_says_so() -> None:
    done = ChapterStateSummary(state="completed", completion_percentage=100, last_section_id=None)
    pack = robotics()
    planned = plan_path(
        pack,
        background=Background("intermediate", "hobbyist"),
        states={c.chapter_id: done for c in pack.chapters},
        quiz_results={},
    )
    assert planned.chapters == [] and "completed all 4 chapters" in planned.rationale


def test_prerequisite_cycles_and_unknown_prerequisites_do_not_stall_the_plan() -> None:
    chapters = [
        chapter("a", 1, "beginner", prerequisites=["b"]),
        chapter("b", 2, "beginner", prerequisites=["a"]),
        chapter("c", 3, "beginner", prerequisites=["not-in-this-course"]),
    ]
    pack = ContentPack(course=Course(id="loops", title="Loops", chapters=["a", "b", "c"]), chapters=chapters)
    assert [chapter_id for chapter_id, _ in plan(pack, "beginner", "none")] == ["c", "a", "b"]
