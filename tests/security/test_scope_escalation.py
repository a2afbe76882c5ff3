"""Delegated credentials (API keys, assistants' OAuth tokens) stay within what they were granted."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from companion.accounts import security
from companion.accounts.models import ApiKey, User
from companion.accounts.policies import AdminDep
from companion.error_handlers import install_error_handlers
from companion.oauth import service as oauth_service
from tests.conftest import SignUp
from tests.security.world import link_assistant, register_oauth_client

ACCOUNT_MANAGEMENT = [
    ("PATCH", "/api/v1/me", {"full_name": "Mallory"}),
    ("POST", "/api/v1/me/password", {"current_password": "correct horse battery", "new_password": "x" * 12}),
    ("POST", "/api/v1/me/api-keys", {"name": "escalated"}),
    ("POST", "/api/v1/me/api-keys", {"name": "escalated", "scopes": ["content:read", "progress:write"]}),
    ("GET", "/api/v1/me/api-keys", None),
    ("GET", "/api/v1/me/export", None),
    ("DELETE", "/api/v1/me", None),
]


def bearer(token: str) -> dict[str, str]:
    """An Authorization header."""
    return {"Authorization": f"Bearer {token}"}


async def api_key(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    """A new API key, created with the given sign-in."""
    response = await client.post("/api/v1/me/api-keys", json={"name": "key", **body}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def oauth_token(app: FastAPI, session: AsyncSession, user_id: str, scopes: list[str]) -> str:
    """An assistant's OAuth access token for the user, issued through the OAuth service."""
    client_id = await register_oauth_client(session)
    user = await session.get_one(User, uuid.UUID(user_id))
    tokens = await link_assistant(app, session, client_id=client_id, user=user, scopes=scopes)
    await session.commit()
    return tokens["access_token"]


async def test_keys_and_assistant_tokens_cannot_manage_the_account(
    app: FastAPI, client: httpx.AsyncClient, sign_up: SignUp, db_session: AsyncSession
) -> None:
    learner = await sign_up()
    read_only = await api_key(client, learner["headers"], scopes=["content:read"])
    full_key = await api_key(client, learner["headers"])
    assistant = await oauth_token(app, db_session, learner["user"]["id"], ["content:read", "progress:write"])
    credentials = {"read-only key": read_only["key"], "full key": full_key["key"], "oauth": assistant}

    revoke = ("DELETE", f"/api/v1/me/api-keys/{full_key['id']}", None)
    for name, token in credentials.items():
        for method, path, body in [*ACCOUNT_MANAGEMENT, revoke]:
            response = await client.request(method, path, json=body, headers=bearer(token))
            error = response.json()["error"]
            assert (response.status_code, error["code"]) == (403, "forbidden"), (name, method, path)
            assert error["details"] == {"required_sign_in": "password"}
        # Reading the profile is a read, which every credential with `content:read` may do.
        assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200

    # Nothing changed: same name, the same two keys, both still working, the account still there.
    me = await client.get("/api/v1/me", headers=learner["headers"])
    assert me.json()["full_name"] == learner["user"]["full_name"]
    keys = await db_session.scalar(
        select(func.count()).select_from(ApiKey).where(ApiKey.revoked_at.is_(None))
    )
    assert keys == 2
    assert (await client.get("/api/v1/me", headers=bearer(full_key["key"]))).status_code == 200


async def test_a_new_key_never_has_more_scopes_than_its_creator(
    client: httpx.AsyncClient, sign_up: SignUp, settings: Any
) -> None:
    learner = await sign_up()
    # A login narrowed to reading (the access token carries a `scope` claim).
    narrowed, _ = security.create_access_token(
        user_id=uuid.UUID(learner["user"]["id"]),
        role="learner",
        secret=settings.signing_secret(),
        algorithm=settings.jwt_algorithm,
        lifetime=timedelta(minutes=5),
        scopes=["content:read"],
    )
    by_default = await api_key(client, bearer(narrowed))
    assert by_default["scopes"] == ["content:read"]
    wider = await client.post(
        "/api/v1/me/api-keys", json={"name": "wider", "scopes": ["progress:write"]}, headers=bearer(narrowed)
    )
    assert wider.status_code == 403
    assert wider.json()["error"]["code"] == "forbidden"
    assert wider.json()["error"]["details"] == {"scopes": ["progress:write"]}
    # A full sign-in's key gets every scope the sign-in holds, unless it asks for fewer.
    assert (await api_key(client, learner["headers"]))["scopes"] == ["content:read", "progress:write"]
    assert (await api_key(client, learner["headers"], scopes=["progress:write"]))["scopes"] == [
        "progress:write"
    ]


async def test_assistant_tokens_work_on_rest_reads_and_writes_within_their_scopes(
    app: FastAPI, client: httpx.AsyncClient, sign_up: SignUp, db_session: AsyncSession
) -> None:
    learner = await sign_up()
    reader = await oauth_token(app, db_session, learner["user"]["id"], ["content:read"])
    assert (await client.get("/api/v1/progress", headers=bearer(reader))).status_code == 200
    write = await client.put(
        "/api/v1/progress/genai-fundamentals/01-intro-genai",
        json={"time_spent_seconds": 5},
        headers=bearer(reader),
    )
    assert write.status_code == 403
    assert write.json()["error"]["details"] == {"required_scope": "progress:write"}
    writer = await oauth_token(app, db_session, learner["user"]["id"], ["progress:write"])
    assert (await client.get("/api/v1/progress", headers=bearer(writer))).status_code == 403
    written = await client.put(
        "/api/v1/progress/genai-fundamentals/01-intro-genai",
        json={"time_spent_seconds": 5},
        headers=bearer(writer),
    )
    assert written.status_code == 200
    # A revoked linking is refused at once.
    await oauth_service.revoke_token(db_session, writer)
    await db_session.commit()
    assert (await client.get("/api/v1/me", headers=bearer(writer))).status_code == 401


async def test_administration_needs_an_administrators_password_sign_in(
    app: FastAPI, client: httpx.AsyncClient, sign_up: SignUp, db_session: AsyncSession
) -> None:
    # No administration route exists yet; the policy is checked on a route of a small app of its own.
    admin_app = FastAPI()
    admin_app.state.sessionmaker = app.state.sessionmaker
    admin_app.state.settings = app.state.settings
    install_error_handlers(admin_app)

    @admin_app.get("/admin-only")
    async def admin_only(admin: AdminDep) -> dict[str, str]:
        return {"admin": str(admin.user.id)}

    learner = await sign_up()
    administrator = await sign_up()
    user = await db_session.get_one(User, uuid.UUID(administrator["user"]["id"]))
    user.role = "admin"
    await db_session.commit()
    admin_key = await api_key(client, administrator["headers"])
    admin_oauth = await oauth_token(
        app, db_session, administrator["user"]["id"], ["content:read", "progress:write"]
    )

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=admin_app), base_url="http://admin"
    ) as http:
        answers = {
            name: await http.get("/admin-only", headers=headers)
            for name, headers in {
                "anonymous": {},
                "learner": learner["headers"],
                "admin": administrator["headers"],
                "admin api key": bearer(admin_key["key"]),
                "admin oauth": bearer(admin_oauth),
            }.items()
        }
    statuses = {
        name: (answer.status_code, answer.json().get("error", {}).get("code"))
        for name, answer in answers.items()
    }
    assert statuses == {
        "anonymous": (401, "unauthorized"),
        "learner": (403, "forbidden"),
        "admin": (200, None),
        "admin api key": (403, "forbidden"),
        "admin oauth": (403, "forbidden"),
    }
