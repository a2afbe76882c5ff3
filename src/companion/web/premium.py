"""A chapter "for me": the reader's "Personalise for me" and "Translate" buttons over the premium services.

The pages call the same functions as `/api/v1/premium/...` (`companion.premium.chapters`), so the gate,
the budget, the cache and the model are decided in one place; errors become pages (web/errors.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse

from companion.access import service as access_service
from companion.accounts.models import User
from companion.accounts.policies import Identity
from companion.content import html as content_html
from companion.content import service as content_service
from companion.content.dependencies import PackDep
from companion.content.schemas import Chapter, ContentPack
from companion.dependencies import SessionDep
from companion.errors import LLMUnavailable
from companion.llm.dependencies import LLMDep
from companion.llm.gateway import LLMGateway
from companion.premium import chapters as premium_chapters
from companion.premium.schemas import ChapterSectionText
from companion.web.dependencies import CsrfProtected, Learner
from companion.web.templating import render

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

# The reader's premium actions: gate feature, button label, and the page (path suffix) that serves it.
ACTIONS = (
    ("personalization", "Personalise for me", "personalized"),
    ("translation", "Translate", "translation"),
)
DEFAULT_LANGUAGE = "ur"


@dataclass(frozen=True)
class Offer:
    """One premium action as the reader shows it: allowed by the plan, and servable by this server."""

    feature: str
    label: str
    path: str
    allowed: bool
    reason: str
    unavailable: str | None  # the `llm_unavailable` message when no model is configured, else None


def premium_offers(user: User | None, llm: LLMGateway) -> list[Offer]:
    """The reader's premium actions for this learner: the gate's answer and the server's model, each."""
    offers = []
    for feature, label, path in ACTIONS:
        decision = access_service.check_feature(user, feature)
        try:
            llm.choice(feature)
            unavailable = None
        except LLMUnavailable as error:
            unavailable = error.message
        offers.append(Offer(feature, label, path, decision.allowed, decision.reason, unavailable))
    return offers


def languages() -> dict[str, str]:
    """The languages the reader offers (Urdu first); the service accepts any language code."""
    names = premium_chapters.LANGUAGE_NAMES
    return {DEFAULT_LANGUAGE: names[DEFAULT_LANGUAGE], **names}


def _page(
    request: Request,
    learner: Identity,
    *,
    pack: ContentPack,
    chapter: Chapter,
    title: str,
    sections: list[ChapterSectionText],
    note: str,
    article_lang: str,
    article_dir: str,
    language: str,
    llm: LLMGateway,
) -> Response:
    rendered = [
        {
            "section": section,
            "html": content_html.markdown_to_html(section.content_markdown, anchor_prefix=section.anchor),
        }
        for section in sections
    ]
    context = {
        "course_id": pack.course.id,
        "chapter": chapter,
        "title": title,
        "sections": rendered,
        "note": note,
        "article_lang": article_lang,
        "article_dir": article_dir,
        "premium": premium_offers(learner.user, llm),
        "languages": languages(),
        "current_language": language,
    }
    return render(request, "reader_variant.html", context, identity=learner)


@router.post("/courses/{course_id}/chapters/{chapter_id}/personalized", dependencies=[CsrfProtected])
async def personalized(
    chapter_id: str, request: Request, pack: PackDep, learner: Learner, session: SessionDep, llm: LLMDep
) -> Response:
    """The chapter rewritten for the learner's background (kept 30 days, until the background changes)."""
    result = await premium_chapters.personalized_chapter(
        session, user=learner.user, pack=pack, chapter_id=chapter_id, llm=llm
    )
    language = pack.course.language
    return _page(
        request,
        learner,
        pack=pack,
        chapter=content_service.get_chapter(pack, chapter_id),
        title=result.title,
        sections=result.sections,
        note=(
            f"Rewritten for your background (software: {result.software_experience}, "
            f"hardware: {result.hardware_experience}) by an AI model."
        ),
        article_lang=language,
        article_dir=content_html.text_direction(language),
        language=DEFAULT_LANGUAGE,
        llm=llm,
    )


@router.post("/courses/{course_id}/chapters/{chapter_id}/translation", dependencies=[CsrfProtected])
async def translated(
    chapter_id: str,
    request: Request,
    pack: PackDep,
    learner: Learner,
    session: SessionDep,
    llm: LLMDep,
    lang: Annotated[str, Form(max_length=35)] = DEFAULT_LANGUAGE,
) -> Response:
    """The chapter translated (Urdu by default), shared by every learner while the chapter is unchanged."""
    result = await premium_chapters.translated_chapter(
        session, user=learner.user, pack=pack, chapter_id=chapter_id, language=lang, llm=llm
    )
    name = premium_chapters.LANGUAGE_NAMES.get(result.language.split("-")[0], result.language)
    return _page(
        request,
        learner,
        pack=pack,
        chapter=content_service.get_chapter(pack, chapter_id),
        title=result.title,
        sections=result.sections,
        note=f"Translated into {name} by an AI model; code, formulas and links are kept as they are.",
        article_lang=result.language,
        article_dir=result.direction,
        language=result.language,
        llm=llm,
    )
