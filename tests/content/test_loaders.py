"""Loading packs from both source formats into one typed model."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from companion.content.loaders import detect_format, find_pack_dirs
from companion.content.validation import check_pack, load_pack

from .factories import DOCS_COURSE, SHIPPED_COURSE

SHIPPED_CHAPTERS = [
    "01-intro-genai",
    "02-llms",
    "03-prompting",
    "04-rag",
    "05-fine-tuning",
    "06-ai-applications",
]
FENCED_CODE = re.compile(r"^\s*(```|~~~).*?^\s*\1", re.MULTILINE | re.DOTALL)


def test_shipped_course_loads_with_a_stable_hash() -> None:
    # A missing chapter file is exactly what this test exists to catch: it fails, never skips.
    missing = [
        chapter_id
        for chapter_id in SHIPPED_CHAPTERS
        if not (SHIPPED_COURSE / "chapters" / f"{chapter_id}.json").is_file()
    ]
    assert missing == [], f"shipped chapters missing: {missing}"
    result = check_pack(SHIPPED_COURSE)

    assert result.errors == []
    assert result.pack is not None
    pack = result.pack
    assert pack.course.id == "genai-fundamentals"
    assert [chapter.chapter_id for chapter in pack.chapters] == SHIPPED_CHAPTERS
    assert [chapter.access_tier for chapter in pack.chapters[:3]] == ["free", "free", "free"]
    assert all(chapter.access_tier != "free" for chapter in pack.chapters[3:])
    assert all(len(chapter.sections) >= 2 for chapter in pack.chapters)
    assert {quiz.chapter_id for quiz in pack.quizzes} <= set(SHIPPED_CHAPTERS)
    assert load_pack(SHIPPED_COURSE).version == pack.version


def test_formats_are_detected(json_pack: Path) -> None:
    assert detect_format(json_pack) == "json"
    assert detect_format(DOCS_COURSE) == "markdown"


def test_find_pack_dirs(json_pack: Path) -> None:
    assert find_pack_dirs(json_pack) == [json_pack]
    assert find_pack_dirs(json_pack.parent) == [json_pack]
    assert DOCS_COURSE in find_pack_dirs(DOCS_COURSE.parent)


def test_docs_course_loads_into_the_same_model() -> None:
    result = check_pack(DOCS_COURSE)

    assert result.problems == []
    pack = result.pack
    assert pack is not None
    assert (pack.course.id, pack.course.title) == ("robotics-basics", "Robotics Basics")
    assert [(m.id, m.title, m.chapters) for m in pack.course.modules] == [
        ("01-getting-started", "Getting Started", ["welcome", "setup"]),
        ("02-robot-brains", "Robot Brains", ["perception", "sensors", "control"]),
    ]
    # Within a module: sidebar_position first, then files without one.
    assert pack.course.chapters == ["welcome", "setup", "perception", "sensors", "control"]
    assert [chapter.chapter_number for chapter in pack.chapters] == [1, 2, 3, 4, 5]


def test_docs_course_front_matter_becomes_chapter_fields() -> None:
    pack = load_pack(DOCS_COURSE)

    welcome, setup, perception = pack.chapter("welcome"), pack.chapter("setup"), pack.chapter("perception")
    control = pack.chapter("control")

    assert welcome is not None and setup is not None and perception is not None and control is not None
    assert welcome.title == "Welcome to Robotics"  # from the H1, as Docusaurus does
    assert setup.title == "Setting Up Your Simulator"  # front matter wins
    assert control.title == "Control Loops"
    assert welcome.subtitle == "What this course covers and how to use it."
    assert welcome.topics == ["robots", "overview"]
    assert perception.topics == ["perception", "vision"]
    assert (perception.access_tier, perception.difficulty_level) == ("premium", "intermediate")
    assert perception.prerequisites == ["welcome"]
    assert perception.module == "02-robot-brains"
    assert setup.learning_objectives == ["Install the simulator", "Run a first simulation"]
    assert welcome.next_chapter_id == "setup"
    assert control.next_chapter_id is None
    assert all(chapter.estimated_time_minutes for chapter in pack.chapters)


def test_docs_course_sections_come_from_level_two_headings() -> None:
    pack = load_pack(DOCS_COURSE)

    welcome, perception = pack.chapter("welcome"), pack.chapter("perception")

    assert welcome is not None and perception is not None
    assert [(s.section_id, s.title, s.order) for s in welcome.sections] == [
        ("introduction", "Introduction", 1),
        ("how-the-course-is-organised", "How the course is organised", 2),
        ("what-you-need", "What you need", 3),
    ]
    assert [s.section_id for s in perception.sections] == [
        "introduction",
        "pixels-to-objects",
        "fusing-sensors",
    ]
    assert perception.sections[1].anchor == "pixels-to-objects"
    assert "{#" not in perception.sections[1].content_markdown


def test_docs_course_has_no_raw_mdx_outside_code_fences() -> None:
    pack = load_pack(DOCS_COURSE)

    for chapter in pack.chapters:
        for section in chapter.sections:
            prose = FENCED_CODE.sub("", section.content_markdown)
            for raw in (
                "import ",
                "export ",
                ":::",
                "<Tabs",
                "<TabItem",
                "</",
                "<details",
                "<summary",
                "<Figure",
            ):
                assert raw not in prose, (chapter.chapter_id, section.section_id, raw)
            assert "{/*" not in prose
            assert section.content_markdown.strip()


def test_docs_course_keeps_code_fences_and_labels() -> None:
    pack = load_pack(DOCS_COURSE)

    writing = pack.section("setup", "writing-a-component")
    installing = pack.section("setup", "installing")
    quiz_section = pack.section("sensors", "test-yourself")
    kinds = pack.section("sensors", "kinds-of-sensors")

    assert writing is not None and installing is not None and quiz_section is not None and kinds is not None
    assert "import Tabs from '@theme/Tabs';\n\nexport function Dashboard()" in writing.content_markdown
    assert '<TabItem value="speed" label="Speed">{/* speed chart */}</TabItem>' in writing.content_markdown
    assert ":::note not an admonition inside code" in writing.content_markdown
    assert "> **Warning: Check your version**" in writing.content_markdown
    assert "**Linux**" in installing.content_markdown and "**macOS**" in installing.content_markdown
    assert "sudo apt install robosim" in installing.content_markdown
    assert quiz_section.content_markdown.startswith("**Which sensor measures wheel rotation?**")
    assert "A robot with a camera on top and encoders on its wheels" in kinds.content_markdown


def test_docs_course_quizzes_are_read_from_yaml() -> None:
    pack = load_pack(DOCS_COURSE)

    quiz = pack.quiz_for_chapter("sensors")

    assert quiz is not None
    assert (quiz.quiz_id, quiz.passing_score, len(quiz.questions)) == ("sensors-quiz", 60, 3)


def test_plain_docs_folder_gets_derived_metadata_and_a_warning(tmp_path: Path) -> None:
    docs = tmp_path / "my-handbook" / "docs"
    docs.mkdir(parents=True)
    (docs / "b-second.md").write_text("Just one section of text.\n")
    (docs / "a-first.md").write_text("---\ntitle: First\naccess_tier: free\n---\n## Only\n\nText.\n")

    result = check_pack(docs)

    assert result.pack is not None
    assert (result.pack.course.id, result.pack.course.title) == ("my-handbook", "My handbook")
    assert result.pack.course.chapters == ["a-first", "b-second"]
    second = result.pack.chapter("b-second")
    assert second is not None
    assert second.access_tier == "free"
    assert [(s.section_id, s.title) for s in second.sections] == [("b-second", "B second")]
    assert [(p.file, p.severity) for p in result.problems] == [("b-second.md", "warning")]


def test_docs_course_hash_does_not_depend_on_its_location(tmp_path: Path) -> None:
    copy = shutil.copytree(DOCS_COURSE, tmp_path / "docs-course")

    assert load_pack(copy).version == load_pack(DOCS_COURSE).version
