"""Tutor dependencies: the caller's own, unexpired conversation (404 once, here) and the tutor's services."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from companion.accounts.policies import SignedInIdentity
from companion.content.dependencies import CatalogDep
from companion.dependencies import CacheDep, LimiterDep, SessionDep, SettingsDep
from companion.search.dependencies import CourseSearchDep
from companion.tutor import service as tutor_service
from companion.tutor.models import ChatConversation


async def get_own_conversation(
    conversation_id: uuid.UUID, identity: SignedInIdentity, session: SessionDep
) -> ChatConversation:
    """The conversation in the path, if it is the caller's and has not expired; else 404.

    The route's own policy decides what the caller may do with it.
    """
    return await tutor_service.get_conversation(session, user=identity.user, conversation_id=conversation_id)


OwnConversation = Annotated[ChatConversation, Depends(get_own_conversation)]


async def get_tutor_services(
    catalog: CatalogDep,
    course_search: CourseSearchDep,
    limiter: LimiterDep,
    settings: SettingsDep,
    cache: CacheDep,
) -> tutor_service.TutorServices:
    """The application's content, search, rate limiter, settings and cache, as the tutor uses them."""
    return tutor_service.TutorServices(
        catalog=catalog, course_search=course_search, limiter=limiter, settings=settings, cache=cache
    )


TutorServicesDep = Annotated[tutor_service.TutorServices, Depends(get_tutor_services)]
