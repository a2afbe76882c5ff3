"""Billing endpoints: the learner's subscription, Stripe checkout and webhooks, the admin override."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from companion.accounts.models import User
from companion.accounts.policies import AccountOwnerDep, AdminDep, PublicDep, ReaderDep
from companion.billing import payments
from companion.billing import service as billing_service
from companion.billing import webhooks as billing_webhooks
from companion.billing.dependencies import StripeGatewayDep
from companion.billing.models import Subscription
from companion.billing.schemas import (
    CheckoutRequest,
    CheckoutSession,
    SubscriptionRead,
    SubscriptionUpdate,
    WebhookReceipt,
)
from companion.billing.stripe_gateway import verify_event
from companion.dependencies import SessionDep, SettingsDep

# Statuses the billing services raise past the policy, documented on every billing route.
router = APIRouter(
    prefix="/api/v1",
    tags=["billing"],
    responses={
        400: {"description": "invalid_signature: a webhook delivery whose Stripe signature does not verify."},
        404: {"description": "not_found: no such learner."},
        409: {"description": "conflict: a plan change the subscription rules do not allow."},
        503: {"description": "service_unavailable: payments are not configured, or Stripe is unreachable."},
    },
)


def _read(user: User, subscription: Subscription) -> SubscriptionRead:
    return SubscriptionRead.model_validate(
        {
            **{
                name: getattr(subscription, name)
                for name in SubscriptionRead.model_fields
                if name != "effective_tier"
            },
            "effective_tier": billing_service.effective_tier(user),
        }
    )


@router.get("/subscription", response_model=SubscriptionRead)
async def read_subscription(reader: ReaderDep, session: SessionDep) -> SubscriptionRead:
    """The signed-in learner's plan, the tier usable now, and when it ends or renews."""
    return _read(reader.user, await billing_service.get_subscription(session, user=reader.user))


@router.post("/subscription/checkout", response_model=CheckoutSession)
async def checkout(
    data: CheckoutRequest,
    owner: AccountOwnerDep,
    session: SessionDep,
    settings: SettingsDep,
    gateway: StripeGatewayDep,
) -> CheckoutSession:
    """Start paying for a higher plan: returns a Stripe Checkout URL (503 when payments are off)."""
    return await payments.start_checkout(
        session, user=owner.user, tier=data.tier, seats=data.seats, gateway=gateway, settings=settings
    )


@router.post("/subscription/cancel", response_model=SubscriptionRead)
async def cancel_subscription(
    owner: AccountOwnerDep, session: SessionDep, gateway: StripeGatewayDep
) -> SubscriptionRead:
    """Stop renewing: the plan stays until `expires_at`, then drops to free (on free: nothing to do)."""
    subscription = await payments.cancel_subscription(session, user=owner.user, gateway=gateway)
    return _read(owner.user, subscription)


@router.post("/billing/stripe/webhook", response_model=WebhookReceipt)
async def stripe_webhook(
    request: Request,
    _public: PublicDep,
    session: SessionDep,
    settings: SettingsDep,
    gateway: StripeGatewayDep,
) -> WebhookReceipt:
    """Stripe's event deliveries: verified by signature, applied once per event id, in event order."""
    event = verify_event(
        await request.body(), request.headers.get("stripe-signature"), secret=settings.stripe_webhook_secret
    )
    outcome, _user = await billing_webhooks.handle_event(
        session, event=event, gateway=gateway, settings=settings
    )
    return WebhookReceipt(outcome=outcome)


@router.put("/admin/users/{user_id}/subscription", response_model=SubscriptionRead)
async def admin_set_subscription(
    user_id: uuid.UUID, data: SubscriptionUpdate, admin: AdminDep, session: SessionDep
) -> SubscriptionRead:
    """Set a learner's plan by hand (the same rules as everywhere: no direct pro → free)."""
    user = await billing_service.get_user(session, user_id)
    subscription = await billing_service.change_tier(
        session, user=user, tier=data.tier, expires_at=data.expires_at, seats=data.seats, source="admin"
    )
    return _read(user, subscription)
