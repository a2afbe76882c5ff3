"""Docusaurus books import as Docusaurus shows them: sidebar order, labels, modules, components."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import frontmatter
import pytest
from typer.testing import CliRunner

from companion.content.cli import app
from companion.content.validation import check_pack, load_pack

from .books import BOOK_NAMES, require_books

runner = CliRunner()


def _sidebar_as_docusaurus_shows_it(book: Path) -> list[tuple[str | None, list[str]]]:
    """(category label or None for top-level pages, [page labels]) read straight from the files.

    Written independently of the importer: top-level pages and category folders sorted by position,
    each category's linked index page first, then its pages by sidebar_position.
    """

    def page(path: Path) -> tuple[float, str]:
        meta = frontmatter.load(path).metadata
        return float(meta["sidebar_position"]), str(meta.get("sidebar_label") or meta["title"])

    entries: list[tuple[float, str | None, list[str]]] = []
    for path in book.iterdir():
        if path.suffix == ".md":
            position, label = page(path)
            entries.append((position, None, [label]))
        elif path.is_dir():
            category: dict[str, Any] = json.loads((path / "_category_.json").read_text())
            index_id = category["link"]["id"].rsplit("/", 1)[-1]
            lessons = sorted(page(p) for p in path.glob("*.md") if p.stem != index_id)
            labels = [page(path / f"{index_id}.md")[1], *(label for _, label in lessons)]
            entries.append((float(category["position"]), category["label"], labels))
    return [(label, pages) for _, label, pages in sorted(entries, key=lambda entry: entry[0])]


@pytest.mark.parametrize("name", BOOK_NAMES)
def test_book_imports_with_the_docusaurus_sidebar(name: str) -> None:
    book = require_books() / name

    result = check_pack(book)

    assert result.errors == []
    assert result.pack is not None
    pack = result.pack
    titles = {chapter.chapter_id: chapter.title for chapter in pack.chapters}
    module_of = {chapter.chapter_id: chapter.module for chapter in pack.chapters}
    modules = {module.id: module for module in pack.course.modules}
    shown: list[tuple[str | None, list[str]]] = []
    for chapter_id in pack.course.chapters:
        module = modules[module_of[chapter_id]].title if module_of[chapter_id] else None
        if shown and shown[-1][0] == module and module is not None:
            shown[-1][1].append(titles[chapter_id])
        else:
            shown.append((module, [titles[chapter_id]]))
    assert shown == _sidebar_as_docusaurus_shows_it(book)
    assert len(set(pack.course.chapters)) == len(pack.chapters)  # ids unique, no page twice
    assert pack.chapters[0].chapter_id == "intro" and pack.chapters[0].title == "Introduction"
    assert pack.course.id == name and pack.course.title == frontmatter.load(book / "intro.md")["title"]


@pytest.mark.parametrize("name", BOOK_NAMES)
def test_validate_command_reports_no_errors_on_the_books(name: str) -> None:
    result = runner.invoke(app, ["validate", str(require_books() / name)])

    assert result.exit_code == 0, result.output
    assert ": 0 error(s)" in result.output


def test_book_text_is_readable_markdown() -> None:
    pack = load_pack(require_books() / "cehrs")

    index = pack.chapter("module-01-ehr-ecosystem.index")
    assert index is not None
    outcomes = next(s for s in index.sections if s.title == "Prerequisites").content_markdown
    assert "> **Info: Learning outcomes**" in outcomes and ":::" not in outcomes
    lesson = pack.chapter(
        "module-01-ehr-ecosystem.lesson-c1-1-from-paper-charts-to-interoperable-health-records"
    )
    assert lesson is not None
    assert any("```mermaid" in section.content_markdown for section in lesson.sections)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_nested_categories_drafts_templates_and_the_index_convention(tmp_path: Path) -> None:
    docs = tmp_path / "handbook" / "docs"
    _write(docs / "index.md", "---\ntitle: The Handbook\nslug: /\nsidebar_position: 0\n---\nWelcome.\n")
    _write(docs / "10-basics" / "_category_.yml", "label: The Basics\nposition: 1\naccess_tier: premium\n")
    _write(docs / "10-basics" / "README.md", "# Basics overview\n\nWhat comes.\n")
    _write(docs / "10-basics" / "first.md", "---\nsidebar_position: 1\nid: one\n---\n# First\n\nText.\n")
    _write(docs / "10-basics" / "deeper" / "_category_.json", '{"label": "Going deeper", "position": 2}')
    _write(docs / "10-basics" / "deeper" / "index.md", "---\naccess_tier: free\n---\n# Deeper\n\nMore.\n")
    _write(docs / "10-basics" / "deeper" / "more.md", "# More\n\nEven more.\n")
    _write(docs / "10-basics" / "draft.md", "---\ndraft: true\n---\nNot yet.\n")
    _write(docs / "10-basics" / "hidden.md", "---\nunlisted: true\n---\nHidden.\n")
    _write(docs / "_template.md", "# Template\n\nCopy me.\n")

    result = check_pack(docs)

    assert result.errors == []
    pack = result.pack
    assert pack is not None
    assert (pack.course.id, pack.course.title) == ("handbook", "The Handbook")
    assert pack.course.chapters == [
        "index",
        "basics.README",
        "basics.one",
        "basics.deeper.index",
        "basics.deeper.more",
    ]
    assert [(m.id, m.title, m.parent, m.chapters) for m in pack.course.modules] == [
        ("basics", "The Basics", None, ["basics.README", "basics.one"]),
        ("basics.deeper", "Going deeper", "basics", ["basics.deeper.index", "basics.deeper.more"]),
    ]
    tiers = {chapter.chapter_id: chapter.access_tier for chapter in pack.chapters}
    # Front matter wins, then the nearest category's tier; a nested category inherits its parent's.
    assert tiers == {
        "index": "free",
        "basics.README": "premium",
        "basics.one": "premium",
        "basics.deeper.index": "free",
        "basics.deeper.more": "premium",
    }


def test_explicit_sidebars_js_decides_what_is_a_chapter(tmp_path: Path) -> None:
    docs = tmp_path / "guide"
    for name in ("intro", "a", "b", "c", "notes"):
        _write(docs / f"{name}.md", f"# {name.upper()} page\n\nText of {name}.\n")
    _write(
        tmp_path / "guide" / "sidebars.js",
        """// @ts-check
