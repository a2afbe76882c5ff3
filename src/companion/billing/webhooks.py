"""Stripe webhook events applied to subscriptions: once per event id, never older over newer."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from companion.accounts.models import User
from companion.billing import service as billing_service
from companion.billing.models import BillingEvent
from companion.billing.stripe_gateway import StripeGateway, require_gateway
from companion.config import Settings

logger = logging.getLogger(__name__)

PROVIDER = "stripe"
HANDLED = (
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.payment_failed",
)
# Stripe statuses that still grant the tier (past_due: Stripe is retrying; access lasts to period end).
_LIVE_STATUSES = ("active", "trialing", "past_due", "unpaid")
_ENDED_STATUSES = ("canceled", "incomplete_expired")


def _timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if isinstance(value, int | float) else None


def _period_end(subscription: dict[str, Any]) -> datetime | None:
    # API versions from 2025-03-31 carry the period on each item rather than on the subscription.
    items = (subscription.get("items") or {}).get("data") or []
    candidates = [subscription.get("current_period_end"), *(item.get("current_period_end") for item in items)]
    found = [stamp for stamp in map(_timestamp, candidates) if stamp is not None]
    return max(found) if found else None


def _tier_and_seats(subscription: dict[str, Any], settings: Settings) -> tuple[str | None, int | None]:
    items = (subscription.get("items") or {}).get("data") or []
    by_price = {settings.stripe_price(tier): tier for tier in billing_service.PAID_TIERS}
    for item in items:
        tier = by_price.get((item.get("price") or {}).get("id"))
        if tier is not None:
            return tier, item.get("quantity") or 1
    tier = (subscription.get("metadata") or {}).get("tier")
    seats = (items[0].get("quantity") if items else None) or 1
    return (tier if tier in billing_service.PAID_TIERS else None), seats


async def _user_for(session: AsyncSession, *, user_id: Any, payment_id: str | None) -> User | None:
    if payment_id:
        found = await billing_service.find_by_payment_id(session, provider=PROVIDER, payment_id=payment_id)
        if found is not None:
            return found[0]
    try:
        return await session.get(User, uuid.UUID(str(user_id))) if user_id else None
    except ValueError:
        return None


async def _apply_subscription(
    session: AsyncSession,
    *,
    subscription: dict[str, Any],
    user_id: Any,
    event_at: datetime,
    deleted: bool,
    settings: Settings,
) -> tuple[str, User | None]:
    payment_id = subscription.get("id")
    metadata = subscription.get("metadata") or {}
    user = await _user_for(session, user_id=user_id or metadata.get("user_id"), payment_id=payment_id)
    tier, seats = _tier_and_seats(subscription, settings)
    if user is None or not isinstance(payment_id, str) or tier is None:
        return "ignored", user
    status = subscription.get("status")
    if deleted or status in _ENDED_STATUSES:
        state: billing_service.ProviderState = "ended"
    elif status in _LIVE_STATUSES:
        state = "canceled" if subscription.get("cancel_at_period_end") else "active"
    else:  # incomplete: the first payment has not gone through yet
        return "ignored", user
    customer = subscription.get("customer")
    update = billing_service.ProviderUpdate(
        provider=PROVIDER,
        payment_id=payment_id,
        customer_id=customer if isinstance(customer, str) else None,
        tier=tier,
        state=state,
        period_end=_period_end(subscription),
        seats=seats if tier == "team" else None,
        event_at=event_at,
    )
    applied = await billing_service.apply_provider_update(session, user=user, update=update)
    return ("applied" if applied else "stale"), user


async def _dispatch(
    session: AsyncSession,
    *,
    event: dict[str, Any],
    event_at: datetime,
    gateway: StripeGateway | None,
    settings: Settings,
) -> tuple[str, User | None]:
    kind = event["type"]
    obj: dict[str, Any] = (event.get("data") or {}).get("object") or {}
    if kind == "checkout.session.completed":
        if obj.get("mode") != "subscription" or not obj.get("subscription"):
            return "ignored", None
        if obj.get("payment_status") not in ("paid", "no_payment_required"):
            return "ignored", None
        subscription_id = obj["subscription"]
        if isinstance(subscription_id, dict):  # expanded
            subscription = subscription_id
        else:
            subscription = await require_gateway(gateway).retrieve_subscription(str(subscription_id))
        metadata = {**(obj.get("metadata") or {}), **(subscription.get("metadata") or {})}
        subscription = {**subscription, "metadata": metadata}
        return await _apply_subscription(
            session,
            subscription=subscription,
            user_id=obj.get("client_reference_id"),
            event_at=event_at,
            deleted=False,
            settings=settings,
        )
    if kind.startswith("customer.subscription."):
        return await _apply_subscription(
            session,
            subscription=obj,
            user_id=None,
            event_at=event_at,
            deleted=kind == "customer.subscription.deleted",
            settings=settings,
        )
    if kind == "invoice.payment_failed":
        subscription_id = obj.get("subscription") or (
            ((obj.get("parent") or {}).get("subscription_details") or {}).get("subscription")
        )
        found = (
            await billing_service.find_by_payment_id(
                session, provider=PROVIDER, payment_id=str(subscription_id)
            )
            if subscription_id
            else None
        )
        if found is None:
            return "ignored", None
        await billing_service.record_payment_failure(session, user=found[0], failed_at=event_at)
        return "applied", found[0]
    return "ignored", None


async def handle_event(
    session: AsyncSession, *, event: dict[str, Any], gateway: StripeGateway | None, settings: Settings
) -> tuple[str, User | None]:
    """Apply one verified event once: returns the outcome (applied, stale, ignored, duplicate) and user."""
    event_id = event["id"]
    if await session.get(BillingEvent, event_id) is not None:
        return "duplicate", None
    event_at = _timestamp(event.get("created")) or datetime.now(UTC)
    record = BillingEvent(
        event_id=event_id, provider=PROVIDER, event_type=event["type"], created_at=event_at, outcome="pending"
    )
    try:
        # Claimed before it is applied: a concurrent delivery of the same event waits here, then fails.
        async with session.begin_nested():
            session.add(record)
    except IntegrityError:
        return "duplicate", None
    outcome, user = await _dispatch(
        session, event=event, event_at=event_at, gateway=gateway, settings=settings
    )
    record.outcome = outcome
    record.user_id = user.id if user is not None else None
    await session.flush()
    logger.info("stripe event %s (%s): %s", event_id, event["type"], outcome)
    return outcome, user
