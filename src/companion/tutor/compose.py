"""Choosing what to quote: the section that teaches the answer, and its units that say it.

Retrieved passages are grouped by section. A section is scored on how well search ranked it, how much of
the question its title names, how much of the question its text covers, and how well its best unit does;
framing sections (objectives, summaries, exercises, quizzes) count for less than teaching ones. A
section answers only when its text covers enough of the question's content terms, each weighted by its
rarity in the course: passages that share a few common words with an off-book question do not.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from companion.content.schemas import Chapter, Section
from companion.search import terms as search_terms
from companion.search.engine import SearchHit
from companion.search.index import CourseIndex
from companion.tutor import units as units_module
from companion.tutor.units import Unit

if TYPE_CHECKING:
    from companion.tutor.answers import Candidate

# Weights of the section score; they add up to 1.
RETRIEVAL_WEIGHT = 0.15
SEMANTIC_WEIGHT = 0.15
TITLE_WEIGHT = 0.30
SECTION_WEIGHT = 0.10
UNIT_WEIGHT = 0.30
# A heading that carries every name of the question ("RT-1" for a question about RT-1) is the one.
TITLE_NAME_BONUS = 0.15
FRAMING_FACTOR = 0.55
INTRODUCTION_FACTOR = 0.8
# A section answers when its text (with its chapter's and module's titles) covers this share of the
# question's weighted content terms...
MIN_SECTION_COVERAGE = 0.75
# ...or a smaller share when the embedding model finds it close in meaning.
MIN_SEMANTIC_COVERAGE = 0.45
MIN_SEMANTIC = 0.55
# So close in meaning that a name written differently ("pi0" for "π0") does not stop the answer.
STRONG_SEMANTIC = 0.7
# Without a close meaning, the unit quoted must itself hold this much of the question (with the
# bonus of opening its heading), so that words scattered over a long section do not make an answer.
MIN_UNIT_COVERAGE = 0.45
SOME_SEMANTIC = 0.4
# Sections of a retrieved chapter that search did not return compete with this share of its best score.
SIBLING_RETRIEVAL = 0.5
# Names in a question: a capitalised word after the first, an acronym, or a word with digits ("RT-1").
_NAME = re.compile(r"(?<!^)(?<![.?!]\s)\b([A-Z][\w-]*|\w*\d\w*)\b")
# A second unit is quoted when it scores this close to the best one and the answer stays short;
# comparisons get two units more readily, and a short best unit is followed by what comes after it.
SECOND_UNIT_SHARE = 0.75
MAX_QUOTED_WORDS = 230
MAX_COMPARISON_WORDS = 400
SHORT_UNIT_WORDS = 50
_COMPARISON = re.compile(r"\b(differen\w*|differ|versus|vs\.?|compare\w*|comparison|trade-?offs?|or)\b", re.I)
# Other sections cited as related must score this share of the best section.
RELATED_SHARE = 0.6


@dataclass(frozen=True)
class SectionChoice:
    """A section considered for the answer, with its best hit and scores."""

    candidate: Candidate  # its best-ranked passage
    chapter: Chapter
    section: Section
    score: float
    coverage: float
    semantic: float
    units: tuple[tuple[float, Unit], ...]  # scored units, best first
    names_found: bool  # every name the question uses appears in the section or its titles
    rarest_quoted: bool  # the question's rarest term is in the best unit or the section's title

    @property
    def answers(self) -> bool:
        """Whether the section covers the question well enough to answer from it."""
        if not self.names_found and self.semantic < STRONG_SEMANTIC:
            return False
        if self.coverage >= MIN_SEMANTIC_COVERAGE and self.semantic >= MIN_SEMANTIC:
            return True
        best_unit = self.units[0][0] if self.units else 0.0
        if self.coverage < MIN_SECTION_COVERAGE or best_unit < MIN_UNIT_COVERAGE:
            return False
        # With no sense of meaning at all (lexical search), the rarest word must be in what is quoted.
        return self.rarest_quoted or self.semantic >= SOME_SEMANTIC


def weighted_coverage(
    terms: set[str], text_terms: frozenset[str] | set[str], entry: CourseIndex | None
) -> float:
    """The share of `terms` found in a text, each weighted by its rarity in the course (0 to 1)."""
    weight = entry.term_weight if entry is not None else (lambda term: 1.0)
    total = sum(weight(term) for term in terms)
    if not total:
        return 0.0
    return sum(weight(term) for term in terms & text_terms) / total


@lru_cache(maxsize=2048)
def section_terms(markdown: str, title: str) -> frozenset[str]:
    """Every stemmed term of a section's text and title."""
    terms: set[str] = set(search_terms.query_terms(title))
    for unit in units_module.units_of(markdown):
        terms |= unit.terms
    return frozenset(terms)


