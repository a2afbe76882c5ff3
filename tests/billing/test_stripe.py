"""Stripe: checkout against a fake Stripe API, signed webhooks applied once and in event order."""

from __future__ import annotations

import time
import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from companion.billing.models import BillingEvent
from tests.billing.conftest import FakeStripe, assert_invariant, deliver, event, signed, state
from tests.conftest import SignUp

WEBHOOK = "/api/v1/billing/stripe/webhook"


async def test_checkout_is_503_until_payments_are_configured(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    learner = await sign_up()
    response = await client.post(
        "/api/v1/subscription/checkout", json={"tier": "pro"}, headers=learner["headers"]
    )
    assert response.status_code == 503
    assert "not configured" in response.json()["error"]["message"]
    unsigned = await client.post(WEBHOOK, content=b"{}")
    assert unsigned.status_code == 503
    mine = await client.get("/api/v1/subscription", headers=learner["headers"])
    assert mine.status_code == 200 and mine.json()["tier"] == "free"


async def test_checkout_creates_a_session_for_the_tier_price(
    client: httpx.AsyncClient, sign_up: SignUp, fake_stripe: FakeStripe
) -> None:
    learner = await sign_up()
    response = await client.post(
        "/api/v1/subscription/checkout", json={"tier": "pro"}, headers=learner["headers"]
    )
    assert response.status_code == 200, response.text
    assert response.json()["checkout_url"].startswith("https://checkout.stripe.test/")
    method, path, form = fake_stripe.requests[-1]
    assert (method, path) == ("POST", "/v1/checkout/sessions")
    assert form["client_reference_id"] == learner["user"]["id"]
    assert form["metadata[tier]"] == "pro"
    assert form["line_items[0][price]"] == "price_pro_test"
    assert form["mode"] == "subscription"
    assert form["subscription_data[metadata][user_id]"] == learner["user"]["id"]

    team_without_seats = await client.post(
        "/api/v1/subscription/checkout", json={"tier": "team"}, headers=learner["headers"]
    )
    assert team_without_seats.status_code == 422
    unknown = await client.post(
        "/api/v1/subscription/checkout", json={"tier": "gold"}, headers=learner["headers"]
    )
    assert unknown.status_code == 422
    free = await client.post(
        "/api/v1/subscription/checkout", json={"tier": "free"}, headers=learner["headers"]
    )
    assert free.status_code == 422


async def test_signed_events_apply_once_and_in_order(
    app: FastAPI,
    client: httpx.AsyncClient,
    sign_up: SignUp,
    fake_stripe: FakeStripe,
    db_session: AsyncSession,
) -> None:
    learner = await sign_up()
    user_id = learner["user"]["id"]
    now = int(time.time())
    subscription = fake_stripe.add_subscription(user_id=user_id, tier="pro", period_end=now + 30 * 86400)
    completed = event(
        "checkout.session.completed",
        {
            "id": "cs_test_1",
            "object": "checkout.session",
            "mode": "subscription",
            "payment_status": "paid",
            "client_reference_id": user_id,
            "customer": "cus_test123",
            "subscription": subscription["id"],
            "metadata": {"tier": "pro"},
        },
        created=now - 10,
    )

    # A wrong signature, a missing one, and one from another secret change nothing.
    payload, headers = signed(completed, secret="whsec_someone_else")
    for bad_headers in (headers, {"Stripe-Signature": "t=1,v1=deadbeef"}, {}):
        bad = await client.post(WEBHOOK, content=payload, headers=bad_headers)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_signature"
    assert await state(app, user_id) == ("free", "free", "active")

    applied = await deliver(client, completed)
    assert applied.status_code == 200 and applied.json()["outcome"] == "applied", applied.text
    assert await state(app, user_id) == ("pro", "pro", "active")
    assert ("GET", f"/v1/subscriptions/{subscription['id']}") in [(m, p) for m, p, _ in fake_stripe.requests]

    # A replay is a 200 that changes nothing.
    replay = await deliver(client, completed)
    assert replay.status_code == 200 and replay.json()["outcome"] == "duplicate"

    # Out of order: the deletion (t=+20) arrives before an older update (t=+5), which must not revive it.
    deleted = event("customer.subscription.deleted", {**subscription, "status": "canceled"}, created=now + 20)
    older_update = event("customer.subscription.updated", subscription, created=now + 5)
    assert (await deliver(client, deleted)).json()["outcome"] == "applied"
    assert await state(app, user_id) == ("free", "free", "expired")
    assert (await deliver(client, older_update)).json()["outcome"] == "stale"
    assert await state(app, user_id) == ("free", "free", "expired")
    await assert_invariant(db_session)
    recorded = await db_session.scalar(select(func.count()).select_from(BillingEvent))
    assert recorded == 3


async def test_update_before_checkout_event_and_payment_failure(
    app: FastAPI,
    client: httpx.AsyncClient,
    sign_up: SignUp,
    fake_stripe: FakeStripe,
    db_session: AsyncSession,
) -> None:
    learner = await sign_up()
    user_id = learner["user"]["id"]
    now = int(time.time())
    subscription = fake_stripe.add_subscription(
        user_id=user_id, tier="team", period_end=now + 30 * 86400, quantity=5
    )
    # The subscription event overtakes checkout.session.completed: metadata ties it to the learner.
    assert (await deliver(client, event("customer.subscription.created", subscription, created=now))).json()[
        "outcome"
    ] == "applied"
    assert await state(app, user_id) == ("team", "team", "active")
    late_checkout = event(
        "checkout.session.completed",
        {
            "object": "checkout.session",
            "mode": "subscription",
            "payment_status": "paid",
            "client_reference_id": user_id,
            "subscription": subscription["id"],
        },
        created=now - 5,
    )
    assert (await deliver(client, late_checkout)).json()["outcome"] == "stale"
    mine = (await client.get("/api/v1/subscription", headers=learner["headers"])).json()
    assert mine["seats"] == 5 and mine["auto_renew"] is True and mine["payment_provider"] == "stripe"

    failed = event(
        "invoice.payment_failed",
        {"object": "invoice", "parent": {"subscription_details": {"subscription": subscription["id"]}}},
        created=now + 1,
    )
    assert (await deliver(client, failed)).json()["outcome"] == "applied"
    mine = (await client.get("/api/v1/subscription", headers=learner["headers"])).json()
    assert mine["payment_failed_at"] is not None and mine["effective_tier"] == "team"

    # Cancelling asks Stripe to stop renewing; the plan lasts until the period's end.
    canceled = await client.post("/api/v1/subscription/cancel", headers=learner["headers"])
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled" and canceled.json()["effective_tier"] == "team"
    method, path, form = fake_stripe.requests[-1]
    assert (method, path, form) == (
        "POST",
        f"/v1/subscriptions/{subscription['id']}",
        {"cancel_at_period_end": "true"},
    )
    unknown = event("customer.subscription.updated", {**subscription, "id": "sub_nobody", "metadata": {}})
    assert (await deliver(client, unknown)).json()["outcome"] == "ignored"
    garbage, headers = signed({"id": "evt_x", "object": "event", "type": "ping", "data": {"object": {}}})
    assert (await client.post(WEBHOOK, content=garbage, headers=headers)).json()["outcome"] == "ignored"
    assert uuid.UUID(user_id)
    await assert_invariant(db_session)
