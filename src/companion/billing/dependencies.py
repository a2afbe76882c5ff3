"""The Stripe gateway as a request dependency (one per process, built from the app's settings)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from companion.billing.stripe_gateway import StripeGateway


async def get_stripe_gateway(request: Request) -> StripeGateway | None:
    """The process's Stripe gateway, or None when payments are not configured."""
    settings = request.app.state.settings
    key = (settings.stripe_secret_key, settings.stripe_api_base)
    cached: tuple[tuple[str | None, str | None], StripeGateway | None] | None = getattr(
        request.app.state, "stripe_gateway", None
    )
    if cached is None or cached[0] != key:
        cached = (key, StripeGateway.from_settings(settings))
        request.app.state.stripe_gateway = cached
    return cached[1]


StripeGatewayDep = Annotated[StripeGateway | None, Depends(get_stripe_gateway)]
