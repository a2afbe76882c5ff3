"""The tutor chat: conversations kept 24 hours, questions answered extractively from the course.

Answers never come from a language model here: they are the course's own sentences, cited, chosen by
`answers` from what course search retrieves and the learner may read.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from companion.access import service as access_service
from companion.accounts.models import User
from companion.cache import Cache
from companion.config import Settings
from companion.content.schemas import Chapter, ContentPack, Section
from companion.content.service import ContentCatalog
from companion.db import utcnow
from companion.progress import service as progress_service
from companion.ratelimit import RateLimiter
from companion.search import chunking
from companion.search.index import CourseIndex, CourseSearch
from companion.search.vectors import FilterValue
from companion.tutor import answers
from companion.tutor.exceptions import ConversationNotFound, UnknownSelection
from companion.tutor.models import ChatConversation, ChatMessage
from companion.tutor.schemas import (
    ConversationCreate,
    ConversationDetail,
    ConversationRead,
    ExchangeRead,
    MessageCreate,
    MessageRead,
)


@dataclass(frozen=True)
class TutorServices:
    """What answering a question draws on besides the database: content, search, limits, settings, cache."""

    catalog: ContentCatalog
    course_search: CourseSearch
    limiter: RateLimiter
    settings: Settings
    cache: Cache


RETENTION = timedelta(hours=24)
TITLE_CHARS = 80
# Passages retrieved per course for a question, before the relevance rule and the gate.
RETRIEVED = 20


async def create_conversation(
    session: AsyncSession,
    *,
    user: User,
    data: ConversationCreate,
    services: TutorServices,
    now: datetime | None = None,
) -> ConversationDetail:
    """Start a conversation about one course (the only one when omitted), answering its first question."""
    now = now or utcnow()
    catalog = services.catalog
    course_id = data.course_id
    if course_id is not None:
        catalog.pack(course_id)  # unknown courses are 404
    elif len(catalog.packs()) == 1:
        course_id = catalog.packs()[0].course.id
    conversation = ChatConversation(
        user_id=user.id, course_id=course_id, created_at=now, expires_at=now + RETENTION, message_count=0
    )
    answer = None
    if data.message is not None:
        # The answer is composed before anything is written: no row (on SQLite, no write lock) is held
        # while the passages are searched and judged.
        await check_rate(user=user, services=services)
        answer = await compose_answer(
            user=user,
            message=data.message,
            packs=conversation_packs(conversation, services),
            services=services,
        )
    session.add(conversation)
    await session.flush()
    if data.message is not None and answer is not None:
        await record_exchange(
            session,
            user=user,
            conversation=conversation,
            message=data.message,
            answer=answer,
            services=services,
            now=now,
        )
    return await conversation_detail(session, conversation=conversation)


async def list_conversations(
    session: AsyncSession, *, user: User, limit: int = 50, now: datetime | None = None
) -> list[ConversationRead]:
    """The learner's unexpired conversations, newest first."""
    rows = await session.scalars(
        select(ChatConversation)
        .where(ChatConversation.user_id == user.id, ChatConversation.expires_at > (now or utcnow()))
        .order_by(ChatConversation.created_at.desc(), ChatConversation.id)
        .limit(limit)
    )
    return [ConversationRead.model_validate(row) for row in rows]


async def get_conversation(
    session: AsyncSession, *, user: User, conversation_id: uuid.UUID, now: datetime | None = None
) -> ChatConversation:
    """One of the learner's unexpired conversations; anyone else's, or an expired one, is not found."""
    conversation = await session.scalar(
        select(ChatConversation).where(
            ChatConversation.id == conversation_id,
            ChatConversation.user_id == user.id,
            ChatConversation.expires_at > (now or utcnow()),
        )
    )
    if conversation is None:
        raise ConversationNotFound(conversation_id)
    return conversation


async def conversation_detail(session: AsyncSession, *, conversation: ChatConversation) -> ConversationDetail:
    """The conversation with its messages in sequence order."""
    messages = await session.scalars(
        select(ChatMessage)
        .where(ChatMessage.conversation_id == conversation.id)
        .order_by(ChatMessage.sequence_number)
    )
    return ConversationDetail(
        **ConversationRead.model_validate(conversation).model_dump(),
        messages=[MessageRead.model_validate(message) for message in messages],
    )


