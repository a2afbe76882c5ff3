"""A Docusaurus docs folder turned into course, chapter and quiz documents, following its sidebar.

Chapters come in sidebar order (see `docusaurus` for how categories become modules). Front matter is
read tolerantly: objects where text is expected give their text, free-text prerequisites are kept as a
note with a warning. `<Quiz questions={[...]}>` blocks with literal data become the chapter's quiz and
never appear in its text.
"""

from __future__ import annotations

import math
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from companion.content.docusaurus import Category, DocsTree, Page, read_tree, strip_number_prefix, text_of
from companion.content.loaders_base import SourceDocument, SourcePack, read_documents, read_structured
from companion.content.markdown import (
    MarkdownSection,
    clean_mdx,
    clean_mdx_with_findings,
    read_front_matter,
    split_sections,
    take_title,
)
from companion.content.quiz_components import quiz_questions
from companion.content.schemas import Problem, slugify

COURSE_FILES = ("course.yaml", "course.yml", "course.json")
DIFFICULTIES = {"beginner": "beginner", "intermediate": "intermediate", "advanced": "advanced"}
DIFFICULTY_SYNONYMS = {
    "foundational": "beginner",
    "introductory": "beginner",
    "basic": "beginner",
    "easy": "beginner",
    "medium": "intermediate",
    "hard": "advanced",
    "expert": "advanced",
}
# Reading speed used to estimate section and chapter times when the author gives none.
WORDS_PER_MINUTE = 200


@dataclass
class _Entry:
    page: Page
    module: str | None
    rules: list[dict[str, Any]]  # access rules of the enclosing categories, innermost first


@dataclass
class _Flattened:
    entries: list[_Entry] = field(default_factory=list)
    modules: list[dict[str, Any]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)


def read_markdown_source(root: Path) -> SourcePack:
    """Read a Docusaurus-style docs tree (with an optional course.yaml) into unvalidated documents."""
    problems: list[Problem] = []
    docs_dir = root / "docs" if (root / "docs").is_dir() else root
    course_file, course_meta = _course_file(root, problems)
    tree = read_tree(docs_dir, root, problems)
    flat = _Flattened()
    _flatten(tree.sidebar, None, [], flat, problems, root)
    chapters: list[SourceDocument] = []
    quizzes: list[SourceDocument] = []
    for number, entry in enumerate(flat.entries, start=1):
        chapter, quiz = _chapter_document(entry, number, root, problems)
        chapters.append(chapter)
        if quiz is not None:
            quizzes.append(quiz)
    _resolve_prerequisites(chapters, flat.entries, tree, problems)
    _apply_access(chapters, flat.entries, course_meta, course_file, problems)
    external = read_documents(root / "quizzes", root, problems)
    _resolve_quiz_chapters(external, flat.entries, tree)
    course = _course_document(root, docs_dir, course_file, course_meta, tree, flat, chapters)
    return SourcePack(
        root=root,
        format="markdown",
        course=course,
        chapters=chapters,
        quizzes=quizzes + external,
        problems=problems,
    )


def _course_file(root: Path, problems: list[Problem]) -> tuple[str | None, dict[str, Any]]:
    for name in COURSE_FILES:
        if (root / name).is_file():
            return name, read_structured(root / name, root, problems) or {}
    return None, {}


def _flatten(
    items: list[Page | Category],
    module: Category | None,
    rules: list[dict[str, Any]],
    flat: _Flattened,
    problems: list[Problem],
    root: Path,
) -> None:
    """Walk the sidebar depth first: categories become modules, pages chapters, each page once."""
    for item in items:
        if isinstance(item, Category):
            inner_rules = [_access_rules(item.metadata), *rules]
            link = item.metadata.get("link")
            description = text_of(link.get("description")) if isinstance(link, dict) else ""
            record: dict[str, Any] = {
                "id": item.key,
                "title": item.label,
                "chapters": [],
                "parent": module.key if module else None,
                "description": description or text_of(item.metadata.get("description")),
                "collapsed": item.metadata.get("collapsed", True) is not False,
            }
            flat.modules.append(record)
            pages = [item.link_page] if item.link_page else []
            _flatten([*pages, *item.items], item, inner_rules, flat, problems, root)
        elif item.doc_id in flat.seen:
            message = "the page is in the sidebar more than once; it is used where it first appears"
            problems.append(Problem(file=_name(item, root), message=message, severity="warning"))
        else:
            flat.seen.add(item.doc_id)
            flat.entries.append(_Entry(item, module.key if module else None, rules))
            if module is not None:
                next(m for m in flat.modules if m["id"] == module.key)["chapters"].append(item.chapter_id)


