"""Sign-up, sign-in, tokens and the errors a real client meets."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from companion.accounts import security
from tests.conftest import SignUp


async def test_register_login_me_round_trip(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    tokens = await sign_up(email="Ada@Example.COM", timezone="Europe/Berlin")
    assert tokens["user"]["email"] == "ada@example.com"
    assert tokens["user"]["subscription_tier"] == "free"
    assert "password_hash" not in tokens["user"]

    login = await client.post(
        "/api/v1/auth/login", json={"email": "ADA@example.com", "password": tokens["password"]}
    )
    assert login.status_code == 200
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"})
    assert me.status_code == 200
    assert me.json()["timezone"] == "Europe/Berlin"
    assert me.headers["x-request-id"]


async def test_duplicate_email_is_conflict_whatever_the_case(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    await sign_up(email="dup@example.com")
    response = await client.post(
        "/api/v1/auth/register",
        json={
            "email": "DUP@example.com",
            "password": "another password",
            "software_experience": "advanced",
            "hardware_experience": "hobbyist",
        },
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("password", "short"),
        ("email", "not-an-email"),
        ("timezone", "Mars/Olympus_Mons"),
        ("software_experience", "wizard"),
        ("hardware_experience", "expert"),
    ],
)
async def test_bad_sign_up_names_the_field(client: httpx.AsyncClient, field: str, value: str) -> None:
    body = {
        "email": "new@example.com",
        "password": "long enough password",
        "timezone": "UTC",
        "software_experience": "beginner",
        "hardware_experience": "none",
        field: value,
    }
    response = await client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["message"]
    assert any(problem["field"] == field for problem in error["details"]["errors"])


async def test_wrong_password_and_unknown_email_look_the_same(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    await sign_up(email="known@example.com")
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": "known@example.com", "password": "nope nope"}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": "ghost@example.com", "password": "nope nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_repeated_failed_logins_are_rate_limited(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    tokens = await sign_up(email="target@example.com")
    body = {"email": "target@example.com", "password": "wrong password"}
    statuses = [(await client.post("/api/v1/auth/login", json=body)).status_code for _ in range(7)]
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429, 429]
    limited = await client.post("/api/v1/auth/login", json={**body, "password": tokens["password"]})
    assert limited.json()["error"]["code"] == "rate_limited"
    # Another account from the same address is unaffected.
    await sign_up(email="other@example.com")
    other = await client.post(
        "/api/v1/auth/login", json={"email": "other@example.com", "password": "wrong password"}
    )
    assert other.status_code == 401


async def test_refresh_rotates_and_reuse_revokes_the_family(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    tokens = await sign_up()
    first = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh_token"] != tokens["refresh_token"]

    # The old refresh token no longer works, and presenting it ends the rotated login too.
    reuse = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert reuse.status_code == 401
    after = await client.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert after.status_code == 401


async def test_logout_revokes_refresh_and_access(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    tokens = await sign_up()
    assert (
        await client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    ).status_code == 204
    again = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert again.status_code == 401
    me = await client.get("/api/v1/me", headers=tokens["headers"])
    assert me.status_code == 401


async def test_expired_and_forged_tokens_are_refused(
    client: httpx.AsyncClient, sign_up: SignUp, settings
) -> None:  # type: ignore[no-untyped-def]
    tokens = await sign_up()
    user_id = tokens["user"]["id"]
    import uuid

    expired, _ = security.create_access_token(
        user_id=uuid.UUID(user_id),
        role="learner",
        secret=settings.signing_secret(),
        algorithm="HS256",
        lifetime=timedelta(seconds=-5),
    )
    forged, _ = security.create_access_token(
        user_id=uuid.UUID(user_id),
        role="admin",
        secret="someone-elses-secret-" + "y" * 30,
        algorithm="HS256",
        lifetime=timedelta(minutes=5),
    )
    for token in (expired, forged, "garbage"):
        response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_secrets_never_reach_the_logs(
    client: httpx.AsyncClient, sign_up: SignUp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tokens = await sign_up(password="super secret password")
    await client.post(
        "/api/v1/auth/login", json={"email": tokens["user"]["email"], "password": "super secret password"}
    )
    await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "super secret password" not in logged
    assert tokens["refresh_token"] not in logged
    assert tokens["access_token"] not in logged


@pytest.mark.parametrize(
    "claims",
    [
        {"sid": "not-a-uuid"},
        {"scope": 7},
        {"scope": ["content:read"]},
        {"sid": 12},
        {"sub": None},
        {"sub": 42},
        {"sub": "not-a-uuid"},
        {"type": None},
    ],
    ids=str,
)
async def test_validly_signed_tokens_with_malformed_claims_are_refused(
    client: httpx.AsyncClient, sign_up: SignUp, settings: Any, claims: dict[str, Any]
) -> None:
    tokens = await sign_up()
    payload: dict[str, Any] = {
        "sub": tokens["user"]["id"],
        "type": "access",
        "exp": datetime.now(UTC) + timedelta(minutes=5),
        **claims,
    }
    token = jwt.encode(
        {key: value for key, value in payload.items() if value is not None},
        settings.signing_secret(),
        algorithm=settings.jwt_algorithm,
    )
    for path in ("/api/v1/me", "/api/v1/courses/genai-fundamentals"):
        response = await client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (path, response.text)
        assert response.json()["error"]["code"] == "unauthorized"
