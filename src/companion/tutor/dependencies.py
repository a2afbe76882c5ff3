"""Tutor dependencies: the caller's own, unexpired conversation named in the path (404 once, here)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from companion.accounts.dependencies import CurrentUser
from companion.dependencies import SessionDep
from companion.tutor import service as tutor_service
from companion.tutor.models import ChatConversation


async def get_own_conversation(
    conversation_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> ChatConversation:
    """The conversation in the path, if it is the caller's and has not expired; else 404."""
    return await tutor_service.get_conversation(session, user=user, conversation_id=conversation_id)


OwnConversation = Annotated[ChatConversation, Depends(get_own_conversation)]
