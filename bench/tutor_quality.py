"""Tutor answer quality: do extractive answers quote the words that answer the question?

Usage:
    nice -n 10 .venv/bin/python bench/tutor_quality.py [--books DIR] [--questions FILE] [--lexical] [--show]

Runs the questions of bench/tutor_questions.yaml through the tutor's real answering path (course search,
relevance judgement, answer composition) over the two Docusaurus books in
../shared/data/books/physicalaibook and the shipped course, and reports per group ("books", "shipped"):

- top1_section: the first cited source is the section that teaches the answer;
- top3_chapter: the expected chapter is among the first three cited sources;
- key_phrase: the answer's text contains one of the question's key phrases;
- not_covered: plausible off-book questions answered "not covered";
- selection: generic requests about a selected passage answered from it (citing its section).

Indexes are built once under data/bench/tutor/ and reused. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from companion.accounts.models import User
from companion.config import Settings
from companion.content.schemas import ContentPack
from companion.content.validation import load_pack
from companion.search import chunking
from companion.search.index import CourseSearch
from companion.tutor import service as tutor_service
from companion.tutor.answers import Answer
from companion.tutor.schemas import MessageCreate, SelectedContext

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BOOKS = REPO.parent / "shared" / "data" / "books" / "physicalaibook"
DEFAULT_QUESTIONS = Path(__file__).with_name("tutor_questions.yaml")
SHIPPED = {"genai-fundamentals": REPO / "courses" / "genai-fundamentals"}


@dataclass
class Tally:
    """Counts for one group of courses."""

    questions: int = 0
    top1_section: int = 0
    top3_chapter: int = 0
    key_phrase: int = 0
    off_book: int = 0
    not_covered: int = 0
    selections: int = 0
    selection_answered: int = 0
    misses: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        """Shares in percent, with the counts they come from."""

        def share(hits: int, total: int) -> float | None:
            return round(100 * hits / total, 1) if total else None

        return {
            "questions": self.questions,
            "top1_section_pct": share(self.top1_section, self.questions),
            "top3_chapter_pct": share(self.top3_chapter, self.questions),
            "key_phrase_pct": share(self.key_phrase, self.questions),
            "off_book": self.off_book,
            "not_covered_pct": share(self.not_covered, self.off_book),
            "selections": self.selections,
            "selection_pct": share(self.selection_answered, self.selections),
        }


def _plain(text: str) -> str:
    return " ".join(chunking.plain_text(text).split()).lower()


def _contains(answer: str, phrase: str) -> bool:
    return _plain(phrase) in answer


def _cited(answer: Answer) -> list[tuple[str, str]]:
    return [(source.chapter_id, source.section_id) for source in answer.sources]


def load_packs(books: Path, names: set[str]) -> dict[str, ContentPack]:
    """The packs the questions name: books by folder name, else the shipped course."""
    packs = {}
    for name in sorted(names):
        path = SHIPPED.get(name) or books / name
        packs[name] = load_pack(path)
    return packs


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Answer every question and tally the figures per group."""
    spec = yaml.safe_load(args.questions.read_text(encoding="utf-8"))
    names = {item["course"] for key in ("questions", "off_book", "selection") for item in spec.get(key, [])}
    packs = load_packs(args.books, names)
    settings = Settings(
        data_dir=REPO / "data" / "bench" / ("tutor-lexical" if args.lexical else "tutor"),
        embedding_provider="none" if args.lexical else "minilm",
    )
    search = CourseSearch.open(settings)
    # A pro learner: the gate is not what this measures.
    user = User(email="bench@example.com", subscription_tier="pro", subscription_expires_at=None)
    tallies: dict[str, Tally] = {"books": Tally(), "shipped": Tally()}
    try:
        for pack in packs.values():
            if not search.is_built(pack):
                print(f"building the index of {pack.course.id}...", file=sys.stderr)
                search.build(pack)

        async def ask(course: str, message: MessageCreate) -> Answer:
            return await tutor_service._answer(
                user=user, message=message, packs=[packs[course]], course_search=search, settings=settings
            )

        for item in spec.get("questions", []):
            tally = tallies["shipped" if item["course"] in SHIPPED else "books"]
            answer = await ask(item["course"], MessageCreate(content=item["question"]))
            chapter_id, section_id = item["section"].split("#")
            cited = _cited(answer)
            plain = _plain(answer.text)
            tally.questions += 1
            top1 = bool(cited) and cited[0] == (chapter_id, section_id)
            tally.top1_section += top1
            tally.top3_chapter += chapter_id in [chapter for chapter, _ in cited[:3]]
            phrase = any(_contains(plain, phrase) for phrase in item["key_phrases"])
            tally.key_phrase += phrase
            if not (top1 and phrase):
                where = " / ".join(f"{c.split('.')[-1][:30]}#{s}" for c, s in cited[:3]) or answer.grounding
                tally.misses.append(f"{item['question']} -> {where} (phrase: {phrase})")
            if args.show:
                print(f"\n### {item['question']}\n{answer.text}\n")
        for item in spec.get("off_book", []):
            tally = tallies["shipped" if item["course"] in SHIPPED else "books"]
            answer = await ask(item["course"], MessageCreate(content=item["question"]))
            tally.off_book += 1
            refused = answer.grounding == "not_covered"
            tally.not_covered += refused
            if not refused:
                tally.misses.append(f"OFF-BOOK answered: {item['question']} -> {answer.text[:160]!r}")
        for item in spec.get("selection", []):
            tally = tallies["shipped" if item["course"] in SHIPPED else "books"]
            chapter_id, section_id = item["section"].split("#")
            context = SelectedContext(chapter_id=chapter_id, section_id=section_id)
            message = MessageCreate(
                content=item["question"], selected_text=item["selected_text"], selected_context=context
            )
            answer = await ask(item["course"], message)
            tally.selections += 1
            answered = answer.grounding == "selection" and (chapter_id, section_id) in _cited(answer)
            tally.selection_answered += answered
            if not answered:
                tally.misses.append(f"SELECTION failed: {item['question']} -> {answer.text[:160]!r}")
            if args.show:
                print(f"\n### [selection] {item['question']}: {item['selected_text']}\n{answer.text}\n")
    finally:
        search.close()
    for name, tally in tallies.items():
        print(f"\n{name}: {json.dumps(tally.figures())}")
        for miss in tally.misses:
            print(f"  - {miss}")
    mode = "lexical" if args.lexical else "hybrid"
    return {"mode": mode, **{name: tally.figures() for name, tally in tallies.items()}}


def main() -> None:
    """Parse the arguments, run the questions, print the figures and a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--books", type=Path, default=DEFAULT_BOOKS, help="the physicalaibook folder")
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--lexical", action="store_true", help="BM25 only, no embedding model")
    parser.add_argument("--show", action="store_true", help="print every answer")
    args = parser.parse_args()
    if not args.books.is_dir():
        raise SystemExit(f"books not found at {args.books} (pass --books)")
    summary = asyncio.run(run(args))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
