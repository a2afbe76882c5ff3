"""The documents read from a content pack, before validation, and the reader of JSON/YAML files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from companion.content.schemas import Problem

PackFormat = Literal["json", "markdown"]
STRUCTURED_SUFFIXES = (".json", ".yaml", ".yml")


@dataclass
class SourceDocument:
    """One parsed source file (or Markdown file turned into chapter data), not yet validated."""

    file: str
    data: dict[str, Any]
    # Markdown pages report empty sections themselves; a derived course lists exactly the pages found.
    markdown: bool = False
    derived: bool = False
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


# --- Structured files (JSON and YAML) ----------------------------------------------------------


def read_structured(path: Path, root: Path, problems: list[Problem]) -> dict[str, Any] | None:
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


def read_documents(directory: Path, root: Path, problems: list[Problem]) -> list[SourceDocument]:
    """Every JSON/YAML document in a folder, in file name order."""
    if not directory.is_dir():
        return []
    documents = []
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.suffix in STRUCTURED_SUFFIXES:
            data = read_structured(path, root, problems)
            if data is not None:
                documents.append(SourceDocument(file=path.relative_to(root).as_posix(), data=data))
    return documents
