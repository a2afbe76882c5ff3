"""Extractive, grounded answers: the course's own sentences with citations, never invented text.

A retrieved passage counts as answering a question when its meaning is close enough (cosine similarity
of the embeddings at least `min_semantic`), or, at half that similarity, when it contains most of the
question's content terms (at least `min_coverage` of them, each weighted by its rarity in the course, so
that "sourdough" weighs more than "model"; words such as "how", "explain" or "what is" do not count).
Without embeddings, term coverage alone decides. When no passage the learner may read qualifies, the
answer says so and names the nearest sections.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from companion.access import service as access_service
from companion.access.service import TIER_NAMES, AccessDecision
from companion.accounts.models import User
from companion.content.schemas import Chapter, Section
from companion.search import chunking
from companion.search import terms as search_terms
from companion.search.citations import citation
from companion.search.engine import SearchHit
from companion.search.index import CourseIndex, Retrieval
from companion.tutor import compose
from companion.tutor import units as units_module
from companion.tutor.schemas import Grounding, Source
from companion.tutor.units import Unit

MAX_SOURCES = 3
NEAREST_SECTIONS = 3
# Words of a request about a selection that say how to explain, not what about ("simpler", "example").
GENERIC_REQUEST_TERMS = frozenset(
    search_terms.query_terms(
        "term terms plain english new topic beginner like again other word words simple simpler easy easier"
        " example examples instance illustrate analogy concrete real world case why matter matters mean"
        " understand confused confusing elaborate clarify summarize rephrase expand break down step please"
        " help lost part give show explain idea point sense get kid child layman eli5 short shorter"
        " paragraph sentence passage selection selected this that it don doesn didn isn can sure follow"
        " lost quite fully really bit little more detail details"
    )
)
_EXAMPLE_REQUEST = re.compile(r"\b(example|examples|instance|illustrat\w*|analog\w*|concrete|case)\b", re.I)
_REASON_REQUEST = re.compile(r"\b(why|matters?|important|purpose|point)\b", re.I)


@dataclass(frozen=True)
class Thresholds:
    """When a passage counts as answering a question."""

    min_semantic: float
    min_coverage: float


@dataclass(frozen=True)
class Candidate:
    """A retrieved passage, judged: may the learner read it, and does it answer the question?"""

    hit: SearchHit
    entry: CourseIndex
    chapter: Chapter
    access: AccessDecision
    relevance: float
    relevant: bool


@dataclass(frozen=True)
class Answer:
    """The answer text (Markdown, with [n] markers), the sources the markers refer to, and its grounding."""

    text: str
    sources: list[Source]
    grounding: Grounding


def judge(
    retrieval: Retrieval, *, question: str, user: User | None, thresholds: Thresholds
) -> list[Candidate]:
    """Each hit with the learner's access to it and whether it is relevant enough to answer from."""
    terms = search_terms.content_terms(question)
    pack = retrieval.entry.pack
    judged = []
    for hit in retrieval.hits:
        chapter = pack.chapter(hit.payload["chapter_id"])
        assert chapter is not None  # the index was built from this very pack
        covered = compose.weighted_coverage(terms, search_terms.query_terms(hit.text), retrieval.entry)
        if retrieval.mode == "hybrid":
            semantic = max(hit.semantic_score or 0.0, 0.0)
            relevant = semantic >= thresholds.min_semantic or (
                covered >= thresholds.min_coverage and semantic >= thresholds.min_semantic / 2
            )
            relevance = semantic
        else:
            relevant = covered >= thresholds.min_coverage
            relevance = covered
        judged.append(
            Candidate(
                hit=hit,
                entry=retrieval.entry,
                chapter=chapter,
                access=access_service.check_chapter(user, chapter),
                relevance=round(relevance, 4),
                relevant=relevant,
            )
        )
    return judged


