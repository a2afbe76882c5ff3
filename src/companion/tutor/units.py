"""Teaching units: the whole pieces of a section an answer may quote, with the heading they sit under.

A unit is a paragraph, a list together with the sentence that introduces it, a table, a quote, or a
definition. It keeps its Markdown as written, so a quoted list is still a list and a table a table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

from companion.search import chunking
from companion.search import terms as search_terms

_markdown = MarkdownIt("commonmark").enable(["table", "strikethrough"])
# Sections that frame the teaching rather than teach: objectives, recaps, exercises, quizzes, links.
FRAMING_TITLE = re.compile(
    r"\b(key takeaways?|takeaways|summary|summaries|recap|review questions?|next steps?|what'?s next"
    r"|exercises?|practice|hands[- ]on|lab|quiz(zes)?|check your understanding|self[- ]check"
    r"|test yourself|references|further reading|resources|learning (objectives|outcomes)|objectives"
    r"|prerequisites|lessons in this module|in this module|start here|who this book is for)\b",
    re.IGNORECASE,
)
# A line of page metadata ("Duration: 45 min · Level: Foundational · Module: 1").
_METADATA = re.compile(r"·.*·")
_EXAMPLE_CUES = re.compile(
    r"\b(for example|for instance|e\.g\.|such as|imagine|suppose|consider|worked example|scenario|"
    r"say|picture)\b",
    re.IGNORECASE,
)
_REASON_CUES = re.compile(
    r"\b(because|the reason|why|matters|so that|which means|the point|the consequence|this is why)\b",
    re.IGNORECASE,
)
_PLAIN_CUES = re.compile(
    r"\b(in plain terms|in other words|put simply|simply put|think of|memory hook|the idea|in short|"
    r"that is|the key insight|the rule|means)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Unit:
    """One quotable piece of a section, in reading order."""

    markdown: str
    text: str
    heading: str | None  # the `###` heading it sits under, if any
    kind: str  # paragraph, list, table, quote, code
    position: int

    @property
    def terms(self) -> frozenset[str]:
        """The stemmed terms of the unit and of the heading it sits under."""
        return _terms(self.text + " " + (self.heading or ""))

    @property
    def words(self) -> int:
        """How long the unit is."""
        return len(self.text.split())

    @property
    def is_metadata(self) -> bool:
        """A line of page facts (duration, level, module) rather than teaching."""
        return self.kind == "paragraph" and bool(_METADATA.search(self.text)) and self.words < 40

    @property
    def has_example(self) -> bool:
        """Whether the unit shows a case (for example, imagine, a worked example)."""
        return bool(_EXAMPLE_CUES.search(self.text))

    @property
    def has_reason(self) -> bool:
        """Whether the unit says why (because, the reason, this matters...)."""
        return bool(_REASON_CUES.search(self.text))

    @property
    def has_plain_wording(self) -> bool:
        """Whether the unit restates an idea plainly (in other words, think of it as...)."""
        return bool(_PLAIN_CUES.search(self.text))


@lru_cache(maxsize=4096)
def _terms(text: str) -> frozenset[str]:
    return frozenset(search_terms.query_terms(text))


def is_framing(title: str) -> bool:
    """Whether a section title names framing material (objectives, summary, exercises, quiz...)."""
    return bool(FRAMING_TITLE.search(title))


@lru_cache(maxsize=2048)
def units_of(markdown: str) -> tuple[Unit, ...]:
    """The teaching units of a section's Markdown, in order; a lead-in ending with ':' joins what follows."""
    lines = markdown.split("\n")
    tokens = _markdown.parse(markdown)
    blocks: list[tuple[str, str, int, int]] = []  # (kind, markdown, first line, heading index)
    headings: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        end = _block_end(tokens, index)
        if token.map is None:
            index = end + 1
            continue
        source = "\n".join(lines[token.map[0] : token.map[1]]).strip()
        if token.type == "heading_open":
            headings.append(tokens[index + 1].content.strip())
        elif token.type == "paragraph_open":
            blocks.append(("paragraph", source, token.map[0], len(headings)))
        elif token.type in ("bullet_list_open", "ordered_list_open"):
            blocks.append(("list", source, token.map[0], len(headings)))
        elif token.type == "table_open":
            blocks.append(("table", source, token.map[0], len(headings)))
        elif token.type == "blockquote_open":
            blocks.append(("quote", source, token.map[0], len(headings)))
        elif token.type in ("fence", "code_block"):
            blocks.append(("code", source, token.map[0], len(headings)))
        index = end + 1
    units: list[Unit] = []
    pending: tuple[str, int] | None = None  # a lead-in paragraph waiting for its list or table
    for kind, source, _line, heading_count in blocks:
        heading = headings[heading_count - 1] if heading_count else None
        if pending is not None and pending[1] == heading_count and kind in ("list", "table", "code", "quote"):
            lead, _ = pending
            pending = None
            combined = f"{lead}\n\n{source}"
            units.append(_unit(combined, heading, kind, len(units)))
            continue
        if pending is not None:
            units.append(_unit(pending[0], heading, "paragraph", len(units)))
            pending = None
        if kind == "paragraph" and _introduces(source):
            pending = (source, heading_count)
            continue
        units.append(_unit(source, heading, kind, len(units)))
    if pending is not None:
        heading = headings[pending[1] - 1] if pending[1] else None
        units.append(_unit(pending[0], heading, "paragraph", len(units)))
    return tuple(units)


def _introduces(paragraph: str) -> bool:
    """A paragraph that announces what follows: ends with ':' or is only a bold label."""
    text = paragraph.rstrip()
    return text.endswith(":") or text.endswith(":**") or bool(re.fullmatch(r"\*\*[^*]+\*\*", text))


def _unit(markdown: str, heading: str | None, kind: str, position: int) -> Unit:
    return Unit(
        markdown=markdown, text=chunking.plain_text(markdown), heading=heading, kind=kind, position=position
    )


def _block_end(tokens: list[Token], start: int) -> int:
    if tokens[start].nesting != 1:
        return start
    level = tokens[start].level
    for position in range(start + 1, len(tokens)):
        if tokens[position].nesting == -1 and tokens[position].level == level:
            return position
    return len(tokens) - 1


def quote(unit: Unit) -> str:
    """The unit as a Markdown blockquote, under its heading when it has one, structure kept."""
    lines = [f"**{unit.heading}**", ""] if unit.heading else []
    lines += unit.markdown.split("\n")
    return "\n".join(f"> {line}".rstrip() for line in lines)
