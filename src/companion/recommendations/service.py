"""Learning-path recommendations: at most one active per learner."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from companion.recommendations.models import LearningPathRecommendation


async def deactivate_active(session: AsyncSession, *, user_id: uuid.UUID) -> None:
    """Retire the learner's active recommendation (e.g. after a background change)."""
    await session.execute(
        update(LearningPathRecommendation)
        .where(LearningPathRecommendation.user_id == user_id, LearningPathRecommendation.is_active)
        .values(is_active=False)
    )


async def deactivate_expired(session: AsyncSession, *, now: datetime) -> int:
    """Retire every active recommendation past its expiry; returns how many."""
    result = await session.execute(
        update(LearningPathRecommendation)
        .where(LearningPathRecommendation.is_active, LearningPathRecommendation.expires_at <= now)
        .values(is_active=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
