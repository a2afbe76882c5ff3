"""Tutor retention: conversations are purged once they expire (24 hours after creation)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from companion.tutor.models import ChatConversation


async def purge_expired_conversations(session: AsyncSession, *, now: datetime) -> int:
    """Delete expired conversations and, by cascade, their messages; returns how many."""
    result = await session.execute(delete(ChatConversation).where(ChatConversation.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)
