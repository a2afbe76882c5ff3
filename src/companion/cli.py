"""The `companion` command line: serve, migrate, users, content, index, jobs."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import tempfile
from typing import Annotated, Any

import typer
import uvicorn

from companion.access.tiers import TIERS
from companion.config import Settings, get_settings
from companion.content import cli as content_cli
from companion.db import standalone_session
from companion.search import cli as search_cli

app = typer.Typer(
    help="Course Companion: an AI-native course companion (API, MCP server, web textbook).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
users_app = typer.Typer(help="Manage accounts: administrators and subscription tiers.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(content_cli.app, name="content", help="Validate and publish course content packs.")
app.add_typer(search_cli.app, name="index", help="Build the search indexes of the published courses.")
# How long a worker may take to answer the supervisor, from its start on (see `serve`).
WORKER_HEALTHCHECK_SECONDS = 60

jobs_app = typer.Typer(help="Retention jobs (also run on schedule inside `serve`).", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")


@app.command()
def migrate() -> None:
    """Apply database migrations to COMPANION_DATABASE_URL (SQLite under ./data/ by default)."""
    from companion.migrations import upgrade_to_head

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_to_head(settings.resolved_database_url)
    typer.echo("Database is up to date.")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            help="Worker processes, each with its own runtime; more than one is meant for PostgreSQL."
        ),
    ] = 1,
    prepare: Annotated[
        bool, typer.Option(help="Migrate and load the shipped courses before serving.")
    ] = True,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            help="A reverse proxy whose X-Forwarded-For is believed (repeatable; '*' for any). "
            "Default: COMPANION_TRUSTED_PROXIES, which is empty: forwarded headers are ignored."
        ),
    ] = None,
) -> None:
    """Serve the API, the MCP server and the web app; on a fresh data dir, set everything up first."""
    settings = get_settings()
    # What starting creates (modules, classes, routes, schemas) lives as long as the process, yet the
    # collector walked it all again and again while it grew: 0.2-0.3 of the 1.8 CPU seconds of a start.
    # Collection resumes once the server listens (`_AnnouncingServer.startup`), or here if it stops first.
    gc.disable()
    try:
        _prepare_and_serve(settings, host, port, workers, prepare, trusted_proxy)
    finally:
        gc.enable()


def _prepare_and_serve(
    settings: Settings, host: str, port: int, workers: int, prepare: bool, trusted_proxy: list[str] | None
) -> None:
    """Get the data dir ready, then serve in this process or in worker processes."""
    from companion.bootstrap import prepare_data
    from companion.http_protocol import JsonErrorHttpToolsProtocol
    from companion.metrics import MULTIPROCESS_ENV

    if prepare:  # search indexes missing are built by the server, in the background
        prepare_data(settings, echo=typer.echo, build_search=False)
    proxies = trusted_proxy or settings.trusted_proxies
    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "log_config": None,
        # Client addresses key the rate limits: only a configured proxy may say who the client is.
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": ",".join(proxies) if proxies else None,
        # Requests the HTTP parser itself refuses are answered in the JSON error body too.
        "http": JsonErrorHttpToolsProtocol,
    }
    if workers > 1:  # uvicorn's supervisor logs when each worker accepts connections
        # Workers write their metrics to one fresh folder, so that /metrics sums them all.
        gc.enable()  # the supervisor only watches; each worker process starts with its own collector
        with tempfile.TemporaryDirectory(prefix="companion-metrics-") as metrics_dir:
            os.environ[MULTIPROCESS_ENV] = metrics_dir
            uvicorn.run(
                "companion.app:create_app",
                workers=workers,
                # A spawned worker re-imports this command line before it can answer the supervisor's
                # first health check: seconds on a quiet machine, over 15 s on a busy one. Uvicorn's 5 s
                # default killed and respawned every worker forever there, so the server never answered.
                timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
                **options,
            )
        return
    _AnnouncingServer(uvicorn.Config("companion.app:create_app", **options)).run()


class _AnnouncingServer(uvicorn.Server):
    """Says "listening" once the socket accepts connections: the application's start-up (loading the
    model and the search indexes) takes seconds, and a newcomer's first request must not be refused."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        # Paused by `serve` while starting. What starting made goes to the oldest generation, as if it had
        # survived collections: the next young collections would otherwise walk all of it at once.
        gc.freeze()
        gc.unfreeze()
        gc.enable()
        if self.started and not self.should_exit:
            url = f"http://{self.config.host}:{self.config.port}"
            typer.echo(f"Course Companion is listening on {url}  (API docs: {url}/docs)")


