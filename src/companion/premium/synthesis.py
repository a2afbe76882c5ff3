"""Cross-chapter synthesis: how the ideas of several chapters connect, every claim cited to a section.

The chosen chapters' sections are numbered [1]..[n] in course order and given to the model as data;
it writes a "big picture" answer citing them. Markers outside that range, or paragraphs without one,
send the answer back once. The response lists the cited sections, renumbered in order of first use.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from companion.access import service as access_service
from companion.accounts.models import User
from companion.content import service as content_service
from companion.content.schemas import Chapter, ContentPack, Section
from companion.errors import ValidationFailed
from companion.llm.gateway import LLMGateway
from companion.premium import markdown_checks, prompts
from companion.premium.chapters import usage_read
from companion.premium.schemas import SynthesisRead, SynthesisRequest
from companion.search import citations

FEATURE = "synthesis"


class BigPicture(BaseModel):
    """The model's synthesis."""

    answer_markdown: str = Field(description="Markdown; every claim ends with [n] markers of sections.")


INSTRUCTIONS = "\n".join(
    [
        "You help a learner see the big picture of an online course. Connect the concepts of the "
        "chapters given: how they build on, contrast with and complete each other; end with a short "
        "summary of the whole.",
        "Use only the numbered <section> blocks for facts. End every sentence that states a fact with "
        "the marker of the section(s) it draws on, such as [3] or [1][7]; use only the given numbers, "
        "and draw on every chapter given.",
        prompts.DATA_RULE,
    ]
)


def numbered_sections(chapters: list[Chapter]) -> list[tuple[Chapter, Section]]:
    """The chapters' sections in course order; position + 1 is a section's citation number."""
    return [(chapter, section) for chapter in chapters for section in chapter.sections]


def build_prompt(numbered: list[tuple[Chapter, Section]], question: str | None) -> str:
    """The numbered sections (and the learner's focus question) as delimited data."""
    sections = prompts.blocks(
        "section",
        (
            (
                section.content_markdown,
                {"number": str(number), "chapter": chapter.title, "title": section.title},
            )
            for number, (chapter, section) in enumerate(numbered, start=1)
        ),
    )
    parts = ["Connect the ideas of these chapters.", f"<course_content>\n{sections}\n</course_content>"]
    if question:
        parts.append("Focus on the learner's question:\n" + prompts.block("learner_question", question))
    return "\n\n".join(parts)


def synthesis_problems(output: BigPicture, numbered: list[tuple[Chapter, Section]]) -> list[str]:
    """Citations that point nowhere, uncited paragraphs, chapters not drawn on."""
    numbers = markdown_checks.citation_numbers(output.answer_markdown)
    total = len(numbered)
    problems = [f"[{n}] is not a section number (use 1 to {total})" for n in numbers if not 1 <= n <= total]
    if not numbers:
        problems.append("cite the sections with [n] markers")
    problems += [
        f'this paragraph cites no section: "{paragraph}"'
        for paragraph in markdown_checks.uncited_paragraphs(output.answer_markdown)
    ]
    cited_chapters = {numbered[n - 1][0].chapter_id for n in numbers if 1 <= n <= total}
    chapters = {chapter.chapter_id for chapter, _ in numbered}
    problems += [f"draw on chapter '{chapter_id}' too" for chapter_id in sorted(chapters - cited_chapters)]
    return problems


def renumber(text: str, numbers: list[int]) -> tuple[str, list[int]]:
    """Markers renumbered 1, 2, 3... in order of first use; returns the text and the original numbers."""
    order: list[int] = []
    for number in numbers:
        if number not in order:
            order.append(number)
    mapping = {old: new for new, old in enumerate(order, start=1)}
    return re.sub(
        r"\[(\d+)\]", lambda match: f"[{mapping.get(int(match.group(1)), match.group(1))}]", text
    ), order


def _chapters(user: User, pack: ContentPack, chapter_ids: list[str]) -> list[Chapter]:
    if len(set(chapter_ids)) != len(chapter_ids):
        raise ValidationFailed("Choose each chapter once.", details={"field": "chapter_ids"})
    chosen = set(chapter_ids)
    for chapter_id in chapter_ids:
        access_service.check_chapter(user, content_service.get_chapter(pack, chapter_id)).enforce()
    return [chapter for chapter in pack.chapters if chapter.chapter_id in chosen]


async def synthesize(
    *, user: User, pack: ContentPack, request: SynthesisRequest, llm: LLMGateway
) -> SynthesisRead:
    """Connect the chosen chapters into one cited big-picture answer."""
    access_service.check_feature(user, FEATURE).enforce()
    chapters = _chapters(user, pack, request.chapter_ids)
    llm.choice(FEATURE)
    numbered = numbered_sections(chapters)
    completion = await llm.run(
        user=user,
        feature=FEATURE,
        instructions=INSTRUCTIONS,
        prompt=build_prompt(numbered, request.question),
        output_type=BigPicture,
        check=lambda output: synthesis_problems(output, numbered),
    )
    text, order = renumber(
        completion.output.answer_markdown, markdown_checks.citation_numbers(completion.output.answer_markdown)
    )
    return SynthesisRead(
        course_id=pack.course.id,
        chapter_ids=[chapter.chapter_id for chapter in chapters],
        question=request.question,
        answer=text,
        sources=[citations.citation(pack, numbered[n - 1][0], numbered[n - 1][1].section_id) for n in order],
        usage=usage_read(completion.usage),
    )
