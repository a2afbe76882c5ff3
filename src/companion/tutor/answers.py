"""Extractive, grounded answers: the course's own sentences with citations, never invented text.

A retrieved passage counts as answering a question when its meaning is close enough (cosine similarity
of the embeddings at least `min_semantic`), or, at half that similarity, when it contains most of the
question's content terms (at least `min_coverage` of them, each weighted by its rarity in the course, so
that "sourdough" weighs more than "model"; words such as "how", "explain" or "what is" do not count).
Without embeddings, term coverage alone decides. When no passage the learner may read qualifies, the
answer says so and names the nearest sections.
"""

from __future__ import annotations

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
from companion.tutor.schemas import Grounding, Source

MAX_SOURCES = 3
MAX_SENTENCES = 4
SENTENCES_PER_SOURCE = 2
# Beyond the opening one, a sentence is quoted only if it holds this share of the question's terms.
MIN_SENTENCE_COVERAGE = 0.4
NEAREST_SECTIONS = 3


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


@dataclass(frozen=True)
class _Sentence:
    text: str
    source: Candidate | None
    score: float
    position: int


def coverage(terms: set[str], text_terms: set[str], entry: CourseIndex) -> float:
    """The share of `terms` found in a text, each weighted by its rarity in the course (0 to 1)."""
    total = sum(entry.term_weight(term) for term in terms)
    if not total:
        return 0.0
    return sum(entry.term_weight(term) for term in terms & text_terms) / total


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
        covered = coverage(terms, search_terms.query_terms(hit.text), retrieval.entry)
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
    """The best sentences of the best passages the learner may read, cited; or an honest "not covered"."""
    ranked = sorted(candidates, key=lambda candidate: candidate.hit.score, reverse=True)
    relevant = [candidate for candidate in ranked if candidate.relevant]
    readable = [candidate for candidate in relevant if candidate.access.allowed]
    # A locked chapter is worth mentioning when it is among the best passages on the question.
    locked = [candidate for candidate in relevant[:MAX_SOURCES] if not candidate.access.allowed]
    if not readable:
        if relevant:
            lines = ["The course covers this in chapters your plan does not open yet:", ""]
            lines += _locked_lines(relevant)
            return Answer(text="\n".join(lines), sources=[], grounding="locked")
        return _not_covered(ranked, course_titles)

    terms = search_terms.content_terms(question)
    passages = readable[:MAX_SOURCES]
    sentences = [
        _Sentence(text=text, source=candidate, score=_score(text, terms, candidate), position=position)
        for candidate in passages
        for position, text in enumerate(chunking.prose(candidate.hit.payload["content"]))
    ]
    chosen = _choose(sentences, first_from=passages[0])
    text, sources = _render(chosen, intro="Here is what the course says:")
    also = _locked_lines(locked)
    if also:
        text += "\n\nMore on this in chapters your plan does not open yet:\n" + "\n".join(also)
    return Answer(text=text, sources=sources, grounding="course")


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

    `related` says whether search found the section relevant to the question (by meaning) when no
    sentence shares its terms; a question about something else is told so rather than answered.
    """
    question_terms = search_terms.content_terms(question)
    selection_terms = search_terms.content_terms(selected_text)
    # "What does this mean?" says nothing of its own: the selection is then what the question is about.
    terms = question_terms or selection_terms
    where = f' ("{section.title}")' if section else ""

    sentences: list[_Sentence] = []
    if entry is not None and chapter is not None and section is not None:
        for chunk in chunking.chunk_section(entry.pack.course.id, chapter, section):
            source = _section_candidate(entry, chapter, chunk)
            for position, text in enumerate(chunking.prose(chunk.markdown)):
                score = _overlap(text, terms, entry) + 0.5 * _overlap(text, selection_terms, entry)
                sentences.append(_Sentence(text=text, source=source, score=score, position=position))
    else:
        for position, text in enumerate(chunking.prose(selected_text)):
            words = search_terms.query_terms(text)
            score = len(terms & words) / max(len(terms), 1)
            sentences.append(_Sentence(text=text, source=None, score=score, position=position))

    on_topic = any(question_terms & search_terms.query_terms(sentence.text) for sentence in sentences)
    if question_terms and not on_topic and not related:
        text = (
            f"The passage you selected and its section{where} do not seem to answer this. "
            "Ask again without a selection to search the whole course."
        )
        return Answer(text=text, sources=[], grounding="not_covered")
    chosen = _choose(sentences, first_from=None, per_source=MAX_SENTENCES)
    text, sources = _render(chosen, intro=f"From the passage you selected and its section{where}:")
    return Answer(text=text, sources=sources, grounding="selection")


def _section_candidate(entry: CourseIndex, chapter: Chapter, chunk: chunking.Chunk) -> Candidate:
    hit = SearchHit(
        id=chunk.chunk_id,
        score=0.0,
        text=chunk.search_text,
        payload={
            "chapter_id": chapter.chapter_id,
            "section_id": chunk.section.section_id,
            "content": chunk.markdown,
        },
        lexical_rank=None,
        lexical_score=None,
        semantic_rank=None,
        semantic_score=None,
    )
    allowed = AccessDecision(True, chapter.access_tier, chapter.access_tier, "")
    return Candidate(hit=hit, entry=entry, chapter=chapter, access=allowed, relevance=0.0, relevant=True)


def _overlap(text: str, terms: set[str], entry: CourseIndex) -> float:
    return coverage(terms, search_terms.query_terms(text), entry) if terms else 0.0


def _score(text: str, terms: set[str], candidate: Candidate) -> float:
    share = _overlap(text, terms, candidate.entry)
    if share < MIN_SENTENCE_COVERAGE:
        return 0.0
    # Share of the question's terms in the sentence, a little extra for a more relevant passage.
    return share + 0.1 * candidate.relevance


def _choose(
    sentences: Sequence[_Sentence], *, first_from: Candidate | None, per_source: int = SENTENCES_PER_SOURCE
) -> list[_Sentence]:
    """Up to MAX_SENTENCES distinct sentences, best first; the best passage always contributes."""
    seen: set[str] = set()
    unique = []
    for sentence in sentences:
        key = " ".join(sentence.text.lower().split())
        if key not in seen:
            seen.add(key)
            unique.append(sentence)
    ranked = sorted(unique, key=lambda sentence: (-sentence.score, sentence.position))
    chosen: list[_Sentence] = []
    if first_from is not None:
        # The top passage opens the answer even when its wording differs from the question's.
        opening = next((sentence for sentence in ranked if sentence.source is first_from), None)
        chosen.extend([opening] if opening else [])
    per: dict[int, int] = {}
    for sentence in chosen:
        per[id(sentence.source)] = per.get(id(sentence.source), 0) + 1
    for sentence in ranked:
        if len(chosen) >= MAX_SENTENCES:
            break
        taken = any(sentence is other for other in chosen)
        if taken or sentence.score <= 0 or per.get(id(sentence.source), 0) >= per_source:
            continue
        chosen.append(sentence)
        per[id(sentence.source)] = per.get(id(sentence.source), 0) + 1
    if not chosen and ranked:
        chosen.append(ranked[0])
    return chosen


def _render(chosen: list[_Sentence], *, intro: str) -> tuple[str, list[Source]]:
    """Sentences grouped by passage, in reading order, each group followed by its [n] marker."""
    order: list[Candidate | None] = []
    for sentence in chosen:
        if sentence.source not in order:
            order.append(sentence.source)
    lines = [intro, ""]
    sources: list[Source] = []
    for candidate in order:
        group = sorted((s for s in chosen if s.source is candidate), key=lambda s: s.position)
        quoted = " ".join(sentence.text for sentence in group)
        if candidate is None:
            lines += [f"> {quoted}", ""]
            continue
        sources.append(_source(candidate, score=max(s.score for s in group)))
        lines += [f"> {quoted} [{len(sources)}]", ""]
    if sources:
        lines.append("Sources:")
        lines += [
            f"[{number}] {source.section_title}, in {source.chapter_title} ({source.url})"
            for number, source in enumerate(sources, start=1)
        ]
    return "\n".join(lines).strip(), sources


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