@app.command("mcp")
def mcp_stdio(
    api_key: Annotated[
        str | None,
        typer.Option(envvar="COMPANION_API_KEY", help="An API key (cc_...) to act for its learner."),
    ] = None,
    prepare: Annotated[
        bool, typer.Option(help="Migrate and load the shipped courses before serving.")
    ] = True,
) -> None:
    """Serve the MCP server over stdio for desktop assistants; anonymous unless given an API key."""
    from companion.bootstrap import prepare_data
    from companion.errors import CompanionError
    from companion.mcp.stdio import serve_stdio

    settings = get_settings()
    if prepare:  # stdout carries the protocol, so progress goes to stderr; indexes build in the background
        prepare_data(settings, echo=lambda line: typer.echo(line, err=True), build_search=False)
    try:
        asyncio.run(serve_stdio(settings, api_key=api_key))
    except CompanionError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(1) from error


@users_app.command("create-admin")
def create_admin(
    email: str,
    password: Annotated[
        str,
        typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="At least 8 characters."),
    ],
    full_name: Annotated[str | None, typer.Option(help="Display name.")] = None,
) -> None:
    """Create an administrator account (or promote an existing one)."""
    from companion.accounts import service as accounts_service
    from companion.accounts.schemas import UserCreate

    try:
        UserCreate.model_validate(
            {
                "email": email,
                "password": password,
                "software_experience": "advanced",
                "hardware_experience": "none",
            }
        )
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error

    async def _run() -> str:
        async with standalone_session(get_settings().resolved_database_url) as session:
            user = await accounts_service.create_admin(
                session, email=email, password=password, full_name=full_name
            )
            return user.email

    typer.echo(f"{asyncio.run(_run())} is an administrator.")


@users_app.command("set-tier")
def set_tier(
    email: str,
    tier: Annotated[str, typer.Argument(help=", ".join(TIERS) + ".")],
) -> None:
    """Change a user's subscription tier (following the upgrade/downgrade rules)."""
    from companion.accounts import service as accounts_service
    from companion.billing import service as billing_service
    from companion.errors import CompanionError

    if tier not in TIERS:
        typer.echo(f"error: unknown tier '{tier}'; choose one of {', '.join(TIERS)}.", err=True)
        raise typer.Exit(2)

    async def _run() -> None:
        async with standalone_session(get_settings().resolved_database_url) as session:
            user = await accounts_service.get_user_by_email(session, email)
            if user is None:
                raise CompanionError(f"No account with email {email}.")
            await billing_service.change_tier(session, user=user, tier=tier)

    try:
        asyncio.run(_run())
    except CompanionError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"{email} is now on the {tier} tier.")


@jobs_app.command("list")
def list_jobs() -> None:
    """Show every job and how often it runs."""
    from companion.jobs.registry import JOBS

    for job in JOBS.values():
        typer.echo(f"{job.name:<24} every {job.every}  {job.description}")


@jobs_app.command("status")
def job_status() -> None:
    """Show when each job last ran (any process), for which period, and what it changed."""
    from companion.jobs.registry import JOBS, last_runs

    async def _run() -> dict[str, str]:
        async with standalone_session(get_settings().resolved_database_url) as session:
            return {
                run.job_name: (
                    f"period {run.period_start:%Y-%m-%d %H:%M} UTC, finished "
                    f"{run.finished_at:%Y-%m-%d %H:%M:%S} UTC, {run.rows_changed} row(s), by {run.ran_by}"
                    if run.finished_at
                    else "claimed, not finished"
                )
                for run in await last_runs(session)
            }

    runs = asyncio.run(_run())
    for name in JOBS:
        typer.echo(f"{name:<24} {runs.get(name, 'never run')}")


@jobs_app.command("run")
def run_jobs(
    name: Annotated[str | None, typer.Argument(help="One job; all of them when omitted.")] = None,
) -> None:
    """Run one job, or all of them, now."""
    from companion.db import create_engine, create_sessionmaker
    from companion.jobs.registry import JOBS, run_job

    if name is not None and name not in JOBS:
        typer.echo(f"error: unknown job '{name}'; choose one of: {', '.join(JOBS)}", err=True)
        raise typer.Exit(2)
    selected = [JOBS[name]] if name else list(JOBS.values())

    async def _run() -> None:
        engine = create_engine(get_settings().resolved_database_url)
        try:
            for job in selected:
                changed = await run_job(create_sessionmaker(engine), job)
                typer.echo(f"{job.name}: {changed} row(s) changed")
        finally:
            await engine.dispose()

    asyncio.run(_run())
