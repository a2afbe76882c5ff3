"""How a passage is shown and cited: its place in the course with links, and a highlighted snippet."""

from __future__ import annotations

import re

from companion.content.schemas import Chapter, ContentPack
from companion.search.lexical import split_words, stem_words
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
    # One token a line: no word spans two lines, and a word's token is the number of line breaks before it.
    joined = "\n".join(tokens).lower()
    wanted = _wanted_words(joined, terms)
    matched = _matched_terms(joined, wanted)
    start = 0
    hits = sorted(matched)
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
        _bold(token, wanted) if index in matched else token
        for index, token in enumerate(tokens[start : start + length], start=start)
    ]
    prefix = "… " if start > 0 else ""
    suffix = " …" if start + length < len(tokens) else ""
    return prefix + " ".join(shown) + suffix


# Snippets are made on the event loop for every hit, so the helpers below avoid a Python step per word
# of the passage: its distinct words are stemmed in one call, and only those stemming to a query term
# are looked for.


def _wanted_words(joined: str, terms: set[str]) -> dict[str, str]:
    """The distinct words of a lower-cased text (split as by `tokenize`) stemming to a term, with the stem."""
    # The English stemmer changes only a word's ending, never its first letter (true of all 38,000 words
    # of SciFact and the shipped books): only words starting as a term does are worth stemming.
    initials = "".join(sorted({term[0] for term in terms}))
    if not initials:
        return {}
    candidates = set(re.findall(rf"(?<!\w)[{re.escape(initials)}]\w+", joined))
    return {word: stem for word, stem in stem_words(candidates).items() if stem in terms}


def _matched_terms(joined: str, wanted: dict[str, str]) -> dict[int, set[str]]:
    """The lines of `joined` containing wanted words, by line number, with the terms they contain."""
    matched: dict[int, set[str]] = {}
    for word, stem in wanted.items():
        position = joined.find(word)
        while position >= 0:
            end = position + len(word)
            # A whole word, as the tokenizer finds them: no word character (`\w`) on either side.
            if (position == 0 or not _is_word_character(joined[position - 1])) and (
                end == len(joined) or not _is_word_character(joined[end])
            ):
                matched.setdefault(joined.count("\n", 0, position), set()).add(stem)
            position = joined.find(word, end)
    return matched


def _is_word_character(character: str) -> bool:
    return character.isalnum() or character == "_"  # what `\w` matches in a str pattern


def _bold(token: str, wanted: dict[str, str]) -> str:
    def wrap(match: re.Match[str]) -> str:
        word = match.group(0)
        return f"**{word}**" if any(found in wanted for found in split_words(word.lower())) else word

    return _WORD.sub(wrap, token)
