"""A small world of callers for the authorization suites: one per kind of credential and tier.

Each caller (but anonymous and learner B) owns one of each resource a route can name in its path —
a started quiz attempt, a tutor conversation, a learning session, a spare API key — so every cell of
the matrix reaches the route's own behaviour. Learner B is handed learner A's resources, which must
answer 404. Users are stored directly with a cheaply-hashed password (hashing is not what these
suites test); everything else goes through the services or the API, as a client would.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from base64 import urlsafe_b64encode
from dataclasses import dataclass, field
from typing import Any

import httpx
from argon2 import PasswordHasher
from fastapi import FastAPI
from mcp.server.auth.provider import AuthorizationParams
from mcp.shared.auth import OAuthClientInformationFull
from pydantic import AnyUrl

from companion.accounts import security
from companion.accounts import service as accounts_service
from companion.accounts.models import User
from companion.accounts.schemas import ApiKeyCreate
from companion.accounts.scopes import ALL_SCOPES, CONTENT_READ
from companion.billing import service as billing_service
from companion.db import create_sessionmaker
from companion.oauth import service as oauth_service
from companion.oauth.provider import resource_url

COURSE = "genai-fundamentals"
PASSWORD = "correct horse battery"
REDIRECT_URI = "https://assistant.example/callback"
# Argon2 at its lowest cost: the suites sign in dozens of times and do not test hashing.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@dataclass
class Caller:
    """One column of the matrix: who calls, with what credential, and what they own."""

    name: str
    method: str  # "anonymous", "jwt", "api_key" or "oauth"
    tier: str
    admin: bool = False
    scopes: frozenset[str] = frozenset()
    headers: dict[str, str] = field(default_factory=dict)
    email: str = ""
    user_id: uuid.UUID | None = None
    # The caller's own attempt_id, conversation_id, learning_session_id and key_id.
    owned: dict[str, str] = field(default_factory=dict)
    # A refresh token of a login of its own, for the refresh and logout routes.
    refresh_token: str = ""


@dataclass
class World:
    """Every caller, in the order the matrix calls them (learner A last: it may delete itself)."""

    callers: list[Caller]
    oauth_client_id: str

    def caller(self, name: str) -> Caller:
        """The caller of this name."""
        return next(caller for caller in self.callers if caller.name == name)


# name, tier, admin, credential: what each caller's user is and how the caller signs in.
_PEOPLE = [
    ("learner_b", "free", False, "jwt"),
    ("free", "free", False, "jwt"),
    ("premium", "premium", False, "jwt"),
    ("pro", "pro", False, "jwt"),
    ("admin", "free", True, "jwt"),
    # The machine credentials belong to premium learners, so that a refusal is the policy's, not the gate's.
    ("read_only_api_key", "premium", False, "api_key"),
    ("oauth", "premium", False, "oauth"),
    ("learner_a", "free", False, "jwt"),
]


def pkce_challenge() -> str:
    """An S256 code challenge (for a verifier nobody needs here)."""
    digest = hashlib.sha256(secrets.token_urlsafe(32).encode()).digest()
    return urlsafe_b64encode(digest).decode().rstrip("=")


async def register_oauth_client(session: Any) -> str:
    """A public OAuth client, as dynamic registration stores it."""
    client_id = f"client-{uuid.uuid4().hex[:12]}"
    await oauth_service.register_client(
        session,
        client=OAuthClientInformationFull(
            client_id=client_id,
            client_name="Study Assistant",
            redirect_uris=[AnyUrl(REDIRECT_URI)],
            token_endpoint_auth_method="none",
            grant_types=["authorization_code", "refresh_token"],
        ),
    )
    return client_id


def authorization_params(app: FastAPI, scopes: list[str]) -> AuthorizationParams:
    """An authorization request for the MCP resource, as an assistant sends it."""
    return AuthorizationParams(
        state="state",
        scopes=scopes,
        code_challenge=pkce_challenge(),
        redirect_uri=AnyUrl(REDIRECT_URI),
        redirect_uri_provided_explicitly=True,
        resource=resource_url(app.state.settings),
    )


async def link_assistant(
    app: FastAPI, session: Any, *, client_id: str, user: User, scopes: list[str]
) -> dict[str, str]:
    """An OAuth access and refresh token for the user, issued as the token endpoint issues them."""
    pending = oauth_service.PendingAuthorization(
        client_id=client_id, params=authorization_params(app, scopes)
    )
    code = await oauth_service.create_authorization_code(session, pending=pending, user_id=user.id)
    loaded = await oauth_service.load_authorization_code(session, client_id=client_id, code=code)
    assert loaded is not None
    token = await oauth_service.exchange_authorization_code(session, code=loaded, settings=app.state.settings)
    assert token.refresh_token is not None
    return {"access_token": token.access_token, "refresh_token": token.refresh_token, "code": code}


async def _store_user(session: Any, name: str, tier: str, admin: bool, password_hash: str) -> User:
    user = User(
        email=f"{name.replace('_', '-')}@example.com",
        password_hash=password_hash,
        full_name=name,
        role="admin" if admin else "learner",
        software_experience="beginner",
        hardware_experience="none",
    )
    session.add(user)
    await session.flush()
    await billing_service.create_free_subscription(session, user=user)
    if tier != "free":
        await billing_service.change_tier(session, user=user, tier=tier)
    return user


async def _own_resources(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, str]:
    """One of each path-named resource, created through the API as the learner would."""
    attempt = await client.post(f"/api/v1/courses/{COURSE}/quizzes/01-quiz/attempts", headers=headers)
    conversation = await client.post(
        "/api/v1/tutor/conversations", json={"course_id": COURSE}, headers=headers
    )
    learning_session = await client.post("/api/v1/sessions", json={"interface": "api"}, headers=headers)
    spare_key = await client.post("/api/v1/me/api-keys", json={"name": "spare"}, headers=headers)
    for response in (attempt, conversation, learning_session, spare_key):
        assert response.status_code == 201, response.text
    return {
        "attempt_id": attempt.json()["id"],
        "conversation_id": conversation.json()["id"],
        "learning_session_id": learning_session.json()["id"],
        "key_id": spare_key.json()["id"],
    }


async def build_world(app: FastAPI, client: httpx.AsyncClient) -> World:
    """Every caller of the matrix, with its credential and its own resources, on an empty database."""
    password_hash = CHEAP_HASHER.hash(PASSWORD)
    settings = app.state.settings
    callers: list[Caller] = []
    sign_ins: dict[str, dict[str, str]] = {}
    async with create_sessionmaker(app.state.engine)() as session:
        client_id = await register_oauth_client(session)
        for name, tier, admin, method in _PEOPLE:
            user = await _store_user(session, name, tier, admin, password_hash)
            login = await accounts_service.issue_tokens(session, user=user, settings=settings)
            spare = await accounts_service.issue_tokens(session, user=user, settings=settings)
            sign_ins[name] = {"Authorization": f"Bearer {login.access_token}"}
            caller = Caller(
                name=name,
                method=method,
                tier=tier,
                admin=admin,
                scopes=frozenset(ALL_SCOPES),
                headers=sign_ins[name],
                email=user.email,
                user_id=user.id,
                refresh_token=spare.refresh_token,
            )
            if method == "api_key":
                _, secret = await accounts_service.create_api_key(
                    session,
                    user=user,
                    data=ApiKeyCreate(name="reader", scopes=[CONTENT_READ]),
                    creator_scopes=frozenset(ALL_SCOPES),
                )
                caller.scopes = frozenset({CONTENT_READ})
                caller.headers = {"Authorization": f"Bearer {secret}"}
            elif method == "oauth":
                tokens = await link_assistant(
                    app, session, client_id=client_id, user=user, scopes=list(ALL_SCOPES)
                )
                caller.headers = {"Authorization": f"Bearer {tokens['access_token']}"}
            callers.append(caller)
        anonymous_refresh = await accounts_service.issue_tokens(
            session, user=await session.get_one(User, callers[-1].user_id), settings=settings
        )
        await session.commit()
    for caller in callers:
        if caller.name != "learner_b":
            caller.owned = await _own_resources(client, sign_ins[caller.name])
    learner_a = callers[-1]
    callers[0].owned = dict(learner_a.owned)  # learner B is handed learner A's resources
    anonymous = Caller(
        name="anonymous",
        method="anonymous",
        tier="free",
        email=learner_a.email,
        owned=dict(learner_a.owned),
        refresh_token=anonymous_refresh.refresh_token,
    )
    return World(callers=[anonymous, *callers], oauth_client_id=client_id)


def use_cheap_hashing(monkeypatch: Any) -> None:
    """Hash new passwords at the lowest cost for the rest of the test."""
    monkeypatch.setattr(security, "_hasher", CHEAP_HASHER)