def names_in(question: str) -> list[str]:
    """The names a question uses (products, standards, acronyms, models), as written."""
    names = [match.group(1) for match in _NAME.finditer(question.strip())]
    return [name for name in names if search_terms.content_terms(name)]


def _mentions(text: str, names: Sequence[str]) -> bool:
    return all(re.search(rf"(?<!\w){re.escape(name)}(?:e?s)?(?!\w)", text, re.IGNORECASE) for name in names)


def question_terms(question: str) -> set[str]:
    """What the question is about: its content terms, or all its terms when it has none."""
    return search_terms.content_terms(question) or search_terms.query_terms(question)


def choose_sections(question: str, candidates: Sequence[Candidate]) -> list[SectionChoice]:
    """The sections of the retrieved passages, best first."""
    if not candidates:
        return []
    terms = question_terms(question)
    top_score = max(candidate.hit.score for candidate in candidates) or 1.0
    grouped: dict[tuple[str, str, str], list[Candidate]] = {}
    for candidate in candidates:
        key = (
            candidate.entry.pack.course.id,
            candidate.chapter.chapter_id,
            candidate.hit.payload["section_id"],
        )
        grouped.setdefault(key, []).append(candidate)
    _add_siblings(grouped)
    names = names_in(question)
    choices = []
    for group in grouped.values():
        best = max(group, key=lambda candidate: candidate.hit.score)
        section = best.chapter.section(best.hit.payload["section_id"])
        if section is None:
            continue
        choices.append(_score_section(terms, names, best, group, section, top_score))
    return sorted(choices, key=lambda choice: choice.score, reverse=True)


def _add_siblings(grouped: dict[tuple[str, str, str], list[Candidate]]) -> None:
    """Every section of a retrieved chapter competes, so the one whose heading names the question can win."""
    best_in_chapter: dict[tuple[str, str], Candidate] = {}
    for (course_id, chapter_id, _), group in grouped.items():
        for candidate in group:
            current = best_in_chapter.get((course_id, chapter_id))
            if current is None or candidate.hit.score > current.hit.score:
                best_in_chapter[(course_id, chapter_id)] = candidate
    for (course_id, chapter_id), best in best_in_chapter.items():
        for section in best.chapter.sections:
            key = (course_id, chapter_id, section.section_id)
            if key in grouped:
                continue
            hit = SearchHit(
                id=f"{course_id}/{chapter_id}/{section.section_id}/0",
                score=best.hit.score * SIBLING_RETRIEVAL,
                text=section.title,
                payload={
                    **best.hit.payload,
                    "section_id": section.section_id,
                    "section_title": section.title,
                    "content": section.content_markdown,
                },
                lexical_rank=None,
                lexical_score=None,
                semantic_rank=None,
                semantic_score=None,
            )
            grouped[key] = [dataclasses.replace(best, hit=hit, relevance=0.0)]


