"""OAuth 2.1 account linking as an MCP client (ChatGPT, Claude) does it, against the running app."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from companion.oauth.models import OAuthAuthorizationCode, OAuthGrant
from tests.conftest import SignUp
from tests.mcp.conftest import call, mcp_client, structured

REDIRECT_URI = "https://assistant.example/connector/oauth/callback"
EMAIL = "linker@example.com"
PASSWORD = "correct horse battery"


@dataclass
class Linking:
    """One client's way through registration, consent and the token endpoint."""

    http: httpx.AsyncClient
    base_url: str
    client_id: str = ""
    verifier: str = ""

    async def register(self, **metadata: Any) -> dict[str, Any]:
        body = {
            "client_name": "Study Assistant",
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            **metadata,
        }
        response = await self.http.post("/oauth/register", json=body)
        assert response.status_code == 201, response.text
        client: dict[str, Any] = response.json()
        self.client_id = client["client_id"]
        return client

    async def authorize(self, **extra: str) -> httpx.Response:
        self.verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(self.verifier.encode()).digest()
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT_URI,
            "code_challenge": base64.urlsafe_b64encode(digest).decode().rstrip("="),
            "code_challenge_method": "S256",
            "state": "state-123",
            "resource": f"{self.base_url}/mcp",
            **extra,
        }
        return await self.http.get(f"/oauth/authorize?{urlencode(params)}")

    async def consent_page(self, **extra: str) -> httpx.Response:
        redirect = await self.authorize(**extra)
        assert redirect.status_code == 302, redirect.text
        location = redirect.headers["location"]
        assert location.startswith(f"{self.base_url}/oauth/consent?request=")
        page = await self.http.get(location)
        assert page.status_code == 200, page.text
        return page

    async def decide(self, page: httpx.Response, decision: str, password: str = PASSWORD) -> httpx.Response:
        fields = dict(re.findall(r'name="(request|csrf_token)" value="([^"]*)"', page.text))
        form = {**fields, "decision": decision, "email": EMAIL, "password": password}
        return await self.http.post("/oauth/consent", data=form)

    async def approve(self, **extra: str) -> str:
        answer = await self.decide(await self.consent_page(**extra), "approve")
        assert answer.status_code == 303, answer.text
        query = parse_qs(urlparse(answer.headers["location"]).query)
        assert query["state"] == ["state-123"]
        return query["code"][0]

    async def token(self, **form: str) -> httpx.Response:
        return await self.http.post("/oauth/token", data={"client_id": self.client_id, **form})

    async def exchange(self, code: str, verifier: str | None = None) -> httpx.Response:
        return await self.token(
            grant_type="authorization_code",
            code=code,
            redirect_uri=REDIRECT_URI,
            code_verifier=verifier or self.verifier,
        )

    async def link(self, **extra: str) -> dict[str, Any]:
        await self.register()
        response = await self.exchange(await self.approve(**extra))
        assert response.status_code == 200, response.text
        tokens: dict[str, Any] = response.json()
        return tokens


@pytest.fixture
async def linking(live_server: str, sign_up: SignUp) -> Any:
    """A learner with an account, and an HTTP client of the running app (keeping cookies)."""
    await sign_up(email=EMAIL, password=PASSWORD, full_name="Linda Linker")
    async with httpx.AsyncClient(base_url=live_server) as http:
        yield Linking(http, live_server)


async def mcp_status(base_url: str, token: str) -> int:
    """The HTTP status /mcp answers a tools/list with this bearer token."""
    async with httpx.AsyncClient(base_url=base_url) as http:
        response = await http.post(
            "/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"},
        )
    return response.status_code