def answer_from_course(question: str, candidates: Sequence[Candidate], *, course_titles: list[str]) -> Answer:
    """Whole units of the section that best answers, cited; a locked-chapter note; or "not covered"."""
    ranked = sorted(candidates, key=lambda candidate: candidate.hit.score, reverse=True)
    choices = compose.choose_sections(question, ranked)
    answering = [choice for choice in choices if choice.answers]
    readable = [choice for choice in answering if choice.candidate.access.allowed]
    # A locked chapter is worth mentioning when it is among the best sections on the question.
    locked = [choice.candidate for choice in answering[:MAX_SOURCES] if not choice.candidate.access.allowed]
    if not readable:
        if answering:
            lines = ["The course covers this in chapters your plan does not open yet:", ""]
            lines += _locked_lines([choice.candidate for choice in answering])
            return Answer(text="\n".join(lines), sources=[], grounding="locked")
        return _not_covered(ranked, course_titles)
    primary = readable[0]
    quoted = compose.units_to_quote(question, primary)
    also = compose.related(readable, primary, limit=MAX_SOURCES - 1)
    sources = [_source(primary.candidate, score=primary.coverage)]
    lines = [f'From "{primary.section.title}", in {primary.chapter.title}:', ""]
    lines += _quoted(quoted, marker=1)
    if also:
        lines += ["", "Also covered in:"]
        for choice in also:
            sources.append(_source(choice.candidate, score=choice.coverage))
            lines.append(f"- [{len(sources)}] {choice.section.title}, in {choice.chapter.title}")
    notes = _locked_lines(locked)
    if notes:
        lines += ["", "More on this in chapters your plan does not open yet:", *notes]
    lines += ["", "Sources:", *_source_lines(sources)]
    return Answer(text="\n".join(lines).strip(), sources=sources, grounding="course")


def answer_from_selection(
    question: str,
    *,
    selected_text: str,
    entry: CourseIndex | None,
    chapter: Chapter | None,
    section: Section | None,
    related: bool = False,
) -> Answer:
    """An answer drawn only from the selected passage and, when it is known, the section it comes from.

    A generic request ("explain this in simpler terms", "give an example") is answered from the unit
    holding the selection and the unit of its section that best serves the request. A specific question
    is answered from the section's units that hold its terms; `related` says whether search found the
    section relevant by meaning when none does. A question about something else is told so.
    """
    question_terms = search_terms.content_terms(question)
    generic = not (question_terms - GENERIC_REQUEST_TERMS)
    where = f' ("{section.title}")' if section else ""
    if entry is None or chapter is None or section is None:
        # A passage from outside the course: all there is to quote is the passage itself.
        quoted = _quoted([_selection_unit(selected_text)], marker=None)
        text = "\n".join(["From the passage you selected:", "", *quoted])
        return Answer(text=text, sources=[], grounding="selection")
    section_units = units_module.units_of(section.content_markdown)
    holding = _unit_holding(selected_text, section_units)
    if generic:
        chosen = [holding or _selection_unit(selected_text)]
        helper = _helper_unit(question, section_units, exclude=chosen[0])
        if helper is not None:
            chosen.append(helper)
    else:
        selection_terms = search_terms.query_terms(selected_text)
        scored = compose.score_units(question_terms, section_units, entry)
        on_topic = [(score, unit) for score, unit in scored if question_terms & unit.terms]
        if not on_topic and not related:
            text = (
                f"The passage you selected and its section{where} do not seem to answer this. "
                "Ask again without a selection to search the whole course."
            )
            return Answer(text=text, sources=[], grounding="not_covered")
        best = max(
            (on_topic or list(scored)),
            key=lambda pair: pair[0] + 0.5 * compose.weighted_coverage(selection_terms, pair[1].terms, entry),
        )[1]
        chosen = [best] + ([holding] if holding is not None and holding is not best else [])
    chosen = sorted({id(unit): unit for unit in chosen}.values(), key=lambda unit: unit.position)
    source = _section_source(entry, chapter, section)
    lines = [f"From the passage you selected and its section{where}, in {chapter.title}:", ""]
    lines += _quoted(chosen, marker=1)
    lines += ["", "Sources:", *_source_lines([source])]
    return Answer(text="\n".join(lines).strip(), sources=[source], grounding="selection")


def _selection_unit(selected_text: str) -> Unit:
    return Unit(
        markdown=selected_text.strip(),
        text=selected_text.strip(),
        heading=None,
        kind="paragraph",
        position=-1,
    )


def _normalised(text: str) -> str:
    return " ".join(chunking.plain_text(text).split()).lower()


def _unit_holding(selected_text: str, section_units: Sequence[Unit]) -> Unit | None:
    """The unit that contains the selection (or its start, when the selection spans several units)."""
    wanted = _normalised(selected_text)
    if not wanted:
        return None
    head = wanted[:80]
    for unit in section_units:
        text = " ".join(unit.text.split()).lower()
        if wanted in text or head in text:
            return unit
    return None


