"""Structure checks on a model's rewrite of Markdown: what must survive a translation or a rewrite."""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

# Display math ($$...$$) and inline math ($...$, not a lone dollar amount followed by a space).
_MATH = re.compile(r"\$\$.+?\$\$|\$(?!\s)[^$\n]+?(?<!\s)\$", re.DOTALL)
_CITATION = re.compile(r"\[(\d+)\]")


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark")


def _tokens(markdown: str) -> list[Token]:
    tokens: list[Token] = []
    for token in _parser().parse(markdown):
        tokens.append(token)
        tokens.extend(token.children or [])
    return tokens


def code_blocks(markdown: str) -> list[str]:
    """The fenced and indented code blocks, verbatim, in order."""
    return [token.content.strip() for token in _tokens(markdown) if token.type in ("fence", "code_block")]


def _without_code(markdown: str) -> str:
    """The text outside code blocks and inline code (where dollar signs are not math)."""
    kept = []
    for token in _parser().parse(markdown):
        if token.type in ("fence", "code_block"):
            continue
        if token.type == "inline":
            kept.append(re.sub(r"`[^`]*`", "", token.content))
    return "\n".join(kept)


def math(markdown: str) -> list[str]:
    """The math expressions ($...$ and $$...$$) outside code, in order."""
    return [expression.strip() for expression in _MATH.findall(_without_code(markdown))]


def links(markdown: str) -> Counter[str]:
    """The link and image targets, counted."""
    targets: Counter[str] = Counter()
    for token in _tokens(markdown):
        if token.type in ("link_open", "image"):
            target = token.attrGet("href") or token.attrGet("src")
            if target:
                targets[str(target)] += 1
    return targets


def heading_count(markdown: str) -> int:
    """How many headings the Markdown has."""
    return sum(1 for token in _tokens(markdown) if token.type == "heading_open")


def preservation_problems(original: str, rewritten: str, *, where: str) -> list[str]:
    """What a translation lost or changed: code blocks, math, link targets or headings."""
    problems = []
    if code_blocks(original) != code_blocks(rewritten):
        problems.append(f"{where}: code blocks must be copied exactly, unchanged and untranslated")
    if math(original) != math(rewritten):
        problems.append(f"{where}: math ($...$ and $$...$$) must be copied exactly")
    if links(original) != links(rewritten):
        problems.append(f"{where}: every link and image must keep its exact target URL or anchor")
    if heading_count(original) != heading_count(rewritten):
        problems.append(f"{where}: keep exactly the same headings ({heading_count(original)})")
    return problems


def citation_numbers(text: str) -> list[int]:
    """Every [n] citation marker in a text, in order."""
    return [int(number) for number in _CITATION.findall(text)]


def uncited_paragraphs(text: str) -> list[str]:
    """Paragraphs of prose that carry no [n] marker (headings and list intros ending in ':' excepted)."""
    missing = []
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        stripped = paragraph.strip()
        if not stripped or stripped.startswith("#") or stripped.endswith(":"):
            continue
        if not _CITATION.search(stripped):
            missing.append(stripped[:80])
    return missing
