"""The in-app shared cache of public content: the route's own answer, never to a caller it would refuse."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from companion.content.service import ContentCatalog
from tests.conftest import SignUp
from tests.security.test_scope_escalation import api_key, bearer

COURSE = "/api/v1/courses/genai-fundamentals"
FREE_CHAPTER = f"{COURSE}/chapters/01-intro-genai"
PREMIUM_CHAPTER = f"{COURSE}/chapters/04-rag"


async def test_cached_public_answers_match_the_route_and_refuse_whom_the_route_refuses(
    client: httpx.AsyncClient, sign_up: SignUp
) -> None:
    first = await client.get(FREE_CHAPTER)
    again = await client.get(FREE_CHAPTER)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    # Every answer still passes the outer middlewares: its own request id, the security headers.
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    assert again.headers["x-content-type-options"] == "nosniff"
    assert again.headers["cache-control"].startswith("public")

    # A credential is judged as the route judges it, cached answer or not.
    assert (await client.get(FREE_CHAPTER, headers=bearer("not-a-token"))).status_code == 401
    learner = await sign_up()
    writer_only = await api_key(client, learner["headers"], scopes=["progress:write"])
    for _ in range(2):  # the second time its identity is cached: still refused
        refused = await client.get(FREE_CHAPTER, headers=bearer(writer_only["key"]))
        assert (
            refused.status_code == 403
            and refused.json()["error"]["details"]["required_scope"] == "content:read"
        )
    for _ in range(2):
        signed_in = await client.get(FREE_CHAPTER, headers=learner["headers"])
        assert signed_in.status_code == 200 and signed_in.content == first.content

    # Gated content is private: never shared, whoever asked before.
    assert (await client.get(PREMIUM_CHAPTER)).status_code == 403
    # A conditional request reaches the route, which answers 304.
    conditional = await client.get(FREE_CHAPTER, headers={"If-None-Match": first.headers["etag"]})
    assert conditional.status_code == 304


async def test_a_new_catalogue_is_served_at_once(app: FastAPI, client: httpx.AsyncClient) -> None:
    assert (await client.get(FREE_CHAPTER)).status_code == 200
    catalog = app.state.catalog
    # Set and restored by hand: pytest's monkeypatch cannot restore an attribute of Starlette's State.
    app.state.catalog = ContentCatalog.from_packs([])
    try:
        assert (await client.get(FREE_CHAPTER)).status_code == 404
    finally:
        app.state.catalog = catalog
    assert (await client.get(FREE_CHAPTER)).status_code == 200
