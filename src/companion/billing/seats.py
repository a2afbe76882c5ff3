"""Team seats on the billing side: a seat-holder's subscription follows the team owner's."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from companion.accounts.models import User
from companion.billing import service as billing_service
from companion.billing.models import Subscription
from companion.billing.service import TEAM_PROVIDER
from companion.errors import Conflict


async def grant_seat(
    session: AsyncSession, *, member: User, owner: User, now: datetime | None = None
) -> Subscription:
    """Give a learner team access through an owner's team subscription."""
    now = now or datetime.now(UTC)
    subscription = await billing_service.get_subscription(session, user=member)
    if (
        subscription.payment_provider not in (None, "manual", TEAM_PROVIDER)
        and billing_service.effective_tier(member, now=now) != "free"
    ):
        raise Conflict(
            "You have a paid subscription of your own; cancel it and let it end before taking a team seat.",
            details={"tier": subscription.tier},
        )
    owner_subscription = await billing_service.get_subscription(session, user=owner)
    await billing_service.write_subscription(
        session,
        user=member,
        subscription=subscription,
        source="team",
        now=now,
        tier="team",
        status="active",
        started_at=now,
        expires_at=owner_subscription.expires_at,
        canceled_at=None,
        auto_renew=False,
        payment_provider=TEAM_PROVIDER,
        payment_id=str(owner.id),
        seats=None,
    )
    return subscription


async def release_seat(session: AsyncSession, *, member: User, now: datetime | None = None) -> Subscription:
    """Take team access away from a learner whose seat was freed: back to free."""
    now = now or datetime.now(UTC)
    subscription = await billing_service.get_subscription(session, user=member)
    if subscription.payment_provider != TEAM_PROVIDER:
        return subscription
    return await billing_service.write_subscription(
        session,
        user=member,
        subscription=subscription,
        source="team",
        now=now,
        tier="free",
        status="active",
        expires_at=None,
        payment_provider=None,
        payment_id=None,
    )


async def release_team_seats(session: AsyncSession, *, owner: User, now: datetime | None = None) -> int:
    """Drop every learner seated through this owner back to free (the owner's account is going)."""
    now = now or datetime.now(UTC)
    rows = await session.execute(
        select(User)
        .join(Subscription, Subscription.user_id == User.id)
        .where(
            Subscription.payment_provider == TEAM_PROVIDER,
            Subscription.payment_id == str(owner.id),
        )
    )
    members = list(rows.scalars())
    for member in members:
        await release_seat(session, member=member, now=now)
    return len(members)
