"""Cutting a course into search passages: each section along its headings, a few hundred tokens each.

A chunk keeps two forms of its text: the Markdown as written (what a reader is shown) and a plain form
without Markdown syntax, code kept, prefixed with its section title and heading (what BM25 and the
embedder match). Chunk ids are `course/chapter/section/n`, so an unchanged section yields the same ids
and texts on every build and only chunks whose text changed are embedded again.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from markdown_it import MarkdownIt
from markdown_it.token import Token

from companion.content.schemas import Chapter, ContentPack, Section
from companion.search.engine import Passage

# all-MiniLM-L6-v2 reads 256 word pieces, about 190 English words: a chunk stays under that so the
# embedding sees all of it, title included.
MAX_WORDS = 160
# A heading starts a new chunk once the current one has this much text; shorter runs are merged.
MIN_WORDS = 60
# Trailing sentences repeated at the start of the next chunk when a long passage is cut.
OVERLAP_WORDS = 30

_markdown = MarkdownIt("commonmark").enable(["table", "strikethrough"])
# Characters that may start inline Markdown (escapes, code, emphasis, links, images, HTML, entities,
# strikethrough): a sentence without any is its own plain text, and need not be parsed.
_INLINE_SYNTAX = re.compile(r"[\\`*_\[\]!<>&~]")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]*_]*\s+(?=[\"'(\[*_`]*[A-Z0-9])")


@dataclass(frozen=True)
class _Unit:
    """An indivisible piece of a section: a heading, a sentence, a list item, a code block..."""

    markdown: str
    text: str
    kind: Literal["heading", "sentence", "item", "code", "other"]
    block: int  # units of one block are joined by `glue`, different blocks by a blank line
    glue: str = " "  # sentences of a paragraph: a space; items of a list: a line break

    @property
    def heading(self) -> bool:
        return self.kind == "heading"

    @property
    def words(self) -> int:
        return len(self.text.split())


@dataclass
class _Group:
    """The units of a chunk being assembled; the first `overlap` of them repeat the previous chunk."""

    heading: str | None
    units: list[_Unit]
    overlap: int

    @property
    def words(self) -> int:
        return sum(unit.words for unit in self.units)

    @property
    def new_words(self) -> int:
        return sum(unit.words for unit in self.units[self.overlap :] if not unit.heading)


@dataclass(frozen=True)
class Chunk:
    """One passage of a section, in both Markdown (to show) and plain text (to match)."""

    chunk_id: str
    chapter: Chapter
    section: Section
    index_in_section: int
    heading: str | None
    markdown: str
    text: str

    @property
    def word_count(self) -> int:
        """Words of the passage itself (the title prefix excluded)."""
        return len(self.text.split())

    @property
    def search_text(self) -> str:
        """What is indexed: the section title and heading in effect, then the passage."""
        title = self.section.title
        if self.heading and not self.text.startswith(self.heading):
            title = f"{title}: {self.heading}"
        return f"{title}\n{self.text}"


def chunk_id(course_id: str, chapter_id: str, section_id: str, index: int) -> str:
    """The stable id of the `index`-th chunk of a section."""
    return f"{course_id}/{chapter_id}/{section_id}/{index}"


def chunk_section(course_id: str, chapter: Chapter, section: Section) -> list[Chunk]:
    """Cut one section into chunks along its headings, with a small overlap where a passage is cut."""
    groups: list[_Group] = []
    current = _Group(heading=None, units=[], overlap=0)
    heading: str | None = None  # the heading in effect
    for unit in _units(section.content_markdown):
        if current.units and (
            (unit.heading and current.new_words >= MIN_WORDS) or current.words + unit.words > MAX_WORDS
        ):
            groups.append(current)
            tail = [] if unit.heading else _overlap(current.units)
            current = _Group(heading=heading, units=tail, overlap=len(tail))
        if unit.heading:
            heading = unit.text
            if not current.units:
                current.heading = heading
        current.units.append(unit)
    if groups and current.new_words < MIN_WORDS // 2:
        # A short tail reads better as the end of the previous chunk than as a chunk of its own.
        previous = groups.pop()
        previous.units.extend(current.units[current.overlap :])
        current = previous
    if current.new_words:
        groups.append(current)
    return [
        Chunk(
            chunk_id=chunk_id(course_id, chapter.chapter_id, section.section_id, index),
            chapter=chapter,
            section=section,
            index_in_section=index,
            heading=group.heading,
            markdown=_join(group.units, markdown=True),
            text=_join(group.units, markdown=False),
        )
        for index, group in enumerate(groups)
    ]


def chunk_pack(pack: ContentPack) -> list[Chunk]:
    """Every chunk of a course, in reading order."""
    return [
        chunk
        for chapter in pack.chapters
        for section in chapter.sections
        for chunk in chunk_section(pack.course.id, chapter, section)
    ]


def passages(pack: ContentPack, *, created_at: datetime) -> list[Passage]:
    """The course's chunks as search passages carrying seed 004's payload plus section, anchor and tier."""
    result: list[Passage] = []
    chapter_index: dict[str, int] = {}
    for chunk in chunk_pack(pack):
        chapter, section = chunk.chapter, chunk.section
        position = chapter_index.get(chapter.chapter_id, 0)
        chapter_index[chapter.chapter_id] = position + 1
        text = chunk.search_text
        # The payload must hold JSON values only: Qdrant stores it, and it is compared on rebuilds.
        payload: dict[str, Any] = {
            "course": pack.course.id,
            "chapter_id": chapter.chapter_id,
            "module": chapter.module,
            "section_id": section.section_id,
            "section_title": section.title,
            "anchor": section.anchor,
            "heading": chunk.heading,
            "access_tier": chapter.access_tier,
            "content": chunk.markdown,
            "chunk_index": position,
            "difficulty_level": chapter.difficulty_level,
            "topics": list(chapter.topics),
            "word_count": chunk.word_count,
            "created_at": created_at.isoformat(),
            "content_hash": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        }
        # `chunk_id` is the passage id; the vector store adds it to the payload it keeps.
        result.append(Passage(id=chunk.chunk_id, text=text, payload=payload))
    return result


def plain_text(markdown: str) -> str:
    """Markdown without its syntax (emphasis, links, fences, list markers), code kept as written."""
    return _join(_units(markdown), markdown=False)


def prose(markdown: str) -> list[str]:
    """The sentences and list items of a Markdown text, in order, as plain text (no headings or code)."""
    return [unit.text for unit in _units(markdown) if unit.kind in ("sentence", "item")]


def _overlap(units: list[_Unit]) -> list[_Unit]:
    """The trailing sentences of a chunk, up to OVERLAP_WORDS, that open the next one."""
    tail: list[_Unit] = []
    words = 0
    for unit in reversed(units):
        if unit.heading or words + unit.words > OVERLAP_WORDS:
            break
        tail.insert(0, unit)
        words += unit.words
    return tail if len(tail) < len(units) else []


def _join(units: list[_Unit], *, markdown: bool) -> str:
    parts: list[str] = []
    for position, unit in enumerate(units):
        if position:
            same_block = unit.block == units[position - 1].block
            parts.append(unit.glue if same_block else ("\n\n" if markdown else "\n"))
        parts.append(unit.markdown if markdown else unit.text)
    return "".join(parts).strip()


def _units(markdown: str) -> list[_Unit]:
    """The section's indivisible pieces, in order; paragraphs are cut into sentences."""
    lines = markdown.split("\n")
    tokens = _markdown.parse(markdown)
    units: list[_Unit] = []
    position = 0
    block = 0
    while position < len(tokens):
        token = tokens[position]
        end = _block_end(tokens, position)
        source = "\n".join(lines[token.map[0] : token.map[1]]).strip() if token.map else ""
        block += 1
        if token.type == "heading_open":
            text = _inline_text(tokens[position + 1])
            units.append(_Unit(markdown=source, text=text, kind="heading", block=block))
        elif token.type == "paragraph_open":
            units.extend(_sentences(tokens[position + 1], source, block))
        elif token.type in ("fence", "code_block"):
            units.extend(_code_pieces(token, source, block))
        elif token.type in ("bullet_list_open", "ordered_list_open"):
            units.extend(_list_items(tokens[position : end + 1], lines, block))
        elif token.type not in ("hr", "html_block"):  # blockquotes, tables
            text = _container_text(tokens[position : end + 1])
            if text:
                units.append(_Unit(markdown=source, text=text, kind="other", block=block))
        position = end + 1
    return units


