"""The web's templates: one Jinja environment, the shared page context, and static file URLs."""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse

from companion.accounts.policies import Identity
from companion.web.dependencies import CSRF_FIELD, CSRF_HEADER, csrf_token

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"

templates = Jinja2Templates(directory=WEB_DIR / "templates")
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True


@cache
def _fingerprint(name: str) -> str:
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    """A static file's URL carrying its content hash, so browsers may cache it for long."""
    return f"/static/{name}?v={_fingerprint(name)}"


def bold_to_mark(text: str | None) -> Markup:
    """A search snippet's **bold** matches as <mark>, everything else escaped."""
    parts = str(escape(text or "")).split("**")
    return Markup("".join(f"<mark>{part}</mark>" if index % 2 else part for index, part in enumerate(parts)))


def duration(seconds: int | float | None) -> str:
    """Seconds as a short human duration: 45 s, 12 min, 1 h 5 min."""
    total = int(seconds or 0)
    if total < 60:
        return f"{total} s"
    minutes = total // 60
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def when(moment: datetime | None) -> str:
    """A timestamp as a short UTC date and time."""
    return moment.strftime("%d %b %Y, %H:%M UTC") if moment else ""


templates.env.globals["static_url"] = static_url
templates.env.globals["CSRF_FIELD"] = CSRF_FIELD
templates.env.globals["CSRF_HEADER"] = CSRF_HEADER
templates.env.filters["marks"] = bold_to_mark
templates.env.filters["duration"] = duration
templates.env.filters["when"] = when


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    identity: Identity | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A page (or htmx fragment) with the shared context: the reader, the CSRF token, the language."""
    page: dict[str, Any] = {
        "user": identity.user if identity else None,
        "csrf_token": csrf_token(request),
        "lang": "en",
        "dir": "ltr",
        **(context or {}),
    }
    response = templates.TemplateResponse(request, template, page, status_code=status_code, headers=headers)
    # Pages carry per-user bits and a CSRF token: never stored by shared caches.
    response.headers.setdefault("Cache-Control", "private, no-store")
    return response