def _helper_unit(question: str, section_units: Sequence[Unit], *, exclude: Unit) -> Unit | None:
    """The unit of the section that serves a generic request: an example, a reason, or a plain restatement."""
    teaching = [
        unit for unit in section_units if unit is not exclude and not unit.is_metadata and unit.kind != "code"
    ]
    if not teaching:
        return None
    if _EXAMPLE_REQUEST.search(question):
        wanted = [unit for unit in teaching if unit.has_example]
    elif _REASON_REQUEST.search(question):
        wanted = [unit for unit in teaching if unit.has_reason]
    else:
        wanted = [unit for unit in teaching if unit.has_plain_wording]
    if wanted:
        # The one nearest the selection explains it best.
        return min(wanted, key=lambda unit: abs(unit.position - exclude.position))
    following = [unit for unit in teaching if unit.position > exclude.position]
    return following[0] if following else teaching[0]


def _quoted(chosen: Sequence[Unit], *, marker: int | None) -> list[str]:
    """Units as blockquotes separated by blank lines; the citation marker closes the last one."""
    lines: list[str] = []
    for index, unit in enumerate(chosen):
        block = units_module.quote(unit)
        if marker is not None and index == len(chosen) - 1:
            block += f" [{marker}]"
        lines += [block, ""]
    return lines[:-1]


def _source_lines(sources: Sequence[Source]) -> list[str]:
    return [
        f"[{number}] {source.section_title}, in {source.chapter_title} ({source.url})"
        for number, source in enumerate(sources, start=1)
    ]


def _section_source(entry: CourseIndex, chapter: Chapter, section: Section) -> Source:
    cited = citation(entry.pack, chapter, section.section_id)
    return Source(
        course_id=cited.course_id,
        chapter_id=cited.chapter_id,
        chapter_title=cited.chapter_title,
        section_id=cited.section_id,
        section_title=cited.section_title,
        chunk_id=chunking.chunk_id(entry.pack.course.id, chapter.chapter_id, section.section_id, 0),
        anchor=cited.anchor,
        url=cited.url,
        relevance_score=1.0,
    )


def _source(candidate: Candidate, *, score: float) -> Source:
    payload = candidate.hit.payload
    cited = citation(candidate.entry.pack, candidate.chapter, payload["section_id"])
    relevance = candidate.relevance if candidate.relevance else min(score, 1.0)
    return Source(
        course_id=cited.course_id,
        chapter_id=cited.chapter_id,
        chapter_title=cited.chapter_title,
        section_id=cited.section_id,
        section_title=cited.section_title,
        chunk_id=candidate.hit.id,
        anchor=cited.anchor,
        url=cited.url,
        relevance_score=round(relevance, 4),
    )


def _locked_lines(locked: Sequence[Candidate]) -> list[str]:
    """One line per locked chapter that covers the question, with the plan that opens it."""
    lines = []
    seen: set[str] = set()
    for candidate in locked:
        if candidate.chapter.chapter_id in seen:
            continue
        seen.add(candidate.chapter.chapter_id)
        tier = TIER_NAMES[candidate.access.required_tier]
        section = candidate.hit.payload["section_title"]
        lines.append(f'- "{candidate.chapter.title}", section "{section}" ({tier} plan)')
    return lines[:MAX_SOURCES]


def _not_covered(ranked: Sequence[Candidate], course_titles: list[str]) -> Answer:
    names = " and ".join(f'"{title}"' for title in course_titles) or "the course"
    lines = [f"I could not find this in {names}, so the course does not seem to cover it."]
    nearest: list[str] = []
    seen: set[tuple[str, str]] = set()
    for candidate in ranked:
        key = (candidate.chapter.chapter_id, candidate.hit.payload["section_id"])
        if key in seen:
            continue
        seen.add(key)
        cited = citation(candidate.entry.pack, candidate.chapter, key[1])
        lock = "" if candidate.access.allowed else f" ({TIER_NAMES[candidate.access.required_tier]} plan)"
        nearest.append(f"- {cited.section_title}, in {cited.chapter_title}{lock} ({cited.url})")
        if len(nearest) == NEAREST_SECTIONS:
            break
    if nearest:
        lines += ["", "The nearest sections are:", *nearest]
    return Answer(text="\n".join(lines), sources=[], grounding="not_covered")
