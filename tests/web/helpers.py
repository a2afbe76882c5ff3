"""Helpers for page tests: a browser-like client that signs up through the forms."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from fastapi import FastAPI

from companion.content.schemas import ContentPack
from companion.content.service import ContentCatalog

HTML = {"Accept": "text/html,application/xhtml+xml"}
PASSWORD = "correct horse battery"


async def csrf(client: httpx.AsyncClient) -> str:
    """The browser's CSRF token (a page visit issues it)."""
    if "cc_csrf" not in client.cookies:
        await client.get("/login", headers=HTML)
    return client.cookies["cc_csrf"]


async def web_sign_up(client: httpx.AsyncClient, email: str | None = None, **fields: str) -> str:
    """Sign up through the form; the client then holds the session cookies. Returns the email."""
    email = email or f"reader-{uuid.uuid4().hex[:8]}@example.com"
    form = {
        "csrf_token": await csrf(client),
        "email": email,
        "password": PASSWORD,
        "timezone": "UTC",
        "software_experience": "beginner",
        "hardware_experience": "none",
        **fields,
    }
    response = await client.post("/signup", data=form, headers=HTML)
    assert response.status_code == 303, response.text
    return email


def section_ids(html: str) -> list[str]:
    """The section anchors of a rendered chapter, in order."""
    return re.findall(r'<section class="chapter-section" id="([^"]+)" data-section-id="[^"]+"', html)


@contextmanager
def serving(app: FastAPI, packs: list[ContentPack]) -> Iterator[None]:
    """Serve these packs instead of the published catalogue for the duration of a test."""
    published = app.state.catalog
    app.state.catalog = ContentCatalog.from_packs(packs)
    try:
        yield
    finally:
        app.state.catalog = published
