"""Learning sessions: a sitting in one interface, the interactions it carried, and its end."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from companion.db import serialize_writes, utcnow
from companion.errors import NotFound
from companion.progress.models import LearningSession
from companion.progress.schemas import Interface, LearningSessionCreate

# An assistant's tool calls belong to one session while they come less than this far apart
# (the same idle time after which the end-idle-sessions job ends a session).
ASSISTANT_IDLE_WINDOW = timedelta(minutes=30)


async def start(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    data: LearningSessionCreate,
    user_agent: str | None,
    client_ip: str | None,
) -> LearningSession:
    """Open a learning session; the client's IP is kept only when the caller passes it (configured)."""
    now = utcnow()
    metadata: dict[str, Any] = {**data.metadata}
    if data.device is not None:
        metadata["device"] = data.device
    if user_agent:
        metadata["user_agent"] = user_agent[:300]
    if client_ip:
        metadata["ip"] = client_ip
    learning_session = LearningSession(
        user_id=user_id,
        interface=data.interface,
        started_at=now,
        last_activity_at=now,
        session_metadata=metadata,
    )
    session.add(learning_session)
    await session.flush()
    return learning_session


async def end(
    session: AsyncSession, *, user_id: uuid.UUID, learning_session_id: uuid.UUID
) -> LearningSession:
    """End one of the learner's sessions now (ending an ended session changes nothing)."""
    learning_session = await session.get(LearningSession, learning_session_id)
    if learning_session is None or learning_session.user_id != user_id:
        raise NotFound("No such learning session.")
    if learning_session.ended_at is None:
        learning_session.ended_at = max(utcnow(), learning_session.started_at)
        await session.flush()
    return learning_session


async def track(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    learning_session_id: uuid.UUID,
    chapter_id: str | None = None,
    quiz_id: str | None = None,
    at: datetime | None = None,
) -> bool:
    """Count one interaction in the learner's open session; False (nothing recorded) for any other id."""
    # A stale or foreign session id is ignored rather than refused: it must never break the request.
    # The counting UPDATE comes first: it locks the row, so the list changes below cannot race.
    await serialize_writes(session)
    result = await session.execute(
        update(LearningSession)
        .where(
            LearningSession.id == learning_session_id,
            LearningSession.user_id == user_id,
            LearningSession.ended_at.is_(None),
        )
        .values(interaction_count=LearningSession.interaction_count + 1, last_activity_at=at or utcnow())
        .returning(LearningSession.chapters_accessed, LearningSession.quizzes_taken),
        execution_options={"synchronize_session": False},
    )
    row = result.first()
    if row is None:
        return False
    changes: dict[str, list[Any]] = {}
    if chapter_id is not None and chapter_id not in row.chapters_accessed:
        changes["chapters_accessed"] = [*row.chapters_accessed, chapter_id]
    if quiz_id is not None and quiz_id not in row.quizzes_taken:
        changes["quizzes_taken"] = [*row.quizzes_taken, quiz_id]
    if changes:
        await session.execute(
            update(LearningSession).where(LearningSession.id == learning_session_id).values(**changes),
            execution_options={"synchronize_session": False},
        )
    return True


async def record_assistant_interaction(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    interface: Interface,
    client_name: str | None = None,
    chapter_id: str | None = None,
    quiz_id: str | None = None,
    now: datetime,
    source: str = "mcp",
) -> uuid.UUID:
    """Count one assistant tool call or web action in the learner's session of that interface; its id.

    The learner's open session is reused while its last activity is under 30 minutes old; otherwise
    a new one starts (the idle job ends the old one). Two first calls at the very same moment may
    each start one: a harmless extra session, not worth a lock on every tool call.
    """
    open_session_id = await session.scalar(
        select(LearningSession.id)
        .where(
            LearningSession.user_id == user_id,
            LearningSession.interface == interface,
            LearningSession.ended_at.is_(None),
            LearningSession.last_activity_at > now - ASSISTANT_IDLE_WINDOW,
        )
        .order_by(LearningSession.last_activity_at.desc())
        .limit(1)
    )
    if open_session_id is not None and await track(
        session,
        user_id=user_id,
        learning_session_id=open_session_id,
        chapter_id=chapter_id,
        quiz_id=quiz_id,
        at=now,
    ):
        return open_session_id
    await serialize_writes(session)
    learning_session = LearningSession(
        user_id=user_id,
        interface=interface,
        started_at=now,
        last_activity_at=now,
        interaction_count=1,
        chapters_accessed=[chapter_id] if chapter_id else [],
        quizzes_taken=[quiz_id] if quiz_id else [],
        session_metadata={"source": source, "client": client_name} if client_name else {"source": source},
    )
    session.add(learning_session)
    await session.flush()
    return learning_session.id
