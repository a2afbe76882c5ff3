"""How a passage is shown and cited: its place in the course with links, and a highlighted snippet."""

from __future__ import annotations

import bisect
import itertools
import re

from companion.content.schemas import Chapter, ContentPack
from companion.search.lexical import WORDS, split_words, stem_words, tokenize
from companion.search.schemas import Citation

SNIPPET_WORDS = 40
# The words inside a whitespace-separated token, as the tokenizer splits them ("top-p," has "top").
_WORD = re.compile(r"\w\w+")


def citation(pack: ContentPack, chapter: Chapter, section_id: str) -> Citation:
    """Where a passage is in the course, with a reader link (anchor) and the API URL of its section."""
    section = chapter.section(section_id)
    anchor = section.anchor if section else ""
    course_id = pack.course.id
    return Citation(
        course_id=course_id,
        chapter_id=chapter.chapter_id,
        chapter_title=chapter.title,
        section_id=section_id,
        section_title=section.title if section else "",
        anchor=anchor,
        url=f"/courses/{course_id}/chapters/{chapter.chapter_id}#{anchor}",
        api_url=f"/api/v1/courses/{course_id}/chapters/{chapter.chapter_id}/sections/{section_id}",
    )


def snippet(text: str, terms: set[str], *, length: int = SNIPPET_WORDS) -> str:
    """About `length` words of `text` around its densest match of `terms`, matches wrapped in **bold**.

    Matching is by English stem, as in BM25: "sampling" in a passage matches "sample" in the query.
    """
    tokens = text.split()
    if not tokens:
        return ""
    matched = _matched_terms(tokens, terms)
    start = 0
    hits = [index for index, found in enumerate(matched) if found]
    if hits and len(tokens) > length:
        best = (0, 0)
        for first in hits:
            distinct = len(
                set().union(*(matched[index] for index in hits if first <= index < first + length))
            )
            if distinct > best[0]:
                best = (distinct, first)
        # Start a few words before the first match so that it reads in context.
        start = max(0, min(best[1] - 5, len(tokens) - length))
    shown = [
        _bold(token, terms) if matched[index] else token
        for index, token in enumerate(tokens[start : start + length], start=start)
    ]
    prefix = "… " if start > 0 else ""
    suffix = " …" if start + length < len(tokens) else ""
    return prefix + " ".join(shown) + suffix


def _matched_terms(tokens: list[str], terms: set[str]) -> list[set[str]]:
    """Per token, the query terms it contains ("top-p," contains "top"), as `tokenize` finds them."""
    lowered = [token.lower() for token in tokens]
    # One token a line: no word spans two lines, so one pass over the joined text finds each token's
    # words (and a token's line is found from where a word starts).
    joined = "\n".join(lowered)
    wanted = {word: stem for word, stem in stem_words(split_words(joined)).items() if stem in terms}
    matched: list[set[str]] = [set() for _ in tokens]
    if not wanted:
        return matched
    line_ends = list(itertools.accumulate(len(token) + 1 for token in lowered))
    for found in WORDS.finditer(joined):
        stem = wanted.get(found.group())
        if stem is not None:
            matched[bisect.bisect_right(line_ends, found.start())].add(stem)
    return matched


def _bold(token: str, terms: set[str]) -> str:
    def wrap(match: re.Match[str]) -> str:
        word = match.group(0)
        return f"**{word}**" if terms.intersection(tokenize([word])[0]) else word

    return _WORD.sub(wrap, token)
