"""Markdown and MDX text handling: front matter, MDX cleaning, and splitting a document into sections.

Every transformation here keeps the number of lines unchanged, so that a problem found later can still
point at the right line of the author's file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import frontmatter
import yaml
from markdown_it import MarkdownIt

from companion.content.mdx import ComponentFindings, replace_components

ADMONITION_TYPES = (
    "note",
    "tip",
    "info",
    "warning",
    "danger",
    "caution",
    "important",
    "success",
    "secondary",
)

_FENCE_OPEN = re.compile(r"^\s*(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_INLINE_CODE = re.compile(r"(``[^\n]+?``|`[^`\n]+`)")
_JSX_COMMENT = re.compile(r"\{/\*.*?\*/\}", re.DOTALL)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_SUMMARY = re.compile(r"<summary>(?P<text>.*?)</summary>", re.DOTALL)
# Only statement shapes that MDX itself would treat as ESM, so prose starting with "import" survives.
_ESM_START = re.compile(
    r"^(import\s.*\bfrom\s*['\"]|import\s*['\"]|import\s*(type\s+)?\{[^}]*$"
    r"|export\s+(const|let|var|function|default|async|class)\b|export\s*[{*])"
)
_ADMONITION_OPEN = re.compile(
    r"^\s*:{3,}(?P<kind>" + "|".join(ADMONITION_TYPES) + r")(?:\[(?P<bracket>[^\]]*)\])?(?:\{[^}]*\})?"
    r"[ \t]*(?P<title>.*?)\s*$"
)
_ADMONITION_CLOSE = re.compile(r"^\s*:{3,}\s*$")
_HEADING_ID = re.compile(r"\s*\{#(?P<id>[\w-]+)\}\s*$")

_markdown = MarkdownIt("commonmark")


class FrontMatterError(ValueError):
    """Front matter that is not valid YAML or not a mapping; `line` is 1-based in the file."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class MarkdownDocument:
    """A Markdown file split into front matter and body; body line i is file line `body_line + i`."""

    metadata: dict[str, Any]
    body: str
    body_line: int


@dataclass(frozen=True)
class MarkdownSection:
    """A `##` section (or the text before the first one, with no title); `line` is 0-based in the body."""

    title: str | None
    explicit_id: str | None
    text: str
    line: int


def read_front_matter(text: str) -> MarkdownDocument:
    """Split YAML front matter from the body; raise FrontMatterError for invalid YAML."""
    handler = frontmatter.YAMLHandler()
    if not handler.detect(text):
        return MarkdownDocument(metadata={}, body=text, body_line=1)
    raw_metadata, body = handler.split(text)
    try:
        metadata = handler.load(raw_metadata)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        # The front matter text starts right after the opening `---`, so its line 0 is file line 1.
        line = mark.line + 1 if mark is not None else None
        raise FrontMatterError(f"front matter is not valid YAML: {_yaml_problem(error)}", line) from error
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise FrontMatterError("front matter must be a mapping of keys to values", 2)
    body_line = text[: len(text) - len(body)].count("\n") + 1
    return MarkdownDocument(metadata=metadata, body=body, body_line=body_line)


def _yaml_problem(error: yaml.YAMLError) -> str:
    return str(getattr(error, "problem", None) or error)


def clean_mdx(text: str) -> str:
    """Turn MDX into plain Markdown: no imports, JSX, comments or `:::` admonitions; fences untouched."""
    return clean_mdx_with_findings(text)[0]


def clean_mdx_with_findings(text: str) -> tuple[str, ComponentFindings]:
    """Clean MDX and also return what its components held (quiz data, unknown components by line)."""
    findings = ComponentFindings()
    lines = text.split("\n")
    in_code = _code_lines(lines)
    lines = _clean_prose_chunks(lines, in_code, findings)
    lines = _drop_esm(lines, in_code)
    lines = _convert_admonitions(lines, in_code)
    return "\n".join(lines), findings


def _code_lines(lines: list[str]) -> list[bool]:
    """Which lines belong to fenced code blocks, fence lines included."""
    flags: list[bool] = []
    open_fence: str | None = None
    for line in lines:
        if open_fence is None:
            match = _FENCE_OPEN.match(line)
            # A backtick fence's info string cannot contain a backtick (that would be inline code).
            if match and not (match["fence"][0] == "`" and "`" in match["info"]):
                open_fence = match["fence"]
            flags.append(open_fence is not None)
        else:
            flags.append(True)
            stripped = line.strip()
            if stripped and set(stripped) == {open_fence[0]} and len(stripped) >= len(open_fence):
                open_fence = None
    return flags


def _clean_prose_chunks(lines: list[str], in_code: list[bool], findings: ComponentFindings) -> list[str]:
    """Apply the multi-line substitutions (comments, JSX components) to each run of non-code lines."""
    result: list[str] = []
    start = 0
    while start < len(lines):
        end = start
        while end < len(lines) and in_code[end] == in_code[start]:
            end += 1
        chunk = "\n".join(lines[start:end])
        if not in_code[start]:
            chunk = replace_components(_outside_inline_code(chunk), start, findings)
        result.extend(chunk.split("\n"))
        start = end
    return result


