"""Subscriptions: the tier a learner holds, its transitions and its expiry.

One function, `write_subscription`, changes a subscription; it mirrors tier and expiry onto the user in the
same flush and records the change, so `users.subscription_tier` and the row never disagree.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from companion.access.tiers import TIERS
from companion.accounts.models import User
from companion.billing.models import Subscription, SubscriptionChange
from companion.errors import Conflict, NotFound, ValidationFailed

TIER_ORDER: dict[str, int] = {tier: rank for rank, tier in enumerate(TIERS)}
PAID_TIERS = TIERS[1:]
# Seat-holders' subscriptions name this provider and their team owner's user id as payment id.
TEAM_PROVIDER = "team"
MAX_SEATS = 1000

ProviderState = Literal["active", "canceled", "ended"]


def effective_tier(user: User, *, now: datetime | None = None) -> str:
    """The tier the user may use right now: a lapsed paid tier grants only free access."""
    now = now or datetime.now(UTC)
    expires_at = user.subscription_expires_at
    if user.subscription_tier != "free" and expires_at is not None and expires_at <= now:
        return "free"
    return user.subscription_tier


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


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    """A user by id, or 404."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user {user_id}.")
    return user


async def write_subscription(
    session: AsyncSession,
    *,
    user: User,
    subscription: Subscription,
    source: str,
    now: datetime,
    **fields: Any,
) -> Subscription:
    """The one writer of subscriptions: set fields, mirror them on the user, record the change.

    Only billing modules call it; everything else goes through the transition functions.
    """
    before = (subscription.tier, subscription.status)
    for name, value in fields.items():
        setattr(subscription, name, value)
    user.subscription_tier = subscription.tier
    user.subscription_expires_at = subscription.expires_at
    if before != (subscription.tier, subscription.status):
        session.add(
            SubscriptionChange(
                user_id=user.id,
                from_tier=before[0],
                to_tier=subscription.tier,
                from_status=before[1],
                to_status=subscription.status,
                source=source,
                changed_at=now,
            )
        )
    await session.flush()
    if subscription.payment_provider != TEAM_PROVIDER:
        await _sync_seat_holders(session, owner=user, owner_subscription=subscription, now=now)
    return subscription


async def _sync_seat_holders(
    session: AsyncSession, *, owner: User, owner_subscription: Subscription, now: datetime
) -> None:
    """Seat-holders have team access exactly while their owner's team subscription is in force."""
    rows = await session.execute(
        select(Subscription, User)
        .join(User, User.id == Subscription.user_id)
        .where(Subscription.payment_provider == TEAM_PROVIDER, Subscription.payment_id == str(owner.id))
    )
    owner_has_team = owner_subscription.tier == "team" and owner_subscription.status != "expired"
    for subscription, member in rows.all():
        if owner_has_team:
            await write_subscription(
                session,
                user=member,
                subscription=subscription,
                source="team",
                now=now,
                tier="team",
                status="active",
                expires_at=owner_subscription.expires_at,
                canceled_at=None,
            )
        elif subscription.tier != "free":
            await write_subscription(
                session,
                user=member,
                subscription=subscription,
                source="team",
                now=now,
                tier="free",
                status="expired",
                expires_at=subscription.expires_at or now,
            )


def _check_seats(tier: str, seats: int | None) -> int | None:
    if tier != "team":
        return None
    if seats is None or not 1 <= seats <= MAX_SEATS:
        raise ValidationFailed(
            f"A team plan needs a number of seats between 1 and {MAX_SEATS}.", details={"seats": seats}
        )
    return seats


async def change_tier(
    session: AsyncSession,
    *,
    user: User,
    tier: str,
    expires_at: datetime | None = None,
    seats: int | None = None,
    source: str = "admin",
    now: datetime | None = None,
) -> Subscription:
    """An administrator's change of tier, following the rules: no direct pro (or team) → free."""
    now = now or datetime.now(UTC)
    if tier not in TIER_ORDER:
        raise ValidationFailed(f"Unknown tier '{tier}'.", details={"tiers": list(TIERS)})
    subscription = await get_subscription(session, user=user)
    current = effective_tier(user, now=now)
    if TIER_ORDER[current] >= TIER_ORDER["pro"] and tier == "free":
        raise Conflict(
            f"A {current} subscription cannot drop straight to free; step down to premium or cancel it.",
            details={"current_tier": current, "requested_tier": tier},
        )
    unchanged = tier == subscription.tier and subscription.status == "active"
    return await write_subscription(
        session,
        user=user,
        subscription=subscription,
        source=source,
        now=now,
        tier=tier,
        status="active",
        started_at=subscription.started_at if unchanged else now,
        expires_at=None if tier == "free" else expires_at,
        seats=_check_seats(tier, seats if seats is not None else subscription.seats),
        canceled_at=None,
        auto_renew=False,
        payment_provider=None if tier == "free" else "manual",
        payment_id=None,
        payment_failed_at=None,
    )