def _access_rules(metadata: dict[str, Any]) -> dict[str, Any]:
    # `access_tier`/`free_chapters` in _category_.json, or the same keys under Docusaurus' customProps.
    props = metadata.get("customProps")
    custom: dict[str, Any] = props if isinstance(props, dict) else {}
    return {key: metadata.get(key, custom.get(key)) for key in ("access_tier", "free_chapters")}


def _name(page: Page, root: Path) -> str:
    return page.path.relative_to(root).as_posix()


def _minutes(text: str) -> int:
    return max(1, math.ceil(len(text.split()) / WORDS_PER_MINUTE))


def _chapter_document(
    entry: _Entry, number: int, root: Path, problems: list[Problem]
) -> tuple[SourceDocument, SourceDocument | None]:
    """Chapter data from one page: front matter gives the fields, `##` headings the sections."""
    page, meta, name = entry.page, entry.page.meta, _name(entry.page, root)
    line_of = page.document.body_line
    cleaned, findings = clean_mdx_with_findings(page.document.body)
    for line, component in findings.unknown:
        message = f"unknown component <{component}> left out (its text, if any, is kept)"
        problems.append(
            Problem(file=name, location=f"line {line_of + line}", message=message, severity="warning")
        )
    for line, component in findings.broken_quizzes:
        message = f"<{component}> does not hold literal question data; it was left out"
        problems.append(
            Problem(file=name, location=f"line {line_of + line}", message=message, severity="warning")
        )
    heading, body = take_title(cleaned)
    title = page.label(heading)
    markdown_sections = split_sections(body)
    sections, locations = _sections(markdown_sections, title, name, line_of, problems)
    objectives = meta.get("learning_objectives", meta.get("objectives", []))
    data: dict[str, Any] = {
        "chapter_id": page.chapter_id,
        "chapter_number": number,
        "title": title,
        "subtitle": text_of(meta.get("subtitle")) or text_of(meta.get("description")),
        "module": entry.module,
        "difficulty_level": _difficulty(meta, name, problems),
        "topics": _texts(meta.get("topics", meta.get("tags", []))),
        "learning_objectives": _texts(objectives),
        "estimated_time_minutes": meta.get("estimated_time_minutes")
        or sum(section["estimated_time_minutes"] for section in sections),
        "prerequisites": [],
        "access_tier": meta.get("access_tier"),
        "sections": sections,
        "summary": _summary(page) or text_of(meta.get("summary")) or text_of(meta.get("description")),
    }
    if heading and heading != title:
        data["page_title"] = heading
    locations.update({key: f"front matter {key}" for key in data if key not in locations})
    locations["difficulty_level"] = "front matter difficulty"
    locations["topics"] = "front matter tags"
    chapter = SourceDocument(file=name, data=data, locations=locations, markdown=True)
    quiz = None
    if findings.quizzes:
        quiz = _quiz_document(page, title, name, line_of, findings.quizzes, problems)
    return chapter, quiz


