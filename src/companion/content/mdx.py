"""MDX components in prose: unwrap the ones that carry text, turn quizzes into data, report the rest.

Works on text outside code fences. Every replacement keeps the number of lines, so positions found later
still point at the author's lines. JSX is scanned, never executed: attribute values are taken only when
they are literal strings or literal data (read as JSON5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import json5

# Components whose markup is dropped while their children (the prose) are kept, and whose meaning is known.
UNWRAPPED = {"Tabs", "TabItem", "details", "summary", "Details", "Admonition", "Figure", "Image", "img"}
QUIZ_COMPONENTS = {"Quiz"}
# The attributes that hold a self-closing component's readable text, in order of preference.
TEXT_ATTRIBUTES = ("caption", "alt", "title", "label")

_TAG_START = re.compile(r"<(?P<close>/)?(?P<name>[A-Z][\w.]*|details|summary|img)(?=[\s/>])")
_ATTRIBUTE_NAME = re.compile(r"\s*(?P<name>[\w-]+)\s*(?P<eq>=)?\s*")


@dataclass
class ComponentFindings:
    """What cleaning found: literal quiz data and the components it did not know (name, 0-based line)."""

    quizzes: list[tuple[int, Any]] = field(default_factory=list)
    broken_quizzes: list[tuple[int, str]] = field(default_factory=list)
    unknown: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Tag:
    name: str
    closing: bool
    self_closing: bool
    attributes: dict[str, str]
    start: int
    end: int


def replace_components(chunk: str, first_line: int, findings: ComponentFindings) -> str:
    """Prose with components replaced by their readable text; quizzes removed and recorded."""
    out: list[str] = []
    position = 0
    while True:
        match = _TAG_START.search(chunk, position)
        if match is None:
            out.append(chunk[position:])
            break
        if _inside_inline_code(chunk, match.start()):
            out.append(chunk[position : match.end()])
            position = match.end()
            continue
        tag = _scan_tag(chunk, match)
        if tag is None:
            out.append(chunk[position : match.end()])
            position = match.end()
            continue
        out.append(chunk[position : tag.start])
        line = first_line + chunk.count("\n", 0, tag.start)
        if tag.name in QUIZ_COMPONENTS and not tag.closing:
            end = tag.end if tag.self_closing else _closing_end(chunk, tag)
            _record_quiz(tag, line, findings)
            out.append("\n" * chunk.count("\n", tag.start, end))
            position = end
            continue
        out.append(_replacement(tag, chunk, line, findings))
        position = tag.end
    return "".join(out)


def _inside_inline_code(chunk: str, index: int) -> bool:
    # An odd number of backticks earlier on the same line means `index` is inside a code span.
    line_start = chunk.rfind("\n", 0, index) + 1
    return chunk.count("`", line_start, index) % 2 == 1


def _scan_tag(text: str, match: re.Match[str]) -> _Tag | None:
    """Read a tag's attributes up to its `>`, honouring quotes and nested {…}; None if it never ends."""
    index = match.end()
    attributes: dict[str, str] = {}
    while index < len(text):
        while index < len(text) and text[index].isspace():
            index += 1
        if text.startswith("/>", index):
            return _Tag(match["name"], bool(match["close"]), True, attributes, match.start(), index + 2)
        if text.startswith(">", index):
            return _Tag(match["name"], bool(match["close"]), False, attributes, match.start(), index + 1)
        if index < len(text) and text[index] == "{":  # a spread such as {...props}
            end = _balanced_end(text, index)
            if end is None:
                return None
            index = end
            continue
        name = _ATTRIBUTE_NAME.match(text, index)
        if name is None or not name["name"]:
            return None
        index = name.end()
        if not name["eq"]:
            attributes[name["name"]] = "true"
            continue
        value_end = _value_end(text, index)
        if value_end is None:
            return None
        attributes[name["name"]] = text[index:value_end]
        index = value_end
    return None


def _value_end(text: str, index: int) -> int | None:
    if index >= len(text):
        return None
    if text[index] in "\"'":
        end = text.find(text[index], index + 1)
        return end + 1 if end != -1 else None
    if text[index] == "{":
        return _balanced_end(text, index)
    return None


def _balanced_end(text: str, index: int) -> int | None:
    """The index after the `}` closing the `{` at `index`, skipping strings and template literals."""
    depth = 0
    quote: str | None = None
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = None
        elif char in "\"'`":
            quote = char
        elif char in "{[(":
            depth += 1
        elif char in "}])":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return None


def _closing_end(text: str, tag: _Tag) -> int:
    closing = text.find(f"</{tag.name}>", tag.end)
    return closing + len(tag.name) + 3 if closing != -1 else tag.end


def _string_value(raw: str) -> str:
    """A literal attribute value as text ("x", 'x', {"x"}, {'x'}, {`x`}); other expressions give ""."""
    raw = raw.strip()
    if raw.startswith("{") and raw.endswith("}"):
        raw = raw[1:-1].strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'`":
        return raw[1:-1]
    return ""


def _replacement(tag: _Tag, chunk: str, line: int, findings: ComponentFindings) -> str:
    newlines = "\n" * chunk.count("\n", tag.start, tag.end)
    if tag.closing:
        return newlines
    if tag.name not in UNWRAPPED:
        findings.unknown.append((line, tag.name))
    values = {name: _string_value(raw) for name, raw in tag.attributes.items()}
    if tag.self_closing:
        text = next((values[key] for key in TEXT_ATTRIBUTES if values.get(key)), "")
        return text + newlines
    if tag.name == "TabItem":
        label = values.get("label") or values.get("value")
        return f"**{label}**{newlines}" if label else newlines
    if tag.name == "Admonition":
        label = (values.get("type") or "note").capitalize()
        title = values.get("title")
        return f"**{label}{': ' + title if title else ''}**{newlines}"
    return newlines


def _record_quiz(tag: _Tag, line: int, findings: ComponentFindings) -> None:
    raw = tag.attributes.get("questions", "").strip()
    if raw.startswith("{") and raw.endswith("}"):
        raw = raw[1:-1]
    try:
        data = json5.loads(raw) if raw else None
    except ValueError:
        data = None
    if isinstance(data, list) and data:
        findings.quizzes.append((line, data))
    else:
        findings.broken_quizzes.append((line, tag.name))
