"""Tutor chat endpoints: your conversations and grounded, cited answers from the course."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from companion.accounts.policies import ProgressWriterDep, ReaderDep
from companion.dependencies import SessionDep
from companion.tutor import service as tutor_service
from companion.tutor.dependencies import OwnConversation, TutorServicesDep
from companion.tutor.schemas import (
    ConversationCreate,
    ConversationDetail,
    ConversationRead,
    ExchangeRead,
    MessageCreate,
)

router = APIRouter(prefix="/api/v1/tutor", tags=["tutor"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "not_found: no such conversation of yours, or it expired"}
}


@router.post(
    "/conversations",
    response_model=ConversationDetail,
    status_code=status.HTTP_201_CREATED,
    responses={404: {"description": "not_found: unknown course"}, 429: {"description": "rate_limited"}},
)
async def create_conversation(
    data: ConversationCreate,
    identity: ProgressWriterDep,
    session: SessionDep,
    services: TutorServicesDep,
) -> ConversationDetail:
    """Start a conversation (kept 24 hours), optionally asking its first question at once."""
    return await tutor_service.create_conversation(
        session,
        user=identity.user,
        data=data,
        services=services,
    )


@router.get("/conversations", response_model=list[ConversationRead])
async def list_conversations(
    reader: ReaderDep, session: SessionDep, limit: Annotated[int, Query(ge=1, le=100)] = 50
) -> list[ConversationRead]:
    """Your conversations of the last 24 hours, newest first."""
    return await tutor_service.list_conversations(session, user=reader.user, limit=limit)


@router.get("/conversations/{conversation_id}", response_model=ConversationDetail, responses=NOT_FOUND)
async def read_conversation(
    _reader: ReaderDep, conversation: OwnConversation, session: SessionDep
) -> ConversationDetail:
    """One of your conversations with its messages in order."""
    return await tutor_service.conversation_detail(session, conversation=conversation)


@router.delete(
    "/conversations/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND
)
async def delete_conversation(
    _writer: ProgressWriterDep, conversation: OwnConversation, session: SessionDep
) -> Response:
    """Delete one of your conversations now, with its messages."""
    await tutor_service.delete_conversation(session, conversation=conversation)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/conversations/{conversation_id}/messages",
    response_model=ExchangeRead,
    status_code=status.HTTP_201_CREATED,
    responses={
        **NOT_FOUND,
        403: {"description": "upgrade_required: the selected passage is in a chapter above your tier"},
        429: {"description": "rate_limited: too many questions this minute"},
    },
)
async def ask(
    message: MessageCreate,
    identity: ProgressWriterDep,
    conversation: OwnConversation,
    session: SessionDep,
    services: TutorServicesDep,
) -> ExchangeRead:
    """Ask a question (up to 5,000 characters), optionally about a selected passage; get a cited answer.

    Answers quote the course: the most relevant sentences you may read, each passage cited as [n] in
    `answer.sources`. When nothing relevant is found the answer says the course does not cover it and
    names the nearest sections. With `selected_text` (and `selected_context`) the answer draws only on
    that passage and its section.
    """
    return await tutor_service.ask(
        session,
        user=identity.user,
        conversation=conversation,
        message=message,
        services=services,
    )
