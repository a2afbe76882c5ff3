"""Subscriptions: the tier a learner holds, its transitions and its expiry."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from companion.accounts.models import User
from companion.billing.models import Subscription
from companion.errors import Conflict


async def create_free_subscription(session: AsyncSession, *, user: User) -> Subscription:
    """The free subscription every new account starts with."""
    subscription = Subscription(user_id=user.id, tier="free", status="active")
    session.add(subscription)
    user.subscription_tier = "free"
    user.subscription_expires_at = None
    await session.flush()
    return subscription


async def get_subscription(session: AsyncSession, *, user: User) -> Subscription:
    """The user's subscription row, created on the free tier if it is missing."""
    result = await session.execute(select(Subscription).where(Subscription.user_id == user.id))
    subscription = result.scalar_one_or_none()
    return subscription or await create_free_subscription(session, user=user)


def effective_tier(user: User, *, now: datetime | None = None) -> str:
    """The tier the user may use right now: a lapsed paid tier grants only free access."""
    now = now or datetime.now(UTC)
    expires_at = user.subscription_expires_at
    if user.subscription_tier != "free" and expires_at is not None and expires_at <= now:
        return "free"
    return user.subscription_tier


async def change_tier(
    session: AsyncSession,
    *,
    user: User,
    tier: str,
    expires_at: datetime | None = None,
    payment_provider: str | None = None,
    payment_id: str | None = None,
) -> Subscription:
    """Move the user to a tier following the product's rules; users.subscription_tier follows."""
    subscription = await get_subscription(session, user=user)
    current = effective_tier(user)
    if current in ("pro", "team") and tier == "free":
        raise Conflict(
            f"A {current} subscription cannot drop straight to free; step down to premium or cancel it.",
            details={"current_tier": current, "requested_tier": tier},
        )
    subscription.tier = tier
    subscription.status = "active"
    subscription.started_at = datetime.now(UTC)
    subscription.expires_at = expires_at
    subscription.canceled_at = None
    subscription.payment_provider = payment_provider
    subscription.payment_id = payment_id
    user.subscription_tier = tier
    user.subscription_expires_at = expires_at
    await session.flush()
    return subscription


async def expire_lapsed(session: AsyncSession, *, now: datetime) -> int:
    """Mark every subscription past its expiry as expired and drop its users to free; returns the count."""
    # One conditional UPDATE that reports what it changed: two runs at once (several processes run the
    # scheduler) each expire a subscription at most once between them, so none is counted twice.
    expired = await session.execute(
        update(Subscription)
        .where(
            Subscription.status.in_(("active", "canceled")),
            Subscription.expires_at.is_not(None),
            Subscription.expires_at <= now,
            Subscription.tier != "free",
        )
        .values(status="expired")
        .returning(Subscription.user_id),
        execution_options={"synchronize_session": False},
    )
    user_ids: list[uuid.UUID] = list(expired.scalars())
    if not user_ids:
        return 0
    await session.execute(
        update(User)
        .where(User.id.in_(user_ids))
        .values(subscription_tier="free", subscription_expires_at=None)
    )
    return len(user_ids)
