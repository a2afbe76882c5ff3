"""Sign-in, sign-up and refresh limits: per address across accounts, per account across addresses."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from companion import cli
from companion.http_protocol import JsonErrorHttpToolsProtocol
from tests.conftest import SignUp

LOGIN = "/api/v1/auth/login"


def _from(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_one_address_cannot_spread_guesses_over_many_accounts(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.state.settings, "login_failures_per_address_per_minute", 4)
    async with _from(app, "203.0.113.7") as attacker, _from(app, "198.51.100.2") as neighbour:
        statuses = [
            (await attacker.post(LOGIN, json={"email": f"v{n}@example.com", "password": "guess"})).status_code
            for n in range(6)
        ]
        assert statuses == [401] * 4 + [429] * 2
        # A forged forwarding header changes nothing: only a configured proxy is believed.
        forged = await attacker.post(
            LOGIN,
            json={"email": "fresh@example.com", "password": "guess"},
            headers={"X-Forwarded-For": "192.0.2.99"},
        )
        assert forged.status_code == 429 and forged.json()["error"]["code"] == "rate_limited"
        assert forged.headers["retry-after"] == "60"
        other = await neighbour.post(LOGIN, json={"email": "v0@example.com", "password": "guess"})
        assert other.status_code == 401


async def test_many_addresses_cannot_share_the_guessing_of_one_account(
    client: httpx.AsyncClient, app: FastAPI, sign_up: SignUp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.state.settings, "login_failures_per_address_per_minute", 3)
    victim = await sign_up(email="victim@example.com")
    body = {"email": "victim@example.com", "password": "wrong guess"}
    statuses = []
    for n in range(5):
        async with _from(app, f"203.0.113.{n + 10}") as bot:
            statuses.append((await bot.post(LOGIN, json=body)).status_code)
    assert statuses == [401] * 3 + [429] * 2
    # The owner is held back for the minute too (the price of not letting guesses through).
    owner = await client.post(LOGIN, json={**body, "password": victim["password"]})
    assert owner.status_code == 429


async def test_sign_ups_and_refreshes_are_limited_per_address(
    client: httpx.AsyncClient, app: FastAPI, sign_up: SignUp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.state.settings, "signups_per_address_per_hour", 2)
    monkeypatch.setattr(app.state.settings, "refreshes_per_address_per_minute", 2)
    tokens = await sign_up()
    await sign_up()
    body: dict[str, Any] = {
        "email": "third@example.com",
        "password": "long enough password",
        "software_experience": "beginner",
        "hardware_experience": "none",
    }
    refused = await client.post("/api/v1/auth/register", json=body)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    async with _from(app, "198.51.100.9") as elsewhere:
        assert (await elsewhere.post("/api/v1/auth/register", json=body)).status_code == 201

    refresh = tokens["refresh_token"]
    for _ in range(2):
        rotated = await client.post("/api/v1/auth/refresh", json={"refresh_token": refresh})
        assert rotated.status_code == 200
        refresh = rotated.json()["refresh_token"]
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": refresh})).status_code == 429


def test_serve_believes_forwarded_headers_only_from_configured_proxies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(cli.uvicorn, "Config", lambda *args, **kwargs: calls.append(kwargs))
    monkeypatch.setattr(cli._AnnouncingServer, "__init__", lambda self, config: None)
    monkeypatch.setattr(cli._AnnouncingServer, "run", lambda self: None)
    runner = CliRunner()
    assert runner.invoke(cli.app, ["serve", "--no-prepare"]).exit_code == 0
    assert runner.invoke(cli.app, ["serve", "--no-prepare", "--trusted-proxy", "10.0.0.2"]).exit_code == 0
    assert calls[0]["proxy_headers"] is False
    assert calls[0]["http"] is JsonErrorHttpToolsProtocol
    assert (calls[1]["proxy_headers"], calls[1]["forwarded_allow_ips"]) == (True, "10.0.0.2")
