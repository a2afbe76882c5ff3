"""Applying the Alembic migrations from code (CLI, start-up, tests)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from companion.db import create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at our migrations and the given database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    return config


def _current_heads(connection: Connection) -> tuple[str, ...]:
    return tuple(MigrationContext.configure(connection).get_current_heads())


async def _applied(database_url: str) -> tuple[str, ...]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current_heads)
    finally:
        await engine.dispose()


def pending_migrations(database_url: str) -> list[str]:
    """The revisions not yet applied to the database, oldest first (synchronous, like `upgrade_to_head`)."""
    script = ScriptDirectory.from_config(alembic_config(database_url))
    applied = asyncio.run(_applied(database_url))
    pending = script.iterate_revisions("heads", applied or "base")
    return [revision.revision for revision in reversed(list(pending))]


def upgrade_to_head(database_url: str) -> None:
    """Apply every pending migration (synchronous: call it outside a running event loop)."""
    command.upgrade(alembic_config(database_url), "head")
