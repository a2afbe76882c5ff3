"""Profile, password, API keys, export and deletion."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from companion.models import Subscription, User
from companion.recommendations.models import LearningPathRecommendation
from tests.conftest import SignUp


async def test_patch_me_validates_and_updates(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    tokens = await sign_up()
    headers = tokens["headers"]
    bad = await client.patch("/api/v1/me", json={"timezone": "Nowhere/Land"}, headers=headers)
    assert bad.status_code == 422 and "timezone" in bad.json()["error"]["message"]
    unknown = await client.patch("/api/v1/me", json={"role": "admin"}, headers=headers)
    assert unknown.status_code == 422
    ok = await client.patch(
        "/api/v1/me",
        json={"full_name": "Grace", "software_experience": "advanced", "preferences": {"language": "ur"}},
        headers=headers,
    )
    assert ok.status_code == 200
    body = ok.json()
    assert body["full_name"] == "Grace" and body["software_experience"] == "advanced"
    assert body["preferences"]["language"] == "ur" and body["preferences"]["notifications"] is True
    assert body["role"] == "learner"


@pytest.mark.parametrize("field", ["preferences", "timezone", "software_experience", "hardware_experience"])
async def test_patch_me_refuses_to_empty_a_field_that_always_holds_a_value(
    client: httpx.AsyncClient, sign_up: SignUp, field: str
) -> None:
    tokens = await sign_up(preferences={"language": "ur"})
    response = await client.patch("/api/v1/me", json={field: None}, headers=tokens["headers"])
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "validation_error",
        "message": f"'{field}' cannot be empty.",
        "details": {"field": field},
    }
    me = (await client.get("/api/v1/me", headers=tokens["headers"])).json()
    assert me["preferences"]["language"] == "ur" and me["timezone"] == "UTC"


async def test_background_change_retires_the_active_learning_path(
    client: httpx.AsyncClient, sign_up: SignUp, db_session: AsyncSession
) -> None:
    import uuid
    from datetime import UTC, datetime, timedelta

    tokens = await sign_up()
    user_id = uuid.UUID(tokens["user"]["id"])
    db_session.add(
        LearningPathRecommendation(
            user_id=user_id,
            course_id="genai-fundamentals",
            recommended_chapters=[],
            software_experience="beginner",
            hardware_experience="none",
            expires_at=datetime.now(UTC) + timedelta(days=7),
        )
    )
    await db_session.commit()
    await client.patch("/api/v1/me", json={"hardware_experience": "professional"}, headers=tokens["headers"])
    active = await db_session.scalar(
        select(func.count()).where(
            LearningPathRecommendation.user_id == user_id, LearningPathRecommendation.is_active
        )
    )
    assert active == 0


async def test_password_change_signs_out_other_logins(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    tokens = await sign_up()
    wrong = await client.post(
        "/api/v1/me/password",
        json={"current_password": "not it at all", "new_password": "brand new password"},
        headers=tokens["headers"],
    )
    assert wrong.status_code == 401
    changed = await client.post(
        "/api/v1/me/password",
        json={"current_password": tokens["password"], "new_password": "brand new password"},
        headers=tokens["headers"],
    )
    assert changed.status_code == 200
    assert (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    ).status_code == 401
    email = tokens["user"]["email"]
    old = await client.post("/api/v1/auth/login", json={"email": email, "password": tokens["password"]})
    new = await client.post("/api/v1/auth/login", json={"email": email, "password": "brand new password"})
    assert (old.status_code, new.status_code) == (401, 200)


async def test_api_keys_authenticate_until_revoked(client: httpx.AsyncClient, sign_up: SignUp) -> None:
    tokens = await sign_up()
    created = await client.post(
        "/api/v1/me/api-keys", json={"name": "Claude Desktop"}, headers=tokens["headers"]
    )
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("cc_")
    listed = await client.get("/api/v1/me/api-keys", headers=tokens["headers"])
    assert "key" not in listed.json()[0]
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200 and me.json()["id"] == tokens["user"]["id"]
    revoke = await client.delete(f"/api/v1/me/api-keys/{created.json()['id']}", headers=tokens["headers"])
    assert revoke.status_code == 204
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})).status_code == 401


async def test_export_then_delete_removes_everything(
    client: httpx.AsyncClient, sign_up: SignUp, db_session: AsyncSession
) -> None:
    tokens = await sign_up()
    await client.post("/api/v1/me/api-keys", json={"name": "script"}, headers=tokens["headers"])
    export = await client.get("/api/v1/me/export", headers=tokens["headers"])
    assert export.status_code == 200
    data = export.json()
    assert data["user"]["email"] == tokens["user"]["email"]
    assert "password_hash" not in data["user"]
    assert data["subscriptions"][0]["tier"] == "free"
    assert "key_hash" not in data["api_keys"][0]
    assert "token_hash" not in data["refresh_tokens"][0]

    assert (await client.delete("/api/v1/me", headers=tokens["headers"])).status_code == 204
    assert await db_session.scalar(select(func.count()).select_from(User)) == 0
    assert await db_session.scalar(select(func.count()).select_from(Subscription)) == 0
    assert (await client.get("/api/v1/me", headers=tokens["headers"])).status_code == 401
