"""Tutor synthesis: an explained answer written by the LLM from the passages the core tutor retrieves.

The core tutor picks the passages (the same retrieval, relevance rule and gate); the model may only
explain what they say, citing each claim with the core's [n] markers, and must say so when they do not
answer. Citations are checked: a marker that points at no retrieved passage, or a paragraph without
one, sends the answer back once, then the call fails. Earlier turns help the model (and retrieval)
understand a follow-up question; facts still come only from the passages.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from companion.access import service as access_service
from companion.accounts.models import User
from companion.content.schemas import ContentPack
from companion.llm.gateway import LLMGateway, no_cost
from companion.premium import markdown_checks, prompts
from companion.premium.chapters import SOFTWARE_GUIDE, usage_read
from companion.premium.schemas import PremiumExchangeRead
from companion.search import chunking
from companion.tutor import answers
from companion.tutor import service as tutor_service
from companion.tutor.models import ChatConversation, ChatMessage
from companion.tutor.schemas import MAX_MESSAGE_CHARS, MessageCreate, Source

FEATURE = "tutor_synthesis"
HISTORY_MESSAGES = 8
ANSWERED = ("course", "selection")


class SynthesisedAnswer(BaseModel):
    """The model's answer: whether the passages answer the question, and the cited explanation."""

    covered: bool = Field(description="false when the passages do not answer the question")
    answer_markdown: str = Field(description="The explanation in Markdown; every claim ends with [n].")


def instructions(user: User) -> str:
    """What the model is asked to do."""
    return "\n".join(
        [
            "You are the tutor of an online course. Answer the learner's question by explaining what the "
            "numbered <passage> blocks say, clearly and in your own words.",
            "Use only the passages for facts. End every sentence that states a fact with the marker of "
            "the passage it comes from, such as [1] or [2][3]; use only the numbers of the given passages.",
            "If the passages do not answer the question, set covered to false and say in one or two "
            "sentences that the course material retrieved does not cover it; do not answer from memory.",
            "The earlier turns in <conversation> only help you understand what the question refers to.",
            f"The learner is {SOFTWARE_GUIDE.get(user.software_experience, user.software_experience)}.",
            prompts.DATA_RULE,
        ]
    )


def _passage_text(source: Source, packs: list[ContentPack]) -> str:
    """The retrieved passage a source cites (its chunk), or its whole section if the chunk moved."""
    for pack in packs:
        chapter = pack.chapter(source.chapter_id) if pack.course.id == source.course_id else None
        section = chapter.section(source.section_id) if chapter else None
        if chapter is None or section is None:
            continue
        for chunk in chunking.chunk_section(pack.course.id, chapter, section):
            if chunk.chunk_id == source.chunk_id:
                return chunk.markdown
        return section.content_markdown
    return ""


def build_prompt(
    message: MessageCreate, sources: list[Source], texts: list[str], earlier: list[ChatMessage]
) -> str:
    """The question, the numbered passages and the earlier turns, each as delimited data."""
    parts = []
    if earlier:
        turns = prompts.blocks("turn", ((item.content, {"role": item.role}) for item in earlier))
        parts.append(f"<conversation>\n{turns}\n</conversation>")
    parts.append(
        prompts.blocks(
            "passage",
            (
                (
                    text,
                    {"number": str(number), "chapter": source.chapter_title, "section": source.section_title},
                )
                for number, (source, text) in enumerate(zip(sources, texts, strict=True), start=1)
            ),
        )
    )
    if message.selected_text:
        parts.append(prompts.block("selected_text", message.selected_text))
    parts.append(prompts.block("learner_question", message.content))
    return "\n\n".join(parts)


def citation_problems(answer: SynthesisedAnswer, *, passages: int) -> list[str]:
    """Why an answer's citations are unacceptable: unknown passage numbers, or uncited claims."""
    numbers = markdown_checks.citation_numbers(answer.answer_markdown)
    problems = [
        f"[{n}] is not a passage number (use 1 to {passages})" for n in numbers if not 1 <= n <= passages
    ]
    if answer.covered:
        if not numbers:
            problems.append("cite the passages with [n] markers")
        problems += [
            f'this paragraph cites no passage: "{paragraph}"'
            for paragraph in markdown_checks.uncited_paragraphs(answer.answer_markdown)
        ]
    return problems


def _with_sources(text: str, sources: list[Source]) -> str:
    lines = [
        f"[{number}] {source.section_title}, in {source.chapter_title} ({source.url})"
        for number, source in enumerate(sources, start=1)
    ]
    return text.strip() + "\n\nSources:\n" + "\n".join(lines)


async def ask(
    session: AsyncSession,
    *,
    user: User,
    conversation: ChatConversation,
    message: MessageCreate,
    services: tutor_service.TutorServices,
    llm: LLMGateway,
) -> PremiumExchangeRead:
    """Answer a question in a conversation by LLM synthesis over the core tutor's passages, and store it."""
    access_service.check_feature(user, FEATURE).enforce()
    choice = llm.choice(FEATURE)  # no provider: 503 before anything is stored
    await tutor_service.check_rate(user=user, services=services)
    packs = tutor_service.conversation_packs(conversation, services)
    earlier = await tutor_service.earlier_messages(session, conversation=conversation, limit=HISTORY_MESSAGES)
    core = await tutor_service.compose_answer(user=user, message=message, packs=packs, services=services)
    previous = next((item.content for item in reversed(earlier) if item.role == "user"), None)
    if core.grounding not in ANSWERED and previous and not message.selected_text:
        # A follow-up ("and its drawbacks?") may only be found together with the question before it.
        joined = f"{previous}\n{message.content}"[-MAX_MESSAGE_CHARS:]
        retry = await tutor_service.compose_answer(
            user=user, message=MessageCreate(content=joined), packs=packs, services=services
        )
        core = retry if retry.grounding in ANSWERED else core

    usage = no_cost(choice, cached=False)
    answer = core
    if core.grounding in ANSWERED and core.sources:
        texts = [_passage_text(source, packs) for source in core.sources]
        completion = await llm.run(
            user=user,
            feature=FEATURE,
            instructions=instructions(user),
            prompt=build_prompt(message, core.sources, texts, earlier),
            output_type=SynthesisedAnswer,
            check=lambda output: citation_problems(output, passages=len(core.sources)),
        )
        usage = completion.usage
        output = completion.output
        if output.covered:
            answer = answers.Answer(
                _with_sources(output.answer_markdown, core.sources), core.sources, core.grounding
            )
        else:
            answer = answers.Answer(output.answer_markdown.strip(), [], "not_covered")
    exchange = await tutor_service.record_exchange(
        session, user=user, conversation=conversation, message=message, answer=answer, services=services
    )
    return PremiumExchangeRead(**exchange.model_dump(), usage=usage_read(usage))