def _score_section(
    terms: set[str],
    names: list[str],
    best: Candidate,
    group: list[Candidate],
    section: Section,
    top_score: float,
) -> SectionChoice:
    entry = best.entry
    chapter = best.chapter
    title_terms = frozenset(search_terms.query_terms(section.title))
    titles = f"{chapter.title} {_module_title(best)}"
    chapter_terms = frozenset(search_terms.query_terms(titles))
    title = weighted_coverage(terms, title_terms, entry) + 0.4 * weighted_coverage(
        terms, chapter_terms, entry
    )
    context = section_terms(section.content_markdown, section.title) | chapter_terms
    coverage = weighted_coverage(terms, context, entry)
    scored_units = score_units(terms, units_module.units_of(section.content_markdown), entry)
    best_unit = scored_units[0][0] if scored_units else 0.0
    retrieval = best.hit.score / top_score
    semantic = max((candidate.hit.semantic_score or 0.0) for candidate in group)
    score = (
        RETRIEVAL_WEIGHT * retrieval
        + SEMANTIC_WEIGHT * max(semantic, 0.0)
        + TITLE_WEIGHT * min(title, 1.0)
        + SECTION_WEIGHT * coverage
        + UNIT_WEIGHT * best_unit
    )
    if names and _mentions(section.title, names):
        score += TITLE_NAME_BONUS
    if units_module.is_framing(section.title):
        score *= FRAMING_FACTOR
    elif section.title.lower() in ("introduction", "overview"):
        score *= INTRODUCTION_FACTOR
    names_found = _mentions(f"{section.title}\n{titles}\n{section.content_markdown}", names)
    rarest = max(terms, key=entry.term_weight) if terms else None
    quoted_terms = (scored_units[0][1].terms if scored_units else frozenset()) | title_terms | chapter_terms
    rarest_quoted = rarest is None or rarest in quoted_terms
    return SectionChoice(
        best, chapter, section, score, coverage, semantic, scored_units, names_found, rarest_quoted
    )


def _module_title(candidate: Candidate) -> str:
    course = candidate.entry.pack.course
    return next((module.title for module in course.modules if module.id == candidate.chapter.module), "")


def score_units(
    terms: set[str], units: Sequence[Unit], entry: CourseIndex | None
) -> tuple[tuple[float, Unit], ...]:
    """Each quotable unit scored by the question terms it holds; page metadata and code are left out."""
    scored = []
    first_under: set[str | None] = set()
    for unit in units:
        if unit.is_metadata or unit.kind == "code":
            continue
        score = weighted_coverage(terms, unit.terms, entry)
        # The first unit under a heading usually states the idea the heading names.
        if unit.heading not in first_under:
            score += 0.1
            first_under.add(unit.heading)
        scored.append((score, unit))
    return tuple(sorted(scored, key=lambda pair: (-pair[0], pair[1].position)))


def units_to_quote(question: str, choice: SectionChoice) -> list[Unit]:
    """The best unit of the section, with a second when nearly as good, or what follows a short one."""
    if not choice.units:
        return []
    best_score, best = choice.units[0]
    chosen = [best]
    comparison = bool(_COMPARISON.search(question))
    budget = MAX_COMPARISON_WORDS if comparison else MAX_QUOTED_WORDS
    share = SECOND_UNIT_SHARE * (0.8 if comparison else 1.0)
    for score, unit in choice.units[1:]:
        if score >= share * best_score and best.words + unit.words <= budget:
            chosen.append(unit)
            break
    if best.words < SHORT_UNIT_WORDS and len(chosen) == 1:
        # A short unit (an announcement, a one-line rule) is explained by what follows it.
        words = best.words
        for _, unit in sorted(choice.units, key=lambda pair: pair[1].position):
            if unit.position <= best.position:
                continue
            if words + unit.words > MAX_QUOTED_WORDS:
                break
            chosen.append(unit)
            words += unit.words
    return sorted(chosen, key=lambda unit: unit.position)


def related(choices: Sequence[SectionChoice], primary: SectionChoice, *, limit: int) -> list[SectionChoice]:
    """Other sections that also answer, for "see also" citations."""
    others = [
        choice
        for choice in choices
        if choice is not primary and choice.answers and choice.score >= RELATED_SHARE * primary.score
    ]
    return others[:limit]