def _block_end(tokens: list[Token], start: int) -> int:
    """The index of the token closing the block opened at `start` (itself for leaf blocks)."""
    if tokens[start].nesting != 1:
        return start
    level = tokens[start].level
    for position in range(start + 1, len(tokens)):
        if tokens[position].nesting == -1 and tokens[position].level == level:
            return position
    return len(tokens) - 1


def _inline_text(token: Token) -> str:
    """An inline token's text: emphasis, link and image syntax dropped, inline code kept."""
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(_inline_text(child))
    return " ".join("".join(parts).split())


def _sentences(inline: Token, source: str, block: int) -> list[_Unit]:
    pieces = [piece for piece in _SENTENCE_END.split(" ".join(source.split())) if piece.strip()]
    units = []
    for piece in pieces:
        text = _inline_text(_markdown.parseInline(piece)[0]) if _INLINE_SYNTAX.search(piece) else piece
        if text:
            units.append(_Unit(markdown=piece, text=text, kind="sentence", block=block))
    # Markup spanning a sentence break (rare) would lose text: fall back to the whole paragraph.
    whole = _inline_text(inline)
    if " ".join(unit.text for unit in units).split() != whole.split():
        return [_Unit(markdown=source, text=whole, kind="sentence", block=block)]
    return units


def _code_pieces(token: Token, source: str, block: int) -> list[_Unit]:
    """A code block as one unit, or cut between lines when it is longer than a chunk."""
    code = token.content.rstrip("\n")
    if token.type == "fence" and token.info.strip().lower() == "mermaid":
        # A diagram is matched (and read in plain text) by its labels, not its arrows and node ids.
        return [_Unit(markdown=source, text=mermaid_text(code), kind="code", block=block)]
    if len(code.split()) <= MAX_WORDS:
        return [_Unit(markdown=source, text=code, kind="code", block=block)]
    fence = "```" if token.type == "fence" else ""
    info = token.info.strip() if token.type == "fence" else ""
    pieces: list[list[str]] = [[]]
    for line in code.split("\n"):
        if pieces[-1] and len(" ".join(pieces[-1] + [line]).split()) > MAX_WORDS // 2:
            pieces.append([])
        pieces[-1].append(line)
    units = []
    for piece in pieces:
        text = "\n".join(piece)
        markdown = f"{fence}{info}\n{text}\n{fence}" if fence else text
        # Separate fences must be separated by a blank line.
        units.append(_Unit(markdown=markdown, text=text, kind="code", block=block, glue="\n\n"))
    return units


