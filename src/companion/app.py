"""The application factory: one FastAPI app serving the API, the MCP server and the web textbook."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from companion.accounts.router import router as accounts_router
from companion.analytics.router import router as analytics_router
from companion.billing.router import router as billing_router
from companion.config import Settings, get_settings
from companion.content.public_cache import PublicResponseCache
from companion.content.router import router as content_router
from companion.content.service import ContentCatalog
from companion.error_handlers import install_error_handlers
from companion.http_limits import RequestLimitsMiddleware, reject_nul_characters
from companion.jobs import registry as jobs
from companion.llm.gateway import LLMGateway
from companion.llm.router import router as llm_router
from companion.mcp.deferred import DeferredMcp
from companion.metrics import MetricsMiddleware
from companion.oauth.router import router as oauth_router
from companion.observability import RequestIdMiddleware, configure_logging
from companion.openapi import install_openapi
from companion.ops.router import router as ops_router
from companion.pages import SecurityHeadersMiddleware, mount_docs
from companion.premium.router import router as premium_router
from companion.progress.router import router as progress_router
from companion.quizzes.router import router as quizzes_router
from companion.ratelimit import RateLimiter
from companion.recommendations.router import router as recommendations_router
from companion.runtime import open_runtime
from companion.search.router import router as search_router
from companion.teams.router import router as teams_router
from companion.tutor.router import router as tutor_router
from companion.web import install_web

API_DESCRIPTION = """Course Companion serves a course verbatim, searches it, grades quizzes, and tracks
progress and streaks for learners, through this API and through AI assistants (MCP).

Every error has the body `{"error": {"code", "message", "details"}}`."""


logger = logging.getLogger(__name__)


async def _refresh_content_forever(catalog: ContentCatalog, every_seconds: float) -> None:
    """Poll the content store so a newly published version is served without a restart."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await catalog.refresh()
        except Exception:  # a store hiccup must not stop future refreshes
            logger.exception("content refresh failed; still serving the previous version")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application for the given settings (the process settings by default)."""
    settings = settings or get_settings()
    configure_logging(log_format=settings.log_format, level=settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(settings) as runtime:
            # Routers and MCP tools read these from app.state through their dependencies.
            app.state.engine = runtime.engine
            app.state.sessionmaker = runtime.sessionmaker
            app.state.cache = runtime.cache
            app.state.catalog = runtime.catalog
            app.state.search = runtime.search
            app.state.llm = LLMGateway(settings, runtime.sessionmaker)
            app.state.limiter = RateLimiter(settings.redis_url)
            background = [
                asyncio.create_task(
                    _refresh_content_forever(runtime.catalog, settings.content_refresh_seconds)
                )
            ]
            if settings.run_jobs:
                background.append(asyncio.create_task(jobs.run_forever(runtime.sessionmaker)))
            try:
                async with app.state.mcp.running():  # stops the MCP server, once used
                    yield
            finally:
                for task in background:
                    task.cancel()

    app = FastAPI(
        title="Course Companion",
        version="1.0.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by mount_docs, without a CDN
        redoc_url=None,
        dependencies=[Depends(reject_nul_characters)],
    )
    app.state.settings = settings
    install_error_handlers(app)
    install_openapi(app)
    mount_docs(app)
    # Added innermost first: the public-content cache, the size limits, CORS, security headers, request id
    # and metrics, so that every answer, cached or not, passes the limits and gets every header.
    app.add_middleware(PublicResponseCache)
    app.add_middleware(
        RequestLimitsMiddleware,
        max_url_bytes=settings.max_url_bytes,
        max_header_bytes=settings.max_header_bytes,
        max_body_bytes=settings.max_request_bytes,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "ETag"],
        )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(MetricsMiddleware)
    # Content first: routes are matched in order, and chapter reads are the hottest path.
    app.include_router(content_router)
    app.include_router(ops_router)
    app.include_router(accounts_router)
    app.include_router(progress_router)
    app.include_router(quizzes_router)
    app.include_router(recommendations_router)
    app.include_router(search_router)
    app.include_router(tutor_router)
    app.include_router(premium_router)
    app.include_router(llm_router)
    app.include_router(oauth_router)
    app.include_router(billing_router)
    app.include_router(analytics_router)
    app.include_router(teams_router)
    # The web textbook last: its pages answer browsers at /, /courses/..., /dashboard, /account.
    install_web(app, settings)
    # /mcp, its OAuth metadata and the authorization server's endpoints, built on first use.
    app.state.mcp = DeferredMcp(app, settings)
    app.router.routes.extend(app.state.mcp.placeholders)
    return app
