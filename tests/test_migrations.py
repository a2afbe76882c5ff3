"""The migrated schema and the models agree, on whichever engine the run uses."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import inspect

from companion.db import Base


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