async def test_metadata_documents(live_server: str) -> None:
    async with httpx.AsyncClient(base_url=live_server) as http:
        root = (await http.get("/.well-known/oauth-authorization-server")).json()
        path_aware = (await http.get("/.well-known/oauth-authorization-server/oauth")).json()
        resource = (await http.get("/.well-known/oauth-protected-resource")).json()
    assert root == path_aware
    assert root["issuer"] == f"{live_server}/oauth"
    assert root["authorization_endpoint"] == f"{live_server}/oauth/authorize"
    assert root["token_endpoint"] == f"{live_server}/oauth/token"
    assert root["registration_endpoint"] == f"{live_server}/oauth/register"
    assert root["revocation_endpoint"] == f"{live_server}/oauth/revoke"
    assert root["code_challenge_methods_supported"] == ["S256"]
    assert set(root["grant_types_supported"]) == {"authorization_code", "refresh_token"}
    assert root["scopes_supported"] == ["content:read", "progress:write"]
    # Registration accepts public clients (PKCE, no secret), so the metadata says so.
    for methods in ("token_endpoint_auth_methods_supported", "revocation_endpoint_auth_methods_supported"):
        assert set(root[methods]) == {"none", "client_secret_post", "client_secret_basic"}
    assert resource["resource"] == f"{live_server}/mcp"
    assert resource["authorization_servers"] == [f"{live_server}/oauth"]


