"""Read a content pack's files (a JSON pack or a Docusaurus Markdown tree) into unvalidated documents.

Reading never stops at the first problem: unreadable files become `Problem`s and reading goes on, so
validation can report everything at once.
"""

from __future__ import annotations

from pathlib import Path

from companion.content.loaders_base import (
    PackFormat,
    SourceDocument,
    SourcePack,
    read_documents,
    read_structured,
)
from companion.content.markdown_pack import read_markdown_source
from companion.content.schemas import Problem

__all__ = ["SourceDocument", "SourcePack", "detect_format", "find_pack_dirs", "read_source"]

MARKDOWN_SUFFIXES = (".md", ".mdx")
COURSE_FILES = ("course.json", "course.yaml", "course.yml")
CATEGORY_FILES = ("_category_.json", "_category_.yaml", "_category_.yml")


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
    return read_markdown_source(path)


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


def _read_json_source(root: Path) -> SourcePack:
    problems: list[Problem] = []
    course_data = read_structured(root / "course.json", root, problems)
    course = SourceDocument(file="course.json", data=course_data) if course_data is not None else None
    return SourcePack(
        root=root,
        format="json",
        course=course,
        chapters=read_documents(root / "chapters", root, problems),
        quizzes=read_documents(root / "quizzes", root, problems),
        problems=problems,
    )
