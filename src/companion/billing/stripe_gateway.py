"""The Stripe boundary: Checkout sessions, subscription reads and cancels, webhook verification."""

from __future__ import annotations

from typing import Any

from companion.billing.exceptions import InvalidSignature, PaymentProviderError, PaymentsNotConfigured
from companion.config import Settings


class StripeGateway:
    """Stripe's API through the official client (async, over httpx)."""

    def __init__(self, *, secret_key: str, api_base: str | None = None) -> None:
        # The SDK (about 10 MB with its imports) is loaded by servers that take payments, not by all.
        import stripe

        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=stripe.HTTPXClient(),
            max_network_retries=2,
        )
        self._stripe_error = stripe.StripeError

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeGateway | None:
        """A gateway when a secret key is configured, else None."""
        if not settings.stripe_secret_key:
            return None
        return cls(secret_key=settings.stripe_secret_key, api_base=settings.stripe_api_base)

    async def create_checkout_session(self, params: dict[str, Any]) -> dict[str, Any]:
        """Create a Checkout session; returns its id and url."""
        try:
            session = await self._client.v1.checkout.sessions.create_async(params)  # type: ignore[arg-type]
        except self._stripe_error as error:
            raise PaymentProviderError(
                f"Stripe refused the checkout: {error.user_message or error}"
            ) from error
        return {"id": session.id, "url": session.url}

    async def retrieve_subscription(self, subscription_id: str) -> dict[str, Any]:
        """A Stripe subscription as a plain dict."""
        try:
            subscription = await self._client.v1.subscriptions.retrieve_async(subscription_id)
        except self._stripe_error as error:
            raise PaymentProviderError(
                f"Stripe could not be asked about the subscription: {error}"
            ) from error
        return subscription.to_dict()

    async def cancel_at_period_end(self, subscription_id: str) -> dict[str, Any]:
        """Ask Stripe to end a subscription when its paid period ends."""
        try:
            subscription = await self._client.v1.subscriptions.update_async(
                subscription_id, {"cancel_at_period_end": True}
            )
        except self._stripe_error as error:
            raise PaymentProviderError(f"Stripe could not cancel the subscription: {error}") from error
        return subscription.to_dict()


def require_gateway(gateway: StripeGateway | None) -> StripeGateway:
    """The gateway, or a clear 503 when payments are not configured."""
    if gateway is None:
        raise PaymentsNotConfigured(
            "Payments are not configured on this server (COMPANION_STRIPE_SECRET_KEY is not set); "
            "an administrator can change plans instead."
        )
    return gateway


def verify_event(payload: bytes, signature: str | None, *, secret: str | None) -> dict[str, Any]:
    """A webhook event whose Stripe-Signature verifies against the secret; InvalidSignature otherwise."""
    if not secret:
        raise PaymentsNotConfigured(
            "Stripe webhooks are not configured on this server (COMPANION_STRIPE_WEBHOOK_SECRET is not set)."
        )
    import stripe

    try:
        event = stripe.Webhook.construct_event(payload, signature, secret)
    except stripe.SignatureVerificationError as error:
        raise InvalidSignature(
            f"The Stripe signature does not verify: {error.user_message or error}"
        ) from error
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidSignature("The webhook body is not a Stripe event.") from error
    body: dict[str, Any] = event.to_dict()
    if not isinstance(body.get("id"), str) or not isinstance(body.get("type"), str):
        raise InvalidSignature("The webhook body is not a Stripe event.")
    return body