def _outside_inline_code(chunk: str) -> str:
    # Splitting on inline code spans leaves code at odd indexes, which must stay as written.
    parts = _INLINE_CODE.split(chunk)
    for index in range(0, len(parts), 2):
        part = _JSX_COMMENT.sub(_blank_keeping_lines, parts[index])
        part = _HTML_COMMENT.sub(_blank_keeping_lines, part)
        parts[index] = _SUMMARY.sub(_summary_as_bold, part)
    return "".join(parts)


def _blank_keeping_lines(match: re.Match[str]) -> str:
    return "\n" * match.group(0).count("\n")


def _summary_as_bold(match: re.Match[str]) -> str:
    text = " ".join(match["text"].split())
    return f"**{text}**" + "\n" * match.group(0).count("\n") if text else _blank_keeping_lines(match)


def _drop_esm(lines: list[str], in_code: list[bool]) -> list[str]:
    """Blank out MDX `import`/`export` statements, including ones spanning several lines."""
    result = list(lines)
    depth = 0
    dropping = False
    for index, line in enumerate(lines):
        if in_code[index]:
            continue
        if not dropping and _ESM_START.match(line):
            dropping = True
            depth = 0
        if dropping:
            depth += sum(line.count(c) for c in "{[(") - sum(line.count(c) for c in "}])")
            result[index] = ""
            # A statement ends once its brackets balance and it is not visibly continued.
            if depth <= 0 and not line.rstrip().endswith((",", "{", "(", "[")):
                dropping = False
    return result


def _convert_admonitions(lines: list[str], in_code: list[bool]) -> list[str]:
    """Turn `:::kind Title` … `:::` blocks into blockquotes starting with a bold label."""
    result: list[str] = []
    depth = 0
    for index, line in enumerate(lines):
        if not in_code[index]:
            opener = _ADMONITION_OPEN.match(line)
            if opener:
                title = (opener["bracket"] or opener["title"] or "").strip()
                label = opener["kind"].capitalize() + (f": {title}" if title else "")
                result.append("> " * depth + f"> **{label}**")
                depth += 1
                continue
            if depth and _ADMONITION_CLOSE.match(line):
                depth -= 1
                result.append(("> " * depth).rstrip())
                continue
        if depth:
            result.append(("> " * depth + line).rstrip() if line.strip() else ("> " * depth).rstrip())
        else:
            result.append(line)
    return result


def take_title(body: str) -> tuple[str | None, str]:
    """Remove a leading `# Title` heading from a body and return (title or None, body)."""
    tokens = _markdown.parse(body)
    if not tokens or tokens[0].type != "heading_open" or tokens[0].tag != "h1" or tokens[0].map is None:
        return None, body
    start, end = tokens[0].map
    title = _HEADING_ID.sub("", tokens[1].content).strip()
    lines = body.split("\n")
    lines[start:end] = [""] * (end - start)
    return title, "\n".join(lines)


def split_sections(body: str) -> list[MarkdownSection]:
    """Split a body at its top-level `##` headings; text before the first one comes first, untitled."""
    lines = body.split("\n")
    tokens = _markdown.parse(body)
    code = _fenced_line_numbers(tokens)
    heading_lines = {t.map[0] for t in tokens if t.type == "heading_open" and t.map is not None}
    starts: list[tuple[int, int, str]] = []  # (heading line, first body line, heading text)
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag == "h2" and token.level == 0 and token.map:
            starts.append((token.map[0], token.map[1], tokens[index + 1].content))

    sections: list[MarkdownSection] = []
    first_heading = starts[0][0] if starts else len(lines)
    intro = _tidy(lines, 0, first_heading, code, heading_lines)
    if intro:
        sections.append(MarkdownSection(title=None, explicit_id=None, text=intro, line=0))
    for position, (heading_line, text_start, heading) in enumerate(starts):
        text_end = starts[position + 1][0] if position + 1 < len(starts) else len(lines)
        id_match = _HEADING_ID.search(heading)
        sections.append(
            MarkdownSection(
                title=_HEADING_ID.sub("", heading).strip(),
                explicit_id=id_match["id"] if id_match else None,
                text=_tidy(lines, text_start, text_end, code, heading_lines),
                line=heading_line,
            )
        )
    return sections


def _fenced_line_numbers(tokens: list[Any]) -> set[int]:
    lines: set[int] = set()
    for token in tokens:
        if token.type in ("fence", "code_block") and token.map is not None:
            lines.update(range(token.map[0], token.map[1]))
    return lines


def _tidy(lines: list[str], start: int, end: int, code: set[int], heading_lines: set[int]) -> str:
    """The text of lines[start:end] without heading ids and runs of blank lines; code stays as written."""
    kept: list[tuple[str, bool]] = []  # (line, whether it is blank outside code)
    for number in range(start, end):
        line = lines[number]
        blank = False
        if number not in code:
            if number in heading_lines:
                line = _HEADING_ID.sub("", line)
            # An empty line, or an empty quoted line left by an admonition, means nothing after the first.
            blank = not line.replace(">", "").strip()
            if blank and (not kept or kept[-1][1]):
                if kept and not line.strip():
                    kept[-1] = ("", True)
                continue
        kept.append((line, blank))
    while kept and kept[-1][1]:
        kept.pop()
    return "\n".join(line for line, _ in kept).rstrip()
