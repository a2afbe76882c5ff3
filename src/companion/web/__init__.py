"""The web textbook: server-rendered pages over the same services as the API and the MCP tools."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from companion.config import Settings
from companion.web import account, learning, plans, premium, reading, tutor
from companion.web.dependencies import SessionCookieMiddleware
from companion.web.errors import install_page_errors
from companion.web.templating import STATIC_DIR


def install_web(app: FastAPI, settings: Settings) -> None:
    """Serve the pages, their static files, the cookie session and HTML error pages for browsers."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in (
        reading.router,
        premium.router,
        learning.router,
        tutor.router,
        account.router,
        plans.router,
    ):
        app.include_router(router)
    app.add_middleware(SessionCookieMiddleware, settings=settings)
    install_page_errors(app)
