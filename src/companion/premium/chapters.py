"""Personalised and translated chapters: written by the LLM once, then served from a cache at no cost.

A personalised chapter is kept 30 days per (learner, chapter, background) and only while the chapter's
text is unchanged (its content hash). A translation is kept per (chapter, language, content hash) and
shared by every learner. Both keep the chapter's sections, ids and anchors: the model rewrites the
content of each section and the sections themselves come from the course.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from companion.access import service as access_service
from companion.accounts.models import User
from companion.content import service as content_service
from companion.content.schemas import Chapter, ContentPack
from companion.db import utcnow
from companion.errors import ValidationFailed
from companion.llm.gateway import CallUsage, LLMGateway, no_cost
from companion.premium import markdown_checks, prompts
from companion.premium.models import PersonalizedContentCache, TranslationCache
from companion.premium.schemas import (
    ChapterSectionText,
    PersonalizedChapterRead,
    TranslatedChapterRead,
    UsageRead,
)

PERSONALIZED_LIFETIME = timedelta(days=30)
EntryT = TypeVar("EntryT", PersonalizedContentCache, TranslationCache)
RTL_LANGUAGES = frozenset({"ar", "arc", "ckb", "dv", "fa", "he", "ku", "ps", "sd", "ug", "ur", "yi"})
LANGUAGE_NAMES = {
    "ur": "Urdu",
    "ar": "Arabic",
    "fa": "Persian",
    "hi": "Hindi",
    "bn": "Bengali",
    "es": "Spanish",
    "fr": "French",
    "de": "German",
    "zh": "Chinese",
    "ja": "Japanese",
    "pt": "Portuguese",
    "tr": "Turkish",
}
SOFTWARE_GUIDE = {
    "beginner": "new to programming: explain jargon, use plain words and analogies, walk through code",
    "intermediate": "comfortable with programming: skip the basics, connect ideas to code they would write",
    "advanced": "an experienced engineer: be concise, go deeper into trade-offs and implementation details",
}
HARDWARE_GUIDE = {
    "none": "no hardware experience: avoid hardware jargon, explain any physical device in plain terms",
    "hobbyist": "a hardware hobbyist (boards, sensors): relate ideas to projects they could build",
    "professional": "a hardware professional: use precise engineering terms and real-world constraints",
}


class SectionText(BaseModel):
    """One section written by the model."""

    section_id: str = Field(description="The id of the section, exactly as given.")
    title: str = Field(description="The section title (translated, for a translation).")
    content_markdown: str = Field(description="The section's Markdown content.")


class ChapterText(BaseModel):
    """The chapter as the model wrote it, section by section."""

    title: str
    sections: list[SectionText]


def chapter_hash(chapter: Chapter) -> str:
    """The hash of what a rewrite is made from: the chapter's title and sections."""
    body = chapter.model_dump_json(include={"title", "sections"})
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def chapter_markdown(chapter: Chapter) -> str:
    """The chapter as one Markdown text (kept with a personalised copy as its original)."""
    parts = [f"# {chapter.title}"]
    parts += [f"## {section.title}\n\n{section.content_markdown}" for section in chapter.sections]
    return "\n\n".join(parts)


def usage_read(call: CallUsage) -> UsageRead:
    """A call's usage as the API shows it."""
    return UsageRead(
        provider=call.provider,
        model=call.model,
        input_tokens=call.input_tokens,
        output_tokens=call.output_tokens,
        cost_usd=call.cost_usd,
        cached=call.cached,
    )


def _section_problems(chapter: Chapter, written: ChapterText) -> list[str]:
    expected = [section.section_id for section in chapter.sections]
    got = [section.section_id for section in written.sections]
    if got != expected:
        return [f"return exactly these sections, in this order, with these ids: {expected} (got {got})"]
    return [f"section {s.section_id} is empty" for s in written.sections if not s.content_markdown.strip()]


def _sections(chapter: Chapter, written: list[dict[str, str]]) -> list[ChapterSectionText]:
    """The written sections under the original ids and anchors."""
    by_id = {item["section_id"]: item for item in written}
    return [
        ChapterSectionText(
            section_id=section.section_id,
            anchor=section.anchor,
            title=by_id[section.section_id]["title"],
            content_markdown=by_id[section.section_id]["content_markdown"],
        )
        for section in chapter.sections
    ]


def _readable_chapter(user: User, pack: ContentPack, chapter_id: str, feature: str) -> Chapter:
    """The chapter, if the learner's plan includes the feature and opens the chapter."""
    access_service.check_feature(user, feature).enforce()
    chapter = content_service.get_chapter(pack, chapter_id)
    access_service.check_chapter(user, chapter).enforce()
    return chapter