_MERMAID_LABEL = re.compile(
    r"\[\(?\"?([^\]\"]+)\"?\)?\]|\(\(?\"?([^)\"]+)\"?\)?\)|\{\"?([^}\"]+)\"?\}|\|\"?([^|\"]+)\"?\|"
)


def mermaid_text(code: str) -> str:
    """The labels of a Mermaid diagram, in order and once each: "Diagram: A; B; C"."""
    labels = [next(group for group in match.groups() if group) for match in _MERMAID_LABEL.finditer(code)]
    unique = list(dict.fromkeys(" ".join(label.split()) for label in labels if label.strip()))
    return "Diagram: " + "; ".join(unique) if unique else ""


def _list_items(tokens: list[Token], lines: list[str], block: int) -> list[_Unit]:
    """A list as one unit per top-level item, joined by newlines so that it still reads as a list."""
    level = tokens[0].level + 1
    units = []
    position = 1
    while position < len(tokens) - 1:
        token = tokens[position]
        end = _block_end(tokens, position)
        if token.type == "list_item_open" and token.level == level and token.map:
            source = "\n".join(lines[token.map[0] : token.map[1]]).rstrip()
            text = _container_text(tokens[position : end + 1])
            if text:
                units.append(_Unit(markdown=source, text=text, kind="item", block=block, glue="\n"))
        position = end + 1
    return units


def _container_text(tokens: list[Token]) -> str:
    """The text of every inline and code token inside a container block; table cells on one line."""
    rows: list[str] = []
    cells: list[str] = []
    in_row = False
    for token in tokens:
        if token.type == "tr_open":
            in_row, cells = True, []
        elif token.type == "tr_close":
            in_row = False
            rows.append(" | ".join(cells))
        elif token.type == "inline":
            text = _inline_text(token)
            if in_row:
                cells.append(text)
            elif text:
                rows.append(text)
        elif token.type in ("fence", "code_block"):
            rows.append(token.content.rstrip("\n"))
    return "\n".join(row for row in rows if row.strip())