def _sections(
    sections: list[MarkdownSection], chapter_title: str, file: str, body_line: int, problems: list[Problem]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Section fields; an empty heading joins the section before it, empty sections are warned about."""
    result: list[dict[str, Any]] = []
    locations: dict[str, str] = {}
    used: set[str] = set()
    for section in sections:
        where = f"line {body_line + section.line}"
        if section.title == "" and result:
            problems.append(
                Problem(
                    file=file,
                    location=where,
                    message="empty heading; its text joins the section before it",
                    severity="warning",
                )
            )
            result[-1]["content_markdown"] = (result[-1]["content_markdown"] + "\n\n" + section.text).strip()
            continue
        if section.title == "":
            problems.append(Problem(file=file, location=where, message="empty heading", severity="warning"))
        title = section.title or ("Introduction" if len(sections) > 1 else chapter_title)
        section_id = section.explicit_id or _unique(slugify(title), used)
        used.add(section_id)
        if not section.text.strip():
            problems.append(
                Problem(
                    file=file, location=where, message=f"section {title!r} has no text", severity="warning"
                )
            )
        locations[f"sections[{len(result)}]"] = where
        result.append(
            {
                "section_id": section_id,
                "title": title,
                "order": len(result) + 1,
                "content_markdown": section.text,
                "estimated_time_minutes": _minutes(section.text),
            }
        )
    if not result:
        # A page without text is still a page of the book (often a landing page still to be written).
        problems.append(Problem(file=file, message="the page has no text", severity="warning"))
        section_id = slugify(chapter_title)
        result.append({"section_id": section_id, "title": chapter_title, "order": 1, "content_markdown": ""})
    return result, locations


def _unique(slug: str, used: set[str]) -> str:
    candidate, suffix = slug, 2
    while candidate in used:
        candidate, suffix = f"{slug}-{suffix}", suffix + 1
    return candidate


def _texts(value: Any) -> list[str]:
    """A list of strings from a string, a list of strings, or a list of objects holding text."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [text for text in (text_of(item) for item in items) if text]


def _difficulty(meta: dict[str, Any], file: str, problems: list[Problem]) -> str:
    raw = text_of(meta.get("difficulty_level", meta.get("difficulty"))).lower()
    if not raw:
        return "beginner"
    known = DIFFICULTIES.get(raw) or DIFFICULTY_SYNONYMS.get(raw)
    if known:
        return known
    message = (
        f"difficulty {raw!r} is not beginner, intermediate or advanced; the chapter is listed as beginner"
    )
    problems.append(
        Problem(file=file, location="front matter difficulty", message=message, severity="warning")
    )
    return "beginner"


def _summary(page: Page) -> str:
    """The text of the lesson's `*.summary.md` companion file, if it has one."""
    if page.summary_path is None:
        return ""
    try:
        document = read_front_matter(page.summary_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return ""
    return take_title(clean_mdx(document.body))[1].strip()


def _quiz_document(
    page: Page, title: str, file: str, body_line: int, blocks: list[tuple[int, Any]], problems: list[Problem]
) -> SourceDocument | None:
    questions: list[dict[str, Any]] = []
    locations: dict[str, str] = {}
    for line, data in blocks:
        for raw in data:
            question = quiz_questions(raw, len(questions) + 1)
            if question is None:
                message = (
                    "a quiz question could not be read (it needs a question, options and the correct one)"
                )
                problems.append(
                    Problem(
                        file=file, location=f"line {body_line + line}", message=message, severity="warning"
                    )
                )
                continue
            locations[f"questions[{len(questions)}]"] = f"line {body_line + line}"
            questions.append(question)
    if not questions:
        return None
    data = {
        "quiz_id": f"{page.chapter_id}-quiz",
        "chapter_id": page.chapter_id,
        "title": f"{title}: quiz",
        "questions": questions,
    }
    return SourceDocument(file=file, data=data, locations=locations)


# --- Cross-page fields: prerequisites, access, quizzes, course ---------------------------------


def _resolver(entries: list[_Entry], tree: DocsTree) -> dict[str, str]:
    """Every way an author may name a page (chapter id, Docusaurus id, file name) -> its chapter id."""
    names: dict[str, str] = {}
    by_stem: dict[str, list[str]] = {}
    for entry in entries:
        page = entry.page
        for key in (page.doc_id, page.relative.as_posix(), str(page.relative.with_suffix(""))):
            names[key] = page.chapter_id
        by_stem.setdefault(strip_number_prefix(page.path.stem), []).append(page.chapter_id)
        by_stem.setdefault(page.doc_id.rsplit("/", 1)[-1], []).append(page.chapter_id)
    for stem, ids in by_stem.items():
        if len(set(ids)) == 1:
            names.setdefault(stem, ids[0])
    for entry in entries:
        names[entry.page.chapter_id] = entry.page.chapter_id
    return names


def _lookup(names: dict[str, str], reference: str, page: Page) -> str | None:
    if reference in names:
        return names[reference]
    if reference.startswith("."):
        joined = posixpath.normpath(posixpath.join(page.relative.parent.as_posix(), reference))
        return names.get(joined) or names.get(posixpath.splitext(joined)[0])
    return None


def _resolve_prerequisites(
    chapters: list[SourceDocument], entries: list[_Entry], tree: DocsTree, problems: list[Problem]
) -> None:
    names = _resolver(entries, tree)
    for chapter, entry in zip(chapters, entries, strict=True):
        raw = entry.page.meta.get("prerequisites")
        if raw is None or raw == []:
            continue
        resolved: list[str] = []
        notes: list[str] = []
        for item in raw if isinstance(raw, list) else [raw]:
            text = text_of(item)
            found = _lookup(names, text, entry.page) if isinstance(item, str) else None
            if found:
                resolved.append(found)
            elif text:
                notes.append(text)
        chapter.data["prerequisites"] = resolved
        if notes:
            chapter.data["prerequisite_notes"] = notes
            shown = "; ".join(notes)
            message = f"prerequisites that are not pages of this book are kept as a note: {shown[:120]}"
            problems.append(
                Problem(
                    file=chapter.file,
                    location="front matter prerequisites",
                    message=message,
                    severity="warning",
                )
            )


def _apply_access(
    chapters: list[SourceDocument],
    entries: list[_Entry],
    course_meta: dict[str, Any],
    course_file: str | None,
    problems: list[Problem],
) -> None:
    """Tiers: front matter, else the nearest category's rules, else the course's, else free."""
    course_free = course_meta.get("free_chapters")
    default = course_meta.get("default_tier")
    position_in_module: dict[str | None, int] = {}
    anything_set = course_free is not None or default is not None
    for index, (chapter, entry) in enumerate(zip(chapters, entries, strict=True)):
        position = position_in_module[entry.module] = position_in_module.get(entry.module, 0) + 1
        if chapter.data["access_tier"] is not None:
            anything_set = True
            continue
        tier = None
        for rules in entry.rules:
            if isinstance(rules.get("free_chapters"), int) and position <= rules["free_chapters"]:
                tier = "free"
            tier = tier or rules.get("access_tier")
            if tier:
                break
        if tier is None and isinstance(course_free, int) and index < course_free:
            tier = "free"
        anything_set = anything_set or any(
            rules.get("access_tier") or rules.get("free_chapters") for rules in entry.rules
        )
        chapter.data["access_tier"] = tier or default or "free"
    if chapters and not anything_set:
        message = (
            "no access tiers are set, so every chapter is free; set free_chapters and default_tier in "
            "course.yaml, access_tier in a _category_.json, or access_tier in a page's front matter"
        )
        problems.append(Problem(file=course_file or ".", message=message, severity="warning"))


def _resolve_quiz_chapters(quizzes: list[SourceDocument], entries: list[_Entry], tree: DocsTree) -> None:
    # Quiz files name their chapter as authors know it (often the file name); map it to the chapter id.
    names = _resolver(entries, tree)
    for quiz in quizzes:
        reference = quiz.data.get("chapter_id")
        if isinstance(reference, str) and reference in names:
            quiz.data["chapter_id"] = names[reference]


def _course_document(
    root: Path,
    docs_dir: Path,
    course_file: str | None,
    meta: dict[str, Any],
    tree: DocsTree,
    flat: _Flattened,
    chapters: list[SourceDocument],
) -> SourceDocument:
    """Course metadata from course.yaml when present, else from the folder name and the root index page."""
    folder = root.resolve().parent.name if root.resolve().name == "docs" else root.resolve().name
    index = _root_index(tree)
    index_title = text_of(index.meta.get("title")) if index else ""
    index_description = text_of(index.meta.get("description")) if index else ""
    data = {
        "id": meta.get("id") or slugify(folder),
        "title": meta.get("title") or index_title or _humanize(folder),
        "description": meta.get("description") or index_description,
        "language": meta.get("language", "en"),
        "modules": flat.modules,
        "chapters": [chapter.data["chapter_id"] for chapter in chapters],
    }
    return SourceDocument(file=course_file or ".", data=data, derived=True)


def _root_index(tree: DocsTree) -> Page | None:
    """The page served at the docs root: `slug: /`, else a top-level index or README."""
    pages = list(tree.pages.values())
    for page in pages:
        if text_of(page.meta.get("slug")) == "/":
            return page
    return next(
        (p for p in pages if len(p.relative.parts) == 1 and p.path.stem.lower() in ("index", "readme")), None
    )


def _humanize(name: str) -> str:
    """A readable title from a folder name: "02-working-with_llms" -> "Working with llms"."""
    words = strip_number_prefix(name).replace("-", " ").replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else name
