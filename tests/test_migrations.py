"""The migrated schema and the models agree, on whichever engine the run uses."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from sqlalchemy import inspect

from companion.config import Settings
from companion.db import Base
from companion.migrations import alembic_config, pending_migrations, shipped_heads, upgrade_to_head


async def test_autogenerate_finds_nothing(app: FastAPI) -> None:
    def _diff(connection):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with app.state.engine.connect() as connection:
        differences = await connection.run_sync(_diff)
    assert differences == []


async def test_constraints_exist(app: FastAPI) -> None:
    def _inspect(connection):  # type: ignore[no-untyped-def]
        inspector = inspect(connection)
        return {
            "checks": {c["name"] for c in inspector.get_check_constraints("quiz_attempts")},
            "uniques": {c["name"] for c in inspector.get_unique_constraints("quiz_attempts")},
            "indexes": {i["name"]: i for i in inspector.get_indexes("learning_path_recommendations")},
            "fks": inspector.get_foreign_keys("chapter_progress"),
        }

    async with app.state.engine.connect() as connection:
        found = await connection.run_sync(_inspect)
    assert "ck_quiz_attempts_score_range" in found["checks"]
    assert "uq_quiz_attempts_user_quiz_number" in found["uniques"]
    assert found["indexes"]["uq_learning_path_recommendations_one_active"]["unique"]
    assert found["fks"][0]["options"].get("ondelete") == "CASCADE"


def test_the_heads_read_from_the_files_are_alembics() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert shipped_heads() == set(script.get_heads())


def test_a_migrated_database_has_nothing_pending(settings: Settings) -> None:
    assert pending_migrations(settings.resolved_database_url) == []


def test_pending_migrations_of_a_fresh_and_a_behind_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'behind.db'}"
    script = ScriptDirectory.from_config(alembic_config(url))
    everything = [revision.revision for revision in reversed(list(script.walk_revisions()))]
    assert pending_migrations(url) == everything
    command.upgrade(alembic_config(url), everything[1])
    assert pending_migrations(url) == everything[2:]
    upgrade_to_head(url)
    assert pending_migrations(url) == []
