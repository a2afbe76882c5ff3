"""Premium content caches; the LLM-backed features themselves arrive with the premium work."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from companion.premium.models import PersonalizedContentCache


async def invalidate_personalized_content(session: AsyncSession, *, user_id: uuid.UUID) -> int:
    """Drop every personalised chapter of a learner (their background changed); returns the count."""
    result = await session.execute(
        delete(PersonalizedContentCache).where(PersonalizedContentCache.user_id == user_id)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def delete_expired_personalized_content(session: AsyncSession, *, now: datetime) -> int:
    """Delete personalised chapters past their 30-day expiry; returns how many."""
    result = await session.execute(
        delete(PersonalizedContentCache).where(PersonalizedContentCache.expires_at <= now)
    )
    return int(getattr(result, "rowcount", 0) or 0)