async def test_link_use_refresh_and_revoke(linking: Linking, live_server: str) -> None:
    await linking.register()

    # The consent page names the assistant and what it asks for, and cannot be framed.
    page = await linking.consent_page()
    assert "Study Assistant" in page.text and "assistant.example" in page.text
    assert "Record your reading progress" in page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]

    wrong = await linking.decide(page, "approve", password="not my password")
    assert wrong.status_code == 401
    assert "Incorrect email or password." in wrong.text
    assert EMAIL in wrong.text  # the form keeps what the learner typed

    answer = await linking.decide(wrong, "approve")
    assert answer.status_code == 303
    code = parse_qs(urlparse(answer.headers["location"]).query)["code"][0]

    # PKCE: the code is useless without the verifier of the challenge it was issued for.
    stolen = await linking.exchange(code, verifier=secrets.token_urlsafe(48))
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    issued = await linking.exchange(code)
    assert issued.status_code == 200, issued.text
    tokens = issued.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    assert tokens["scope"] == "content:read progress:write"
    replayed = await linking.exchange(code)
    assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_grant"

    # The token identifies the learner on /mcp, and on the REST API too.
    async with mcp_client(live_server, token=tokens["access_token"]) as mcp:
        me = structured(await call(mcp, "whoami"))
    assert me["signed_in"] is True and me["user"]["email"] == EMAIL
    assert me["auth_method"] == "oauth" and me["scopes"] == ["content:read", "progress:write"]
    rest = await linking.http.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert rest.status_code == 200 and rest.json()["email"] == EMAIL

    # Refreshing rotates both tokens; the old access token stops working.
    refreshed = await linking.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    fresh = refreshed.json()
    assert fresh["access_token"] != tokens["access_token"]
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert await mcp_status(live_server, tokens["access_token"]) == 401
    assert await mcp_status(live_server, fresh["access_token"]) == 200

    # Revoking (unlinking) ends the grant: the token is refused, and so is its refresh token.
    # A standard RFC 7009 request from a public client: the token and its client_id, no secret.
    revoked = await linking.http.post(
        "/oauth/revoke", data={"client_id": linking.client_id, "token": fresh["access_token"]}
    )
    assert revoked.status_code == 200
    assert await mcp_status(live_server, fresh["access_token"]) == 401
    again = await linking.token(grant_type="refresh_token", refresh_token=fresh["refresh_token"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


async def test_reused_refresh_token_revokes_the_whole_linking(linking: Linking, live_server: str) -> None:
    tokens = await linking.link()
    first = await linking.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    newest = first.json()
    # An attacker replays the rotated refresh token: refused, and the learner's current tokens end too.
    replay = await linking.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert await mcp_status(live_server, newest["access_token"]) == 401
    after = await linking.token(grant_type="refresh_token", refresh_token=newest["refresh_token"])
    assert after.status_code == 400


async def test_a_narrower_scope_is_granted_as_asked(linking: Linking, live_server: str) -> None:
    tokens = await linking.link(scope="content:read")
    assert tokens["scope"] == "content:read"
    async with mcp_client(live_server, token=tokens["access_token"]) as mcp:
        me = structured(await call(mcp, "whoami"))
    assert me["scopes"] == ["content:read"]


async def test_deny_sends_the_assistant_access_denied(linking: Linking) -> None:
    await linking.register()
    answer = await linking.decide(await linking.consent_page(), "deny", password="")
    assert answer.status_code == 303
    target = urlparse(answer.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == REDIRECT_URI
    assert parse_qs(target.query)["error"] == ["access_denied"]
    assert parse_qs(target.query)["state"] == ["state-123"]


async def test_consent_form_needs_its_csrf_cookie(linking: Linking) -> None:
    await linking.register()
    page = await linking.consent_page()
    linking.http.cookies.clear()  # as a cross-site form post would arrive
    answer = await linking.decide(page, "approve")
    assert answer.status_code == 403
    assert "start again" in answer.text


async def test_a_forged_or_broken_consent_link_is_explained(linking: Linking) -> None:
    page = await linking.http.get("/oauth/consent?request=not-a-signed-request")
    assert page.status_code == 400
    assert "This sign-in link is not valid" in page.text


async def test_tokens_for_another_resource_are_refused(linking: Linking) -> None:
    await linking.register()
    redirect = await linking.authorize(resource="https://other.example/mcp")
    assert redirect.status_code == 302
    assert parse_qs(urlparse(redirect.headers["location"]).query)["error"] == ["invalid_target"]


async def test_codes_and_tokens_are_stored_only_as_hashes(linking: Linking, db_session: AsyncSession) -> None:
    await linking.register()
    code = await linking.approve()
    stored_code = (await db_session.execute(select(OAuthAuthorizationCode))).scalar_one()
    assert stored_code.code_hash == hashlib.sha256(code.encode()).hexdigest()
    tokens = (await linking.exchange(code)).json()
    grant = (await db_session.execute(select(OAuthGrant))).scalar_one()
    assert grant.access_token_hash == hashlib.sha256(tokens["access_token"].encode()).hexdigest()
    assert grant.refresh_token_hash == hashlib.sha256(tokens["refresh_token"].encode()).hexdigest()
    assert (await db_session.execute(select(OAuthAuthorizationCode))).first() is None  # spent


async def test_a_confidential_client_must_present_its_secret(linking: Linking) -> None:
    registered = await linking.register(token_endpoint_auth_method="client_secret_post")
    assert registered["client_secret"]
    code = await linking.approve()
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": linking.verifier,
    }
    refused = await linking.token(**form)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    issued = await linking.token(**form, client_secret=registered["client_secret"])
    assert issued.status_code == 200, issued.text


@pytest.mark.parametrize("auth_method", ["none", "client_secret_post", "client_secret_basic"])
async def test_each_kind_of_client_revokes_its_refresh_token(
    linking: Linking, live_server: str, auth_method: str
) -> None:
    registered = await linking.register(token_endpoint_auth_method=auth_method)
    secret = registered.get("client_secret")
    assert (secret is None) == (auth_method == "none")
    credentials: dict[str, str] = {"client_secret": secret} if auth_method == "client_secret_post" else {}
    headers: dict[str, str] = {}
    if auth_method == "client_secret_basic":
        basic = base64.b64encode(f"{linking.client_id}:{secret}".encode()).decode()
        headers["Authorization"] = f"Basic {basic}"
    code = await linking.approve()
    issued = await linking.http.post(
        "/oauth/token",
        data={
            "client_id": linking.client_id,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": linking.verifier,
            **credentials,
        },
        headers=headers,
    )
    assert issued.status_code == 200, issued.text
    tokens = issued.json()

    revoke_form = {"client_id": linking.client_id, "token": tokens["refresh_token"]}
    if auth_method != "none":  # a confidential client must still prove who it is
        refused = await linking.http.post("/oauth/revoke", data=revoke_form)
        assert refused.status_code == 401 and refused.json()["error"] == "unauthorized_client"
        assert await mcp_status(live_server, tokens["access_token"]) == 200

    revoked = await linking.http.post(
        "/oauth/revoke",
        data={**revoke_form, "token_type_hint": "refresh_token", **credentials},
        headers=headers,
    )
    assert revoked.status_code == 200, revoked.text
    assert await mcp_status(live_server, tokens["access_token"]) == 401  # the whole linking ends
    # An unknown token is not an error (RFC 7009 §2.2); a request without a token is.
    unknown = await linking.http.post(
        "/oauth/revoke", data={**revoke_form, "token": "not-a-token", **credentials}, headers=headers
    )
    assert unknown.status_code == 200
    missing = await linking.http.post(
        "/oauth/revoke", data={"client_id": linking.client_id, **credentials}, headers=headers
    )
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
