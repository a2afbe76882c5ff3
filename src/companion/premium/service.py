"""Premium content caches: invalidation and retention (the LLM-backed features are in sibling modules)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from companion.premium.models import PersonalizedContentCache, TranslationCache

# A translation nobody opens for this long is dropped: usually one of a chapter text since replaced.
TRANSLATION_IDLE = timedelta(days=90)


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


async def delete_idle_translations(session: AsyncSession, *, now: datetime) -> int:
    """Delete translations nobody has opened for 90 days; returns how many."""
    result = await session.execute(
        delete(TranslationCache).where(TranslationCache.last_accessed_at <= now - TRANSLATION_IDLE)
    )
    return int(getattr(result, "rowcount", 0) or 0)
