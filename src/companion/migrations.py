"""Applying the Alembic migrations from code (CLI, start-up, tests)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from companion.db import create_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
VERSION_TABLE = "alembic_version"  # Alembic's default, which migrations/env.py keeps
# `revision: str = '0005'` and `down_revision: str | None = '0004'` (or None), as Alembic's template writes.
_REVISION_LINE = re.compile(
    r"^(down_revision|revision)(?:\s*:[^=]+)?\s*=\s*(None|'[^']*'|\"[^\"]*\")\s*$", re.M
)


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at our migrations and the given database."""
    from alembic.config import Config  # Alembic loads every dialect's DDL: only when used

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    return config


def _applied_revisions(connection: Connection) -> set[str]:
    """The revisions recorded in the database's version table (none before the first migration)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return set()
    return set(connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())


async def _applied(database_url: str) -> set[str]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_applied_revisions)
    finally:
        await engine.dispose()


def shipped_heads() -> set[str] | None:
    """The head revisions of the migration files, read as text; None if any file is not plainly written.

    Importing Alembic and its scripts costs a tenth of a second of every start; reading the revision
    lines tells whether the database is already at head without them.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = dict(_REVISION_LINE.findall(script.read_text(encoding="utf-8")))
        if "revision" not in found or "down_revision" not in found or found["revision"] == "None":
            return None  # a merge, a tuple or an unusual layout: let Alembic read it
        revisions.add(found["revision"].strip("'\""))
        if found["down_revision"] != "None":
            parents.add(found["down_revision"].strip("'\""))
    return revisions - parents


def pending_migrations(database_url: str) -> list[str]:
    """The revisions not yet applied to the database, oldest first (synchronous, like `upgrade_to_head`)."""
    applied = asyncio.run(_applied(database_url))
    if applied and applied == shipped_heads():
        return []
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(database_url))
    pending = script.iterate_revisions("heads", tuple(applied) or "base")
    return [revision.revision for revision in reversed(list(pending))]


def upgrade_to_head(database_url: str) -> None:
    """Apply every pending migration (synchronous: call it outside a running event loop)."""
    from alembic import command

    command.upgrade(alembic_config(database_url), "head")
