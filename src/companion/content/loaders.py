"""Read a content pack's files (a JSON pack or a Docusaurus Markdown tree) into unvalidated documents.

Reading never stops at the first problem: unreadable files become `Problem`s and reading goes on, so
validation can report everything at once.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from companion.content.markdown import (
    FrontMatterError,
    MarkdownSection,
    clean_mdx,
    read_front_matter,
    split_sections,
    take_title,
)
from companion.content.schemas import Problem, slugify

PackFormat = Literal["json", "markdown"]

MARKDOWN_SUFFIXES = (".md", ".mdx")
STRUCTURED_SUFFIXES = (".json", ".yaml", ".yml")
COURSE_FILES = ("course.json", "course.yaml", "course.yml")
CATEGORY_FILES = ("_category_.json", "_category_.yaml", "_category_.yml")
# Reading speed used to estimate section and chapter times when the author gives none.
WORDS_PER_MINUTE = 200


@dataclass
class SourceDocument:
    """One parsed source file (or Markdown file turned into chapter data), not yet validated."""

    file: str
    data: dict[str, Any]
    # Field path prefix -> where it came from in the file, for formats where the path alone is unhelpful.
    locations: dict[str, str] = field(default_factory=dict)

    def locate(self, path: str) -> str:
        """Where a field path (e.g. "sections[2].title") points in the source file."""
        best = ""
        for prefix in self.locations:
            if _path_starts_with(path, prefix) and len(prefix) > len(best):
                best = prefix
        return self.locations[best] if best else path


def _path_starts_with(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((prefix + ".", prefix + "["))


@dataclass
class SourcePack:
    """Everything read from a pack folder, with the problems met while reading it."""

    root: Path
    format: PackFormat
    course: SourceDocument | None
    chapters: list[SourceDocument]
    quizzes: list[SourceDocument]
    problems: list[Problem]


def detect_format(path: Path) -> PackFormat:
    """JSON when the folder has course.json and a chapters/ folder, Markdown otherwise."""
    if (path / "course.json").is_file() and (path / "chapters").is_dir():
        return "json"
    return "markdown"


def read_source(path: Path) -> SourcePack:
    """Read the pack folder at `path` in whichever format it is written."""
    if not path.is_dir():
        problem = Problem(file=str(path), message="not a folder (expected a content pack folder)")
        return SourcePack(root=path, format="json", course=None, chapters=[], quizzes=[], problems=[problem])
    if detect_format(path) == "json":
        return _read_json_source(path)
    return _read_markdown_source(path)


def find_pack_dirs(root: Path) -> list[Path]:
    """The content pack folders at `root` itself or directly under it."""
    if _looks_like_pack(root):
        return [root]
    if not root.is_dir():
        return []
    return sorted(child for child in root.iterdir() if child.is_dir() and _looks_like_pack(child))


def _looks_like_pack(path: Path) -> bool:
    """A course file, a docs/ folder, Markdown files or Docusaurus category folders right inside."""
    if not path.is_dir():
        return False
    if any((path / name).is_file() for name in COURSE_FILES) or (path / "docs").is_dir():
        return True
    for child in path.iterdir():
        if child.is_file() and child.suffix in MARKDOWN_SUFFIXES:
            return True
        if child.is_dir() and any((child / name).is_file() for name in CATEGORY_FILES):
            return True
    return False


# --- Structured files (JSON and YAML) ----------------------------------------------------------


def _read_structured(path: Path, root: Path, problems: list[Problem]) -> dict[str, Any] | None:
    """Parse a JSON or YAML file holding one object; record a located problem and return None if it can't."""
    name = path.relative_to(root).as_posix()
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        problems.append(Problem(file=name, message="file is not UTF-8 text"))
        return None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as error:
        location = f"line {error.lineno}, column {error.colno}"
        problems.append(Problem(file=name, location=location, message=f"invalid JSON: {error.msg}"))
        return None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        location = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        reason = getattr(error, "problem", None) or str(error)
        problems.append(Problem(file=name, location=location, message=f"invalid YAML: {reason}"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(file=name, message="file must contain one object (a mapping of fields)"))
        return None
    return data


def _read_documents(directory: Path, root: Path, problems: list[Problem]) -> list[SourceDocument]:
    """Every JSON/YAML document in a folder, in file name order."""
    if not directory.is_dir():
        return []
    documents = []
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.suffix in STRUCTURED_SUFFIXES:
            data = _read_structured(path, root, problems)
            if data is not None:
                documents.append(SourceDocument(file=path.relative_to(root).as_posix(), data=data))
    return documents


def _read_json_source(root: Path) -> SourcePack:
    problems: list[Problem] = []
    course_data = _read_structured(root / "course.json", root, problems)
    course = SourceDocument(file="course.json", data=course_data) if course_data is not None else None
    return SourcePack(
        root=root,
        format="json",
        course=course,
        chapters=_read_documents(root / "chapters", root, problems),
        quizzes=_read_documents(root / "quizzes", root, problems),
        problems=problems,
    )


# --- Docusaurus Markdown tree ------------------------------------------------------------------


def _read_markdown_source(root: Path) -> SourcePack:
    """Read a Docusaurus-style docs tree: category folders are modules, each Markdown file a chapter."""
    problems: list[Problem] = []
    # Either the course folder holding a docs/ folder, or the docs folder itself.
    docs_dir = root / "docs" if (root / "docs").is_dir() else root
    skip = {root / "quizzes"}
    modules: list[dict[str, Any]] = []
    chapters: list[SourceDocument] = []
    for entry, category in _ordered_children(docs_dir, root, skip, problems):
        module: dict[str, Any] | None = None
        files = [entry]
        if entry.is_dir():
            module = {"id": slugify(entry.name), "title": category.get("label") or _humanize(entry.name)}
            module["chapters"] = []
            modules.append(module)
            files = _markdown_files(entry, root, skip, problems)
        for path in files:
            chapter = _read_markdown_chapter(path, root, len(chapters) + 1, module, problems)
            if chapter is not None:
                chapters.append(chapter)
                if module is not None:
                    module["chapters"].append(chapter.data["chapter_id"])
    course = _markdown_course(root, modules, chapters, problems)
    quizzes = _read_documents(root / "quizzes", root, problems)
    return SourcePack(
        root=root, format="markdown", course=course, chapters=chapters, quizzes=quizzes, problems=problems
    )


def _ordered_children(
    directory: Path, root: Path, skip: set[Path], problems: list[Problem]
) -> list[tuple[Path, dict[str, Any]]]:
    """Markdown files and folders holding Markdown (with their category file), in sidebar order."""
    entries: list[tuple[float | None, str, Path, dict[str, Any]]] = []
    for child in directory.iterdir():
        if child.name.startswith((".", "_")) or child in skip:
            continue
        if child.is_dir() and any(p.suffix in MARKDOWN_SUFFIXES for p in child.rglob("*")):
            category = _read_category(child, root, problems)
            entries.append((_number(category.get("position")), child.name, child, category))
        elif child.is_file() and child.suffix in MARKDOWN_SUFFIXES:
            entries.append((_sidebar_position(child), child.name, child, {}))
    # Docusaurus puts items with a position first, the rest after them by name.
    entries.sort(key=lambda entry: (entry[0] is None, entry[0] or 0.0, entry[1]))
    return [(path, category) for _, _, path, category in entries]


def _markdown_files(directory: Path, root: Path, skip: set[Path], problems: list[Problem]) -> list[Path]:
    """All Markdown files under a folder, nested folders included, in sidebar order."""
    files: list[Path] = []
    for child, _category in _ordered_children(directory, root, skip, problems):
        files.extend(_markdown_files(child, root, skip, problems) if child.is_dir() else [child])
    return files


def _read_category(directory: Path, root: Path, problems: list[Problem]) -> dict[str, Any]:
    for name in CATEGORY_FILES:
        if (directory / name).is_file():
            return _read_structured(directory / name, root, problems) or {}
    return {}


def _sidebar_position(path: Path) -> float | None:
    # Problems in the front matter are reported when the chapter itself is read, not here.
    try:
        return _number(read_front_matter(path.read_text(encoding="utf-8")).metadata.get("sidebar_position"))
    except (FrontMatterError, UnicodeDecodeError):
        return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _humanize(name: str) -> str:
    """A readable title from a file or folder name: "02-working-with_llms" -> "Working with llms"."""
    words = re.sub(r"^\d+[-_. ]*", "", name).replace("-", " ").replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else name


def _minutes(text: str) -> int:
    return max(1, math.ceil(len(text.split()) / WORDS_PER_MINUTE))


def _read_markdown_chapter(
    path: Path, root: Path, number: int, module: dict[str, Any] | None, problems: list[Problem]
) -> SourceDocument | None:
    """Turn one Markdown file into chapter data: front matter gives the fields, `##` headings the sections."""
    name = path.relative_to(root).as_posix()
    try:
        document = read_front_matter(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        problems.append(Problem(file=name, message="file is not UTF-8 text"))
        return None
    except FrontMatterError as error:
        problems.append(
            Problem(file=name, location=f"line {error.line}" if error.line else "", message=str(error))
        )
        return None
    meta = document.metadata
    heading_title, body = take_title(clean_mdx(document.body))
    title = meta.get("title") or heading_title or _humanize(path.stem)
    markdown_sections = split_sections(body)
    sections = _section_data(markdown_sections, title)
    if "access_tier" not in meta:
        warning = "no access_tier in the front matter; the chapter is served as free"
        problems.append(Problem(file=name, location="front matter", message=warning, severity="warning"))
    data: dict[str, Any] = {
        "chapter_id": str(meta.get("chapter_id") or meta.get("id") or path.stem),
        "chapter_number": number,
        "title": title,
        "subtitle": meta.get("subtitle") or meta.get("description") or "",
        "module": module["id"] if module else None,
        "difficulty_level": meta.get("difficulty_level", meta.get("difficulty", "beginner")),
        "topics": _tag_names(meta.get("topics", meta.get("tags", []))),
        "learning_objectives": meta.get("learning_objectives", []),
        "estimated_time_minutes": meta.get("estimated_time_minutes")
        or sum(section["estimated_time_minutes"] for section in sections),
        "prerequisites": meta.get("prerequisites", []),
        "access_tier": meta.get("access_tier", "free"),
        "sections": sections,
        "summary": meta.get("summary") or meta.get("description") or "",
    }
    locations = {key: f"front matter {key}" for key in data}
    locations["difficulty_level"] = "front matter difficulty"
    locations["topics"] = "front matter tags"
    for index, section in enumerate(markdown_sections):
        locations[f"sections[{index}]"] = f"line {document.body_line + section.line}"
    return SourceDocument(file=name, data=data, locations=locations)


def _section_data(sections: list[MarkdownSection], chapter_title: str) -> list[dict[str, Any]]:
    """Section fields from the Markdown sections; generated ids are made unique within the chapter."""
    result: list[dict[str, Any]] = []
    used: set[str] = set()
    for order, section in enumerate(sections, start=1):
        # Untitled text before the first `##` is an introduction, or the whole chapter if nothing follows.
        title = section.title or ("Introduction" if len(sections) > 1 else chapter_title)
        section_id = section.explicit_id or _unique(slugify(title), used)
        used.add(section_id)
        result.append(
            {
                "section_id": section_id,
                "title": title,
                "order": order,
                "content_markdown": section.text,
                "estimated_time_minutes": _minutes(section.text),
            }
        )
    return result


def _unique(slug: str, used: set[str]) -> str:
    candidate, suffix = slug, 2
    while candidate in used:
        candidate, suffix = f"{slug}-{suffix}", suffix + 1
    return candidate


def _tag_names(tags: Any) -> Any:
    # Docusaurus tags are strings or {label, permalink} objects; anything else is left for validation.
    if not isinstance(tags, list):
        return tags
    return [tag.get("label", tag) if isinstance(tag, dict) else tag for tag in tags]


def _markdown_course(
    root: Path, modules: list[dict[str, Any]], chapters: list[SourceDocument], problems: list[Problem]
) -> SourceDocument:
    """Course metadata from course.json/course.yaml when present, else derived from the folder name."""
    file, meta = ".", {}
    for name in COURSE_FILES:
        if (root / name).is_file():
            file, meta = name, _read_structured(root / name, root, problems) or {}
            break
    # A docs/ folder given directly is named after the project folder that holds it.
    folder = root.resolve().parent.name if root.resolve().name == "docs" else root.resolve().name
    data = {
        "id": meta.get("id") or slugify(folder),
        "title": meta.get("title") or _humanize(folder),
        "description": meta.get("description", ""),
        "language": meta.get("language", "en"),
        "modules": modules,
        "chapters": [chapter.data["chapter_id"] for chapter in chapters],
    }
    return SourceDocument(file=file, data=data)
