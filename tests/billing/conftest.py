"""A fake Stripe API on a local port (the stripe client's api base points at it) and signed events."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import stripe
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from companion.accounts.models import User
from companion.billing import service as billing_service
from companion.config import Settings

WEBHOOK_SECRET = "whsec_test_" + "s" * 24
PRICES = {"premium": "price_premium_test", "pro": "price_pro_test", "team": "price_team_test"}


@dataclass
class FakeStripe:
    """Stripe's API as far as the service uses it: requests are recorded, subscriptions kept."""

    base_url: str = ""
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add_subscription(
        self, *, user_id: str, tier: str, period_end: int, status: str = "active", quantity: int = 1
    ) -> dict[str, Any]:
        """A subscription Stripe knows about, as its API returns it (period on the item)."""
        subscription_id = f"sub_{uuid.uuid4().hex[:14]}"
        subscription = {
            "id": subscription_id,
            "object": "subscription",
            "customer": "cus_test123",
            "status": status,
            "cancel_at_period_end": False,
            "metadata": {"tier": tier, "user_id": user_id},
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": "si_1",
                        "object": "subscription_item",
                        "price": {"id": PRICES[tier], "object": "price"},
                        "quantity": quantity,
                        "current_period_end": period_end,
                    }
                ],
            },
        }
        self.subscriptions[subscription_id] = subscription
        return subscription


def _handler(fake: FakeStripe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            return

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _form(self) -> dict[str, str]:
            length = int(self.headers.get("Content-Length") or 0)
            return dict(parse_qsl(self.rfile.read(length).decode()))

        def do_GET(self) -> None:
            fake.requests.append(("GET", self.path, {"authorization": self.headers["Authorization"]}))
            if self.path.startswith("/v1/subscriptions/"):
                found = fake.subscriptions.get(self.path.rsplit("/", 1)[1])
                if found is not None:
                    return self._reply(200, found)
            self._reply(404, {"error": {"type": "invalid_request_error", "message": "No such object"}})

        def do_POST(self) -> None:
            form = self._form()
            fake.requests.append(("POST", self.path, form))
            if self.path == "/v1/checkout/sessions":
                session_id = f"cs_test_{uuid.uuid4().hex[:10]}"
                return self._reply(
                    200,
                    {
                        "id": session_id,
                        "object": "checkout.session",
                        "url": f"https://checkout.stripe.test/c/pay/{session_id}",
                    },
                )
            if self.path.startswith("/v1/subscriptions/"):
                found = fake.subscriptions.get(self.path.rsplit("/", 1)[1])
                if found is not None:
                    found["cancel_at_period_end"] = form.get("cancel_at_period_end") == "true"
                    return self._reply(200, found)
            self._reply(404, {"error": {"type": "invalid_request_error", "message": "No such object"}})

    return Handler


@pytest.fixture
def fake_stripe(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStripe]:
    """Payments configured against a fake Stripe API for one test."""
    fake = FakeStripe()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(settings, "stripe_secret_key", "sk_test_fake")
    monkeypatch.setattr(settings, "stripe_webhook_secret", WEBHOOK_SECRET)
    monkeypatch.setattr(settings, "stripe_api_base", fake.base_url)
    for tier, price in PRICES.items():
        monkeypatch.setattr(settings, f"stripe_price_{tier}", price)
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def signed(event: dict[str, Any], *, secret: str = WEBHOOK_SECRET) -> tuple[bytes, dict[str, str]]:
    """An event body and the Stripe-Signature header Stripe would send with it."""
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, secret)
    return payload.encode(), {"Stripe-Signature": header, "Content-Type": "application/json"}


def event(kind: str, obj: dict[str, Any], *, created: int | None = None) -> dict[str, Any]:
    """A Stripe event envelope."""
    return {
        "id": f"evt_{uuid.uuid4().hex[:16]}",
        "object": "event",
        "type": kind,
        "created": created if created is not None else int(time.time()),
        "data": {"object": obj},
    }


async def deliver(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    """Post a correctly signed event to the webhook."""
    payload, headers = signed(body)
    return await client.post("/api/v1/billing/stripe/webhook", content=payload, headers=headers)


async def state(app: FastAPI, user_id: str) -> tuple[str, str, str]:
    """(users.subscription_tier, subscriptions.tier, subscriptions.status), read fresh."""
    async with app.state.sessionmaker() as session:
        user = await session.get(User, uuid.UUID(user_id))
        assert user is not None
        subscription = await billing_service.get_subscription(session, user=user)
        return user.subscription_tier, subscription.tier, subscription.status


async def assert_invariant(session: AsyncSession) -> None:
    """users.subscription_tier and expiry agree with every subscription row."""
    assert await billing_service.count_disagreements(session) == 0