async def cancel(session: AsyncSession, *, user: User, now: datetime | None = None) -> Subscription:
    """Cancel a paid subscription: it ends at `expires_at` (at once without one); on free, nothing to do."""
    now = now or datetime.now(UTC)
    subscription = await get_subscription(session, user=user)
    if effective_tier(user, now=now) == "free":
        return subscription  # nothing is paid for, so nothing to stop
    if subscription.payment_provider == TEAM_PROVIDER:
        raise Conflict(
            "Your plan comes from a team seat; ask the team's owner to remove you, or leave the team."
        )
    if subscription.status == "canceled":
        return subscription
    if subscription.expires_at is None:
        return await write_subscription(
            session,
            user=user,
            subscription=subscription,
            source="learner",
            now=now,
            tier="free",
            status="expired",
            expires_at=now,
            canceled_at=now,
            auto_renew=False,
        )
    return await write_subscription(
        session,
        user=user,
        subscription=subscription,
        source="learner",
        now=now,
        status="canceled",
        canceled_at=now,
        auto_renew=False,
    )


async def find_by_payment_id(
    session: AsyncSession, *, provider: str, payment_id: str
) -> tuple[User, Subscription] | None:
    """The user and subscription a provider's subscription id belongs to."""
    row = (
        await session.execute(
            select(User, Subscription)
            .join(Subscription, Subscription.user_id == User.id)
            .where(Subscription.payment_provider == provider, Subscription.payment_id == payment_id)
        )
    ).first()
    return None if row is None else (row[0], row[1])


@dataclass(frozen=True)
class ProviderUpdate:
    """What a payment provider says a subscription is now, as of `event_at`."""

    provider: str
    payment_id: str
    customer_id: str | None
    tier: str
    state: ProviderState
    period_end: datetime | None
    seats: int | None
    event_at: datetime


async def apply_provider_update(
    session: AsyncSession, *, user: User, update: ProviderUpdate, now: datetime | None = None
) -> bool:
    """Apply a provider's view of the subscription unless a newer one was applied; True if applied."""
    now = now or datetime.now(UTC)
    subscription = await get_subscription(session, user=user)
    if subscription.provider_event_at is not None and update.event_at < subscription.provider_event_at:
        return False
    replaced = subscription.payment_provider == update.provider and subscription.payment_id not in (
        None,
        update.payment_id,
    )
    if replaced and update.state != "active":
        # The end of an older provider subscription the learner has since replaced changes nothing.
        return False
    common: dict[str, Any] = {
        "payment_provider": update.provider,
        "payment_id": update.payment_id,
        "provider_customer_id": update.customer_id or subscription.provider_customer_id,
        "provider_event_at": update.event_at,
    }
    if update.state == "ended":
        ended_at = min(update.period_end or now, now)
        await write_subscription(
            session,
            user=user,
            subscription=subscription,
            source="stripe",
            now=now,
            tier="free",
            status="expired",
            expires_at=ended_at,
            auto_renew=False,
            canceled_at=subscription.canceled_at or now,
            seats=None,
            **common,
        )
        return True
    renewed = update.period_end is not None and (
        subscription.expires_at is None or update.period_end > subscription.expires_at
    )
    starting = subscription.tier != update.tier or subscription.status == "expired"
    await write_subscription(
        session,
        user=user,
        subscription=subscription,
        source="stripe",
        now=now,
        tier=update.tier,
        status="active" if update.state == "active" else "canceled",
        started_at=now if starting else subscription.started_at,
        expires_at=update.period_end,
        auto_renew=update.state == "active",
        canceled_at=None if update.state == "active" else (subscription.canceled_at or now),
        seats=_check_seats(update.tier, update.seats),
        payment_failed_at=None if renewed else subscription.payment_failed_at,
        **common,
    )
    return True


async def record_payment_failure(session: AsyncSession, *, user: User, failed_at: datetime) -> Subscription:
    """Note a failed renewal payment; access continues until `expires_at` while the provider retries."""
    subscription = await get_subscription(session, user=user)
    subscription.payment_failed_at = failed_at
    await session.flush()
    return subscription


async def expire_lapsed(session: AsyncSession, *, now: datetime) -> int:
    """Drop every paid subscription past its expiry to free (row and user alike); returns the count."""
    rows = await session.execute(
        select(Subscription, User)
        .join(User, User.id == Subscription.user_id)
        .where(
            Subscription.status.in_(("active", "canceled")),
            Subscription.expires_at.is_not(None),
            Subscription.expires_at <= now,
            Subscription.tier != "free",
        )
        .order_by(Subscription.user_id)
        .with_for_update(of=Subscription)
    )
    count = 0
    for subscription, user in rows.all():
        await write_subscription(
            session,
            user=user,
            subscription=subscription,
            source="job",
            now=now,
            tier="free",
            status="expired",
        )
        count += 1
    return count


async def count_disagreements(session: AsyncSession) -> int:
    """How many users' tier or expiry differ from their subscription row (the invariant says 0)."""
    statement = (
        select(func.count())
        .select_from(User)
        .outerjoin(Subscription, Subscription.user_id == User.id)
        .where(
            or_(
                Subscription.id.is_(None),
                Subscription.tier != User.subscription_tier,
                Subscription.expires_at.is_distinct_from(User.subscription_expires_at),
            )
        )
    )
    return int(await session.scalar(statement) or 0)
