"""Learning-record jobs."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import CursorResult, update
from sqlalchemy.ext.asyncio import AsyncSession

from companion.progress.models import LearningSession


async def end_idle_sessions(session: AsyncSession, *, now: datetime, idle_minutes: int = 30) -> int:
    """End sessions idle for `idle_minutes`, at their last activity; returns how many were ended."""
    # One conditional UPDATE: running it again, or from several processes at once, ends nothing twice.
    cutoff = now - timedelta(minutes=idle_minutes)
    result = await session.execute(
        update(LearningSession)
        .where(LearningSession.ended_at.is_(None), LearningSession.last_activity_at < cutoff)
        .values(ended_at=LearningSession.last_activity_at),
        execution_options={"synchronize_session": False},
    )
    assert isinstance(result, CursorResult)
    return result.rowcount