async def delete_conversation(session: AsyncSession, *, conversation: ChatConversation) -> None:
    """Delete a conversation and its messages now, before the 24-hour purge."""
    await session.execute(delete(ChatConversation).where(ChatConversation.id == conversation.id))


async def ask(
    session: AsyncSession,
    *,
    user: User,
    conversation: ChatConversation,
    message: MessageCreate,
    services: TutorServices,
    now: datetime | None = None,
) -> ExchangeRead:
    """Store a question and its grounded answer; counts as a learning activity for the streak."""
    await check_rate(user=user, services=services)
    answer = await compose_answer(
        user=user, message=message, packs=conversation_packs(conversation, services), services=services
    )
    return await record_exchange(
        session,
        user=user,
        conversation=conversation,
        message=message,
        answer=answer,
        services=services,
        now=now,
    )


async def check_rate(*, user: User, services: TutorServices) -> None:
    """Refuse with `rate_limited` beyond the learner's tutor questions per minute."""
    per_minute = services.settings.tutor_messages_per_minute
    await services.limiter.hit(
        f"{per_minute}/minute",
        "tutor",
        str(user.id),
        message=f"At most {per_minute} tutor questions a minute; try again shortly.",
    )


def conversation_packs(conversation: ChatConversation, services: TutorServices) -> list[ContentPack]:
    """The courses a conversation asks about: its own course, or every course."""
    catalog = services.catalog
    return [catalog.pack(conversation.course_id)] if conversation.course_id else catalog.packs()


async def record_exchange(
    session: AsyncSession,
    *,
    user: User,
    conversation: ChatConversation,
    message: MessageCreate,
    answer: answers.Answer,
    services: TutorServices,
    now: datetime | None = None,
) -> ExchangeRead:
    """Store a question and the answer given to it, numbered in the conversation; counts for the streak."""
    now = now or utcnow()
    # The streak row first, then the conversation: the lock order of every learning write.
    await progress_service.record_activity(session, user=user, at=now, cache=services.cache)
    await session.refresh(conversation, with_for_update=True)
    sequence = conversation.message_count
    question = ChatMessage(
        conversation_id=conversation.id,
        role="user",
        content=message.content,
        selected_text=message.selected_text,
        selected_context=message.selected_context.model_dump(exclude_none=True)
        if message.selected_context
        else None,
        created_at=now,
        sequence_number=sequence + 1,
    )
    reply = ChatMessage(
        conversation_id=conversation.id,
        role="assistant",
        content=answer.text,
        sources=[source.model_dump(mode="json") for source in answer.sources],
        created_at=now,
        sequence_number=sequence + 2,
    )
    session.add_all([question, reply])
    conversation.message_count = sequence + 2
    conversation.last_message_at = now
    if conversation.title is None:
        conversation.title = title_from(message.content)
    await session.flush()
    return ExchangeRead(
        conversation=ConversationRead.model_validate(conversation),
        question=MessageRead.model_validate(question),
        answer=MessageRead.model_validate(reply),
        grounding=answer.grounding,
    )


async def earlier_messages(
    session: AsyncSession, *, conversation: ChatConversation, limit: int
) -> list[ChatMessage]:
    """The conversation's last `limit` messages, oldest first."""
    rows = await session.scalars(
        select(ChatMessage)
        .where(ChatMessage.conversation_id == conversation.id)
        .order_by(ChatMessage.sequence_number.desc())
        .limit(limit)
    )
    return list(reversed(list(rows)))


