"""Reading a Docusaurus `sidebars.js` without running it: its object literal is parsed as JSON5.

Only sidebars written as plain data can be read (strings, arrays, objects, comments, trailing commas);
anything computed (`require`, spreads, functions) is reported, and the caller falls back to the folders.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import json5

SIDEBAR_FILES = ("sidebars.js", "sidebars.ts", "sidebars.json", "sidebars.cjs", "sidebars.mjs")
# `module.exports = {`, `export default {`, or `const sidebars: SidebarsConfig = {` (exported later).
_OBJECT_START = re.compile(
    r"(?:module\.exports\s*=|export\s+default|(?:const|let|var)\s+\w+\s*(?::\s*[\w.<>\[\]]+\s*)?=)\s*\{"
)
_LINE_COMMENT = re.compile(r"^\s*//.*$", re.MULTILINE)
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)


class SidebarError(ValueError):
    """A sidebars file that is not plain data."""


def find_sidebars_file(docs_dir: Path, pack_dir: Path) -> Path | None:
    """The sidebars file of a docs folder: `sidebars.js` beside it or its project, or `sidebars<Name>.js`.

    In a multi-instance site each docs folder has its own `sidebars<FolderName>.js` at the site root;
    the root's plain `sidebars.js` belongs to the default `docs/` folder only.
    """
    camel = "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_ .]+", docs_dir.name))
    named = [f"sidebars{camel}{suffix}" for suffix in (".js", ".ts", ".json")]
    candidates = [folder / name for folder in dict.fromkeys((pack_dir, docs_dir)) for name in SIDEBAR_FILES]
    for folder in dict.fromkeys((docs_dir.parent, pack_dir.parent)):
        candidates += [folder / name for name in named]
        if docs_dir.name == "docs":
            candidates += [folder / name for name in SIDEBAR_FILES]
    return next((path for path in candidates if path.is_file()), None)


def parse_sidebars(text: str) -> dict[str, Any]:
    """The sidebars object of a sidebars.js/.ts/.json file; raises SidebarError when it is not plain data."""
    stripped = text.strip()
    if stripped.startswith("{"):
        literal = stripped
    else:
        # Comments first, so that an example in a comment is never taken for the real object.
        code = _LINE_COMMENT.sub("", _BLOCK_COMMENT.sub("", text))
        match = _OBJECT_START.search(code)
        if match is None:
            raise SidebarError("no sidebars object found (expected `module.exports = {...}`)")
        start = match.end() - 1
        end = _matching_brace(code, start)
        if end is None:
            raise SidebarError("the sidebars object is not closed")
        literal = code[start:end]
    try:
        data = json5.loads(literal)
    except ValueError as error:
        raise SidebarError(f"the sidebars object is not plain data ({error}); it is never executed") from None
    if not isinstance(data, dict):
        raise SidebarError("the sidebars file must define an object of sidebars")
    return data


def _matching_brace(text: str, start: int) -> int | None:
    depth = 0
    quote: str | None = None
    index = start
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = None
        elif char in "\"'`":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return None


def normalise_items(items: Any) -> list[dict[str, Any]]:
    """Sidebar items in their long form: strings become docs, `{label: [...]}` shorthands categories."""
    if isinstance(items, dict) and "type" not in items:
        return [{"type": "category", "label": label, "items": children} for label, children in items.items()]
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        return []
    result: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, str):
            result.append({"type": "doc", "id": item})
        elif isinstance(item, dict) and "type" in item:
            result.append(item)
        elif isinstance(item, dict):
            result.extend(normalise_items(item))
    return result