# --- Personalised chapters ---------------------------------------------------------------------


def personalize_instructions(user: User) -> str:
    """What the model is asked to do for this learner's background."""
    return "\n".join(
        [
            "You rewrite one chapter of an online course for one learner, so it suits their background.",
            f"Software background: {SOFTWARE_GUIDE.get(user.software_experience, user.software_experience)}.",
            f"Hardware background: {HARDWARE_GUIDE.get(user.hardware_experience, user.hardware_experience)}.",
            "Keep every fact, definition, example and code block of the original; adapt explanations, "
            "depth and analogies only. Do not add facts the chapter does not state.",
            "Return the chapter title and every section, in the same order and with the same section ids; "
            "each section's content is Markdown. Keep link targets and code blocks as they are.",
            prompts.DATA_RULE,
        ]
    )


async def _cached_personalization(
    session: AsyncSession, *, user: User, pack: ContentPack, chapter: Chapter
) -> PersonalizedContentCache | None:
    return await session.scalar(
        select(PersonalizedContentCache).where(
            PersonalizedContentCache.user_id == user.id,
            PersonalizedContentCache.course_id == pack.course.id,
            PersonalizedContentCache.chapter_id == chapter.chapter_id,
            PersonalizedContentCache.software_experience == user.software_experience,
            PersonalizedContentCache.hardware_experience == user.hardware_experience,
        )
    )


async def personalized_chapter(
    session: AsyncSession,
    *,
    user: User,
    pack: ContentPack,
    chapter_id: str,
    llm: LLMGateway,
    now: datetime | None = None,
) -> PersonalizedChapterRead:
    """The chapter rewritten for the learner's background: from the cache when fresh, else by the LLM."""
    now = now or utcnow()
    chapter = _readable_chapter(user, pack, chapter_id, "personalization")
    content_hash = chapter_hash(chapter)
    entry = await _cached_personalization(session, user=user, pack=pack, chapter=chapter)
    if entry is not None and entry.content_hash == content_hash and entry.expires_at > now:
        entry.access_count += 1
        entry.last_accessed_at = now
        await session.flush()
        return _personalized_read(entry, chapter, pack, usage=no_cost(None, cached=True))

    completion = await llm.run(
        user=user,
        feature="personalization",
        instructions=personalize_instructions(user),
        prompt="Rewrite this chapter for the learner.\n\n" + prompts.chapter_block(chapter),
        output_type=ChapterText,
        check=lambda written: _section_problems(chapter, written),
    )
    text = completion.output.model_dump_json()
    values = {
        "content_hash": content_hash,
        "original_content": chapter_markdown(chapter),
        "personalized_content": text,
        "created_at": now,
        "expires_at": now + PERSONALIZED_LIFETIME,
        "access_count": 1,
        "last_accessed_at": now,
    }
    entry = await _store(
        session,
        existing=entry,
        create=lambda: PersonalizedContentCache(
            user_id=user.id,
            course_id=pack.course.id,
            chapter_id=chapter.chapter_id,
            software_experience=user.software_experience,
            hardware_experience=user.hardware_experience,
            **values,
        ),
        values=values,
        reload=lambda: _cached_personalization(session, user=user, pack=pack, chapter=chapter),
    )
    return _personalized_read(entry, chapter, pack, usage=completion.usage)


def _personalized_read(
    entry: PersonalizedContentCache, chapter: Chapter, pack: ContentPack, *, usage: CallUsage
) -> PersonalizedChapterRead:
    written = ChapterText.model_validate_json(entry.personalized_content)
    return PersonalizedChapterRead(
        course_id=pack.course.id,
        chapter_id=chapter.chapter_id,
        title=written.title,
        software_experience=entry.software_experience,
        hardware_experience=entry.hardware_experience,
        content_hash=entry.content_hash,
        sections=_sections(chapter, [section.model_dump() for section in written.sections]),
        generated_at=entry.created_at,
        expires_at=entry.expires_at,
        access_count=entry.access_count,
        usage=usage_read(usage),
    )


async def _store(
    session: AsyncSession,
    *,
    existing: EntryT | None,
    create: Callable[[], EntryT],
    values: dict[str, object],
    reload: Callable[[], Awaitable[EntryT | None]],
) -> EntryT:
    """Replace a stale cache entry, or insert a new one; a concurrent writer's entry wins a clash."""
    if existing is not None:
        for name, value in values.items():
            setattr(existing, name, value)
        await session.flush()
        return existing
    entry = create()
    try:
        async with session.begin_nested():  # losing the race undoes only this insert
            session.add(entry)
            await session.flush()
        return entry
    except IntegrityError:
        winner = await reload()
        if winner is None:
            raise
        return winner