/** @type {import('@docusaurus/plugin-content-docs').SidebarsConfig} */
const sidebars = {
  guide: [
    'intro',
    {type: 'category', label: 'Part One', items: ['b', {type: 'doc', id: 'a', label: 'Alpha'}],},
    {'Part Two': ['c']},
    {type: 'link', label: 'Elsewhere', href: 'https://example.com'},
  ],
};
module.exports = sidebars;
""",
    )
    _write(
        tmp_path / "guide" / "course.yaml", "id: guide\ntitle: Guide\nfree_chapters: 2\ndefault_tier: pro\n"
    )

    pack = load_pack(docs)

    assert pack.course.chapters == ["intro", "b", "a", "c"]  # "notes" is not in the sidebar
    assert [(m.title, m.chapters) for m in pack.course.modules] == [
        ("Part One", ["b", "a"]),
        ("Part Two", ["c"]),
    ]
    assert [chapter.title for chapter in pack.chapters] == ["INTRO page", "B page", "Alpha", "C page"]
    assert [chapter.access_tier for chapter in pack.chapters] == ["free", "free", "pro", "pro"]


def test_mdx_components_quizzes_and_rich_front_matter(tmp_path: Path) -> None:
    docs = tmp_path / "course"
    _write(
        docs / "lesson.mdx",
        """---
title: Lesson
access_tier: free
learning_objectives:
  - objective: Explain torque
    bloom_level: understand
prerequisites: Basic physics and some patience
---
import Quiz from '@site/src/components/Quiz';

## Torque

<Tabs>
<TabItem value="a" label="In words">

Torque turns things.

</TabItem>
</Tabs>

<Sparkle intensity={3}>Shiny text stays.</Sparkle>

## 

Text under an empty heading.

## Check

<Quiz
  questions={[
    {question: 'What does torque do?', options: ['Turns things', 'Heats things'], correct: 0,
     explanation: 'Torque is a turning force.'},
    {question: "Is torque a force times a distance?", answer: true},
  ]}
/>
""",
    )

    result = check_pack(docs)

    assert result.errors == []
    pack = result.pack
    assert pack is not None
    chapter = pack.chapter("lesson")
    assert chapter is not None
    text = "\n".join(section.content_markdown for section in chapter.sections)
    assert "**In words**" in text and "Torque turns things." in text and "Shiny text stays." in text
    assert "Text under an empty heading." in chapter.sections[0].content_markdown
    for leaked in ("<", "Heats things", "turning force", "questions="):
        assert leaked not in text
    assert chapter.learning_objectives == ["Explain torque"]
    assert chapter.prerequisites == []
    quiz = pack.quiz_for_chapter("lesson")
    assert quiz is not None
    assert [question.type for question in quiz.questions] == ["multiple_choice", "true_false"]
    warnings = {(problem.location, problem.message.split(";")[0]) for problem in result.warnings}
    assert ("line 21", "unknown component <Sparkle> left out (its text, if any, is kept)") in warnings
    assert any("empty heading" in message for _, message in warnings)
    assert any("kept as a note: Basic physics" in problem.message for problem in result.warnings)
