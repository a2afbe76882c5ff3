"""What `companion serve` costs at start: what it leaves unimported, and the collector paused meanwhile."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys

import pytest
import uvicorn
from typer.testing import CliRunner

from companion import cli
from companion.config import Settings

# Imported on first use, not at start: Alembic when the database is already at head, PyJWT (and the
# `cryptography` it loads) on the first token.
LAZY = ("alembic", "jwt", "cryptography")


def test_a_start_on_a_migrated_database_leaves_the_rare_paths_unimported(settings: Settings) -> None:
    code = (
        "import sys, companion.cli, companion.app\n"
        "from companion.migrations import pending_migrations\n"
        f"assert pending_migrations({settings.resolved_database_url!r}) == []\n"
        "companion.app.create_app()\n"
        f"print(sorted(name for name in {LAZY!r} if name in sys.modules))\n"
    )
    environment = {**os.environ, "COMPANION_DATA_DIR": str(settings.data_dir)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=environment
    )
    assert result.stdout.strip() == "[]"


def test_serve_pauses_the_collector_while_starting(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    monkeypatch.setattr(cli._AnnouncingServer, "run", lambda self: seen.append(gc.isenabled()))
    assert CliRunner().invoke(cli.app, ["serve", "--no-prepare"]).exit_code == 0
    assert seen == [False]
    assert gc.isenabled()  # and resumes it when serving stops


def test_the_collector_resumes_once_the_server_listens(monkeypatch: pytest.MonkeyPatch) -> None:
    async def started(self: uvicorn.Server, sockets: object = None) -> None:
        self.started = True

    monkeypatch.setattr(uvicorn.Server, "startup", started)
    server = cli._AnnouncingServer(uvicorn.Config("companion.app:create_app", factory=True))
    gc.disable()
    try:
        asyncio.run(server.startup())
        assert gc.isenabled()
    finally:
        gc.enable()