# --- Translations ------------------------------------------------------------------------------


def normalize_language(code: str) -> str:
    """A language code as stored: lower-case base language, region kept (`pt-BR` → `pt-br`)."""
    if not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", code):
        raise ValidationFailed(
            f"'{code}' is not a language code; use one such as 'ur', 'ar', 'es' or 'pt-BR'.",
            details={"field": "lang", "value": code},
        )
    return code.lower()


def direction(language: str) -> str:
    """ "rtl" for languages written right to left, else "ltr"."""
    return "rtl" if language.split("-")[0] in RTL_LANGUAGES else "ltr"


def translate_instructions(language: str) -> str:
    """What the model is asked to do for a translation."""
    name = LANGUAGE_NAMES.get(language.split("-")[0], f"the language with code '{language}'")
    return "\n".join(
        [
            f"You translate one chapter of an online course into {name} ({language}).",
            "Translate the chapter title, each section title and the prose of each section faithfully, "
            "for a learner; keep technical terms that have no common translation in English, with a "
            "short gloss the first time.",
            "Keep the Markdown structure exactly: the same headings, lists, tables and emphasis. Copy "
            "code blocks, inline code, math ($...$ and $$...$$), URLs and link targets (#anchors) exactly "
            "as they are, untranslated.",
            "Return every section, in the same order and with the same section ids.",
            prompts.DATA_RULE,
        ]
    )


def _translation_problems(chapter: Chapter, written: ChapterText) -> list[str]:
    problems = _section_problems(chapter, written)
    if problems:
        return problems
    for original, translated in zip(chapter.sections, written.sections, strict=True):
        problems += markdown_checks.preservation_problems(
            original.content_markdown, translated.content_markdown, where=f"section {original.section_id}"
        )
    return problems


async def _cached_translation(
    session: AsyncSession, *, pack: ContentPack, chapter: Chapter, language: str, content_hash: str
) -> TranslationCache | None:
    return await session.scalar(
        select(TranslationCache).where(
            TranslationCache.course_id == pack.course.id,
            TranslationCache.chapter_id == chapter.chapter_id,
            TranslationCache.language == language,
            TranslationCache.content_hash == content_hash,
        )
    )


async def translated_chapter(
    session: AsyncSession,
    *,
    user: User,
    pack: ContentPack,
    chapter_id: str,
    language: str,
    llm: LLMGateway,
    now: datetime | None = None,
) -> TranslatedChapterRead:
    """The chapter in `language`: the shared cached translation of this text, else one by the LLM."""
    now = now or utcnow()
    language = normalize_language(language)
    chapter = _readable_chapter(user, pack, chapter_id, "translation")
    content_hash = chapter_hash(chapter)
    entry = await _cached_translation(
        session, pack=pack, chapter=chapter, language=language, content_hash=content_hash
    )
    if entry is not None:
        entry.access_count += 1
        entry.last_accessed_at = now
        await session.flush()
        return _translated_read(entry, chapter, pack, usage=no_cost(None, cached=True))

    completion = await llm.run(
        user=user,
        feature="translation",
        instructions=translate_instructions(language),
        prompt="Translate this chapter.\n\n" + prompts.chapter_block(chapter),
        output_type=ChapterText,
        check=lambda written: _translation_problems(chapter, written),
    )
    values: dict[str, object] = {
        "translated_content": completion.output.model_dump_json(),
        "created_at": now,
        "access_count": 1,
        "last_accessed_at": now,
    }
    entry = await _store(
        session,
        existing=None,
        create=lambda: TranslationCache(
            course_id=pack.course.id,
            chapter_id=chapter.chapter_id,
            language=language,
            content_hash=content_hash,
            **values,
        ),
        values=values,
        reload=lambda: _cached_translation(
            session, pack=pack, chapter=chapter, language=language, content_hash=content_hash
        ),
    )
    return _translated_read(entry, chapter, pack, usage=completion.usage)


def _translated_read(
    entry: TranslationCache, chapter: Chapter, pack: ContentPack, *, usage: CallUsage
) -> TranslatedChapterRead:
    written = ChapterText.model_validate_json(entry.translated_content)
    return TranslatedChapterRead(
        course_id=pack.course.id,
        chapter_id=chapter.chapter_id,
        language=entry.language,
        direction="rtl" if direction(entry.language) == "rtl" else "ltr",
        title=written.title,
        content_hash=entry.content_hash,
        sections=_sections(chapter, [section.model_dump() for section in written.sections]),
        generated_at=entry.created_at,
        access_count=entry.access_count,
        usage=usage_read(usage),
    )
