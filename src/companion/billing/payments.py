"""Paying through Stripe: starting a Checkout session and cancelling at the end of the paid period."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from companion.accounts.models import User
from companion.billing import service as billing_service
from companion.billing.exceptions import PaymentsNotConfigured
from companion.billing.models import Subscription
from companion.billing.schemas import CheckoutSession
from companion.billing.stripe_gateway import StripeGateway, require_gateway
from companion.billing.webhooks import PROVIDER
from companion.config import Settings
from companion.errors import Conflict, ValidationFailed


async def start_checkout(
    session: AsyncSession,
    *,
    user: User,
    tier: str,
    seats: int | None,
    gateway: StripeGateway | None,
    settings: Settings,
) -> CheckoutSession:
    """A Stripe Checkout session for the tier's price, tied to the user by `client_reference_id`."""
    if tier not in billing_service.PAID_TIERS:
        raise ValidationFailed(
            "Checkout is for a paid plan.", details={"tiers": list(billing_service.PAID_TIERS)}
        )
    gateway = require_gateway(gateway)
    price = settings.stripe_price(tier)
    if not price:
        raise PaymentsNotConfigured(
            f"The {tier} plan cannot be bought on this server yet (COMPANION_STRIPE_PRICE_{tier.upper()} "
            "is not set)."
        )
    current = billing_service.effective_tier(user)
    if billing_service.TIER_ORDER[tier] <= billing_service.TIER_ORDER[current]:
        raise Conflict(
            f"You already have the {current} plan; checkout is for moving up to a higher plan.",
            details={"current_tier": current, "requested_tier": tier},
        )
    if tier == "team" and seats is None:
        raise ValidationFailed("A team plan needs a number of seats.", details={"seats": None})
    subscription = await billing_service.get_subscription(session, user=user)
    metadata = {"tier": tier, "user_id": str(user.id)}
    base = settings.public_base_url.rstrip("/")
    params: dict[str, object] = {
        "mode": "subscription",
        "line_items": [{"price": price, "quantity": seats if tier == "team" else 1}],
        "client_reference_id": str(user.id),
        "metadata": metadata,
        "subscription_data": {"metadata": metadata},
        "success_url": f"{base}/account?checkout=success&session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{base}/upgrade?checkout=canceled",
    }
    if subscription.provider_customer_id:
        params["customer"] = subscription.provider_customer_id
    else:
        params["customer_email"] = user.email
    created = await gateway.create_checkout_session(params)
    return CheckoutSession(session_id=created["id"], checkout_url=created["url"])


async def cancel_subscription(
    session: AsyncSession, *, user: User, gateway: StripeGateway | None
) -> Subscription:
    """Cancel: Stripe stops renewing first, then the plan is marked to end at `expires_at`."""
    subscription = await billing_service.get_subscription(session, user=user)
    paid_with_stripe = (
        subscription.payment_provider == PROVIDER
        and subscription.payment_id is not None
        and subscription.status == "active"
        and billing_service.effective_tier(user) != "free"
    )
    if paid_with_stripe:
        assert subscription.payment_id is not None
        await require_gateway(gateway).cancel_at_period_end(subscription.payment_id)
    return await billing_service.cancel(session, user=user, now=datetime.now(UTC))