def title_from(question: str) -> str:
    """A conversation title from its first question: one line, cut at a word near TITLE_CHARS."""
    line = " ".join(question.split())
    if len(line) <= TITLE_CHARS:
        return line
    cut = line[: TITLE_CHARS - 1].rsplit(" ", 1)[0]
    return (cut if len(cut) > TITLE_CHARS // 2 else line[: TITLE_CHARS - 1]).rstrip(" ,;:.") + "…"


async def compose_answer(
    *, user: User, message: MessageCreate, packs: Sequence[ContentPack], services: TutorServices
) -> answers.Answer:
    """The core's extractive answer: cited sentences of the passages the learner may read, or why not."""
    course_search, settings = services.course_search, services.settings
    thresholds = answers.Thresholds(
        min_semantic=settings.tutor_min_semantic_score, min_coverage=settings.tutor_min_term_coverage
    )
    if message.selected_text or message.selected_context:
        return await _answer_selection(
            user=user, message=message, packs=packs, course_search=course_search, thresholds=thresholds
        )
    retrievals = [await course_search.retrieve(pack, message.content, limit=RETRIEVED) for pack in packs]

    def compose() -> answers.Answer:  # stemming and Markdown parsing: CPU work, off the event loop
        candidates = [
            candidate
            for retrieval in retrievals
            for candidate in answers.judge(
                retrieval, question=message.content, user=user, thresholds=thresholds
            )
        ]
        titles = [pack.course.title for pack in packs]
        return answers.answer_from_course(message.content, candidates, course_titles=titles)

    return await asyncio.to_thread(compose)


async def _answer_selection(
    *,
    user: User,
    message: MessageCreate,
    packs: Sequence[ContentPack],
    course_search: CourseSearch,
    thresholds: answers.Thresholds,
) -> answers.Answer:
    """Answer from the selection and its section, which must be one the learner may read."""
    found = await asyncio.to_thread(_selected_section, message, packs, user)
    entry: CourseIndex | None = None
    chapter: Chapter | None = None
    section: Section | None = None
    related = False
    if found is not None:
        pack, chapter, section = found
        access_service.check_chapter(user, chapter).enforce()
        # Is the question about this section at all? Search only the section and apply the usual rule.
        filters: dict[str, FilterValue] = {"chapter_id": chapter.chapter_id, "section_id": section.section_id}
        retrieval = await course_search.retrieve(pack, message.content, filters=filters, limit=RETRIEVED)
        entry = retrieval.entry
        judged = answers.judge(retrieval, question=message.content, user=user, thresholds=thresholds)
        related = any(candidate.relevant for candidate in judged)
    selected_text = message.selected_text or (
        chunking.plain_text(section.content_markdown) if section else ""
    )
    return await asyncio.to_thread(
        partial(
            answers.answer_from_selection,
            message.content,
            selected_text=selected_text,
            entry=entry,
            chapter=chapter,
            section=section,
            related=related,
        )
    )


def _selected_section(
    message: MessageCreate, packs: Sequence[ContentPack], user: User
) -> tuple[ContentPack, Chapter, Section] | None:
    """The section named by the selected context, or else the readable one containing the selected text.

    Selected text is only looked for in chapters the learner may open, and a named chapter is gated
    before its text is consulted: otherwise the answer would tell whether a string occurs in a chapter
    above the learner's tier. Text found nowhere readable is answered from the selection alone.
    """
    context = message.selected_context
    if context is not None:
        for pack in packs:
            chapter = pack.chapter(context.chapter_id)
            if chapter is None:
                continue
            access_service.check_chapter(user, chapter).enforce()
            if context.section_id is not None:
                section = chapter.section(context.section_id)
                if section is None:
                    raise UnknownSelection("selected_context.section_id", context.section_id)
                return pack, chapter, section
            if context.section_title is not None:
                wanted = " ".join(context.section_title.split()).lower()
                section = next((s for s in chapter.sections if s.title.lower() == wanted), None)
                if section is None:
                    raise UnknownSelection("selected_context.section_title", context.section_title)
                return pack, chapter, section
            if message.selected_text:
                return _containing(message.selected_text, [(pack, chapter)])
            raise UnknownSelection("selected_context.section_id", "")
        raise UnknownSelection("selected_context.chapter_id", context.chapter_id)
    assert message.selected_text is not None
    readable = [
        (pack, chapter)
        for pack in packs
        for chapter in pack.chapters
        if access_service.check_chapter(user, chapter).allowed
    ]
    return _containing(message.selected_text, readable)


def _containing(
    selected_text: str, chapters: Sequence[tuple[ContentPack, Chapter]]
) -> tuple[ContentPack, Chapter, Section] | None:
    """The first section whose plain text contains the selection (spacing and case ignored)."""
    wanted = " ".join(selected_text.split()).lower()
    for pack, chapter in chapters:
        for section in chapter.sections:
            if wanted in " ".join(chunking.plain_text(section.content_markdown).split()).lower():
                return pack, chapter, section
    return None
