"""Premium (LLM) endpoints: user-initiated, for the plans that include them, budgeted and cost-tracked.

Every answer carries `usage` (tokens and USD of the model call; zero when served from a cache). Errors:
403 `upgrade_required` for plans without the feature, 402 `budget_exceeded` when this month's AI budget
is spent (checked before any model call), 503 `llm_unavailable` when no model is configured or the
provider fails, 503 `llm_timeout` when it does not answer in time, 502 `llm_invalid_output` when its
answer is unusable even after a retry.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from companion.accounts.policies import ProgressWriterDep
from companion.content.dependencies import CatalogDep, PackDep
from companion.dependencies import CacheDep, SessionDep
from companion.llm.dependencies import LLMDep
from companion.premium import chapters, grading, paths, synthesis, tutor
from companion.premium.dependencies import course_pack
from companion.premium.schemas import (
    AdaptivePathRead,
    AdaptivePathRequest,
    GradedAttemptRead,
    PersonalizedChapterRead,
    PremiumExchangeRead,
    SynthesisRead,
    SynthesisRequest,
    TranslatedChapterRead,
)
from companion.tutor.dependencies import OwnConversation, TutorServicesDep
from companion.tutor.schemas import MessageCreate

router = APIRouter(prefix="/api/v1/premium", tags=["premium"])

# Every premium feature may spend the learner's AI budget, so each needs the writer policy.
ERRORS: dict[int | str, dict[str, Any]] = {
    402: {"description": "budget_exceeded: this month's AI budget for your plan is spent"},
    403: {"description": "upgrade_required: your plan does not include this feature"},
    502: {"description": "llm_invalid_output: the model's answer was unusable, even after a retry"},
    503: {"description": "llm_unavailable / llm_timeout: no model configured, or the provider failed"},
}


@router.get(
    "/courses/{course_id}/chapters/{chapter_id}/personalized",
    response_model=PersonalizedChapterRead,
    responses={**ERRORS, 404: {"description": "not_found: unknown course or chapter"}},
)
async def personalized_chapter(
    chapter_id: str, pack: PackDep, identity: ProgressWriterDep, session: SessionDep, llm: LLMDep
) -> PersonalizedChapterRead:
    """The chapter rewritten for your software and hardware background, with the same sections and anchors.

    Written once, then served from a cache for 30 days at no cost, until your background or the
    chapter changes.
    """
    return await chapters.personalized_chapter(
        session, user=identity.user, pack=pack, chapter_id=chapter_id, llm=llm
    )


@router.get(
    "/courses/{course_id}/chapters/{chapter_id}/translation",
    response_model=TranslatedChapterRead,
    responses={
        **ERRORS,
        404: {"description": "not_found: unknown course or chapter"},
        422: {"description": "validation_error: not a language code"},
    },
)
async def translated_chapter(
    chapter_id: str,
    pack: PackDep,
    identity: ProgressWriterDep,
    session: SessionDep,
    llm: LLMDep,
    lang: Annotated[
        str, Query(max_length=35, description="A language code: ur (default), ar, es, pt-BR...")
    ] = "ur",
) -> TranslatedChapterRead:
    """The chapter translated (Urdu by default); code, math, links and anchors are kept as they are.

    Translations are shared by every learner and kept while the chapter is unchanged; `direction`
    says whether the language is written right to left.
    """
    return await chapters.translated_chapter(
        session, user=identity.user, pack=pack, chapter_id=chapter_id, language=lang, llm=llm
    )


@router.post(
    "/tutor/conversations/{conversation_id}/messages",
    response_model=PremiumExchangeRead,
    status_code=status.HTTP_201_CREATED,
    responses={
        **ERRORS,
        404: {"description": "not_found: no such conversation of yours, or it expired"},
        429: {"description": "rate_limited: too many questions this minute"},
    },
)
async def ask_tutor(
    message: MessageCreate,
    conversation: OwnConversation,
    identity: ProgressWriterDep,
    session: SessionDep,
    services: TutorServicesDep,
    llm: LLMDep,
) -> PremiumExchangeRead:
    """Ask the tutor for an explained answer, written from the passages the course tutor retrieves.

    Every claim is cited with [n] markers pointing at `answer.sources`; when the course does not cover
    the question the answer says so. Follow-up questions use the conversation's earlier turns.
    """
    return await tutor.ask(
        session, user=identity.user, conversation=conversation, message=message, services=services, llm=llm
    )


@router.post(
    "/adaptive-path",
    response_model=AdaptivePathRead,
    responses={**ERRORS, 404: {"description": "not_found: unknown course"}},
)
async def adaptive_path(
    data: AdaptivePathRequest,
    identity: ProgressWriterDep,
    session: SessionDep,
    catalog: CatalogDep,
    llm: LLMDep,
) -> AdaptivePathRead:
    """Plan your path with the AI from your progress, quiz results and background; it becomes your
    active learning path (`GET /api/v1/learning-path`) for 7 days."""
    pack = course_pack(catalog, data.course_id)
    return await paths.adaptive_path(session, user=identity.user, pack=pack, llm=llm)


@router.post(
    "/quiz-attempts/{attempt_id}/grade",
    response_model=GradedAttemptRead,
    responses={
        **ERRORS,
        404: {"description": "not_found: no such attempt of yours"},
        409: {"description": "conflict: not submitted, or nothing awaits grading"},
    },
)
async def grade_attempt(
    attempt_id: uuid.UUID,
    identity: ProgressWriterDep,
    session: SessionDep,
    catalog: CatalogDep,
    cache: CacheDep,
    llm: LLMDep,
) -> GradedAttemptRead:
    """Grade your attempt's open-ended answers against their rubric: a score per criterion, feedback,
    points; the attempt's score and `passed` are updated."""
    return await grading.grade_attempt(
        session, user=identity.user, attempt_id=attempt_id, catalog=catalog, cache=cache, llm=llm
    )


@router.post(
    "/synthesis",
    response_model=SynthesisRead,
    responses={**ERRORS, 404: {"description": "not_found: unknown course or chapter"}},
)
async def synthesize(
    data: SynthesisRequest, identity: ProgressWriterDep, catalog: CatalogDep, llm: LLMDep
) -> SynthesisRead:
    """Connect 2 to 6 chapters into one big-picture answer, every claim citing the sections it draws on."""
    pack = course_pack(catalog, data.course_id)
    return await synthesis.synthesize(user=identity.user, pack=pack, request=data, llm=llm)
