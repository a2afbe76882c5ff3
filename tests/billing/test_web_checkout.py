"""Buying a plan from the web plans page: Stripe Checkout when configured, an honest note when not."""

from __future__ import annotations

import httpx

from tests.billing.conftest import FakeStripe
from tests.web.helpers import HTML, csrf, web_sign_up


async def test_plans_page_without_payments_offers_no_checkout(client: httpx.AsyncClient) -> None:
    await web_sign_up(client)
    page = await client.get("/upgrade", headers=HTML)
    assert page.status_code == 200
    assert "/upgrade/checkout" not in page.text and "Upgrade to" not in page.text
    assert "Online payment is not set up on this server" in page.text
    refused = await client.post(
        "/upgrade/checkout", data={"csrf_token": await csrf(client), "tier": "pro"}, headers=HTML
    )
    assert refused.status_code == 503 and "not configured" in refused.text


async def test_learner_buys_a_higher_plan_through_stripe_checkout(
    client: httpx.AsyncClient, fake_stripe: FakeStripe
) -> None:
    anonymous = await client.get("/upgrade", headers=HTML)
    assert "Sign in to upgrade" in anonymous.text and "/upgrade/checkout" not in anonymous.text

    email = await web_sign_up(client)
    page = await client.get("/upgrade", headers=HTML)
    assert "Upgrade to Pro" in page.text and "Upgrade to Free" not in page.text
    assert "Payment is by card through Stripe" in page.text

    token = await csrf(client)
    response = await client.post("/upgrade/checkout", data={"csrf_token": token, "tier": "pro"}, headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"].startswith("https://checkout.stripe.test/c/pay/cs_test_")
    method, path, form = fake_stripe.requests[-1]
    assert (method, path) == ("POST", "/v1/checkout/sessions")
    assert form["metadata[tier]"] == "pro" and form["customer_email"] == email

    # A team plan needs its seats; a missing CSRF token is refused before Stripe is asked.
    asked = len(fake_stripe.requests)
    no_seats = await client.post(
        "/upgrade/checkout", data={"csrf_token": token, "tier": "team"}, headers=HTML
    )
    assert no_seats.status_code == 422 and "seats" in no_seats.text
    forged = await client.post("/upgrade/checkout", data={"tier": "pro"}, headers=HTML)
    assert forged.status_code == 403
    assert len(fake_stripe.requests) == asked

    team = await client.post(
        "/upgrade/checkout", data={"csrf_token": token, "tier": "team", "seats": "3"}, headers=HTML
    )
    assert team.status_code == 303 and fake_stripe.requests[-1][2]["line_items[0][quantity]"] == "3"

    back = await client.get("/account?checkout=success", headers=HTML)
    assert "your payment went through" in back.text
    cancelled = await client.get("/upgrade?checkout=canceled", headers=HTML)
    assert "nothing was charged" in cancelled.text
