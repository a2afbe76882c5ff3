"""docs/production.md's backup and restore, done for real: pg_dump, restore into a fresh database,
and the service reads every learner's record back intact (PostgreSQL runs only)."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from companion.accounts import export as accounts_export
from companion.accounts.models import User
from companion.db import create_engine, create_sessionmaker
from tests.billing.conftest import assert_invariant
from tests.conftest import BACKEND, POSTGRES_URL, SignUp
from tests.progress.helpers import COURSE, make_premium, quiz, right_answers, wrong_answers


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _run(*command: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await process.communicate()
    assert process.returncode == 0, f"{command[0]} failed: {stderr.decode()[-2000:]}"


async def _records(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            user_ids = list(await session.scalars(select(User.id).order_by(User.email)))
            records = {
                str(user_id): await accounts_export.export_user_data(session, user_id=user_id)
                for user_id in user_ids
            }
            await assert_invariant(session)
            return records
    finally:
        await engine.dispose()


async def test_dump_and_restore_keep_every_learners_record(
    app: FastAPI, client: httpx.AsyncClient, sign_up: SignUp, tmp_path: Path
) -> None:
    if BACKEND != "postgresql":
        pytest.skip("backups are PostgreSQL dumps")
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.fail("pg_dump and pg_restore are needed (apt-get install postgresql-client)")
    learners = [await sign_up() for _ in range(3)]
    async with app.state.sessionmaker() as session:
        await make_premium(session, learners[1])
    sheet = quiz(app, "01-quiz")
    for index, learner in enumerate(learners):
        answers = right_answers(sheet) if index % 2 else wrong_answers(sheet)
        submitted = await client.post(
            f"/api/v1/courses/{COURSE}/quizzes/01-quiz/submit",
            json={"answers": answers},
            headers=learner["headers"],
        )
        assert submitted.is_success, submitted.text
        section = app.state.catalog.pack(COURSE).chapters[0].sections[index].section_id
        read = await client.put(
            f"/api/v1/progress/{COURSE}/01-intro-genai",
            json={"section_id": section},
            headers=learner["headers"],
        )
        assert read.is_success, read.text

    source = make_url(POSTGRES_URL)
    restore_name = f"{source.database}_restore"  # test_h14 -> test_h14_restore; test -> test_restore
    restore_url = source.set(database=restore_name).render_as_string(hide_password=False)
    admin = create_engine(source.set(database="postgres").render_as_string(hide_password=False))
    dump = tmp_path / "companion.dump"
    try:
        async with admin.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text(f'DROP DATABASE IF EXISTS "{restore_name}" WITH (FORCE)'))
            await autocommit.execute(text(f'CREATE DATABASE "{restore_name}"'))
        await _run("pg_dump", "--format=custom", "--no-owner", f"--file={dump}", _libpq(POSTGRES_URL))
        await _run(
            "pg_restore", "--no-owner", "--exit-on-error", f"--dbname={_libpq(restore_url)}", str(dump)
        )

        original = await _records(POSTGRES_URL)
        restored = await _records(restore_url)
        assert len(original) == 3
        assert restored == original
        for record in restored.values():
            assert record["quiz_attempts"] and record["chapter_progress"] and record["subscriptions"]
        assert uuid.UUID(next(iter(restored)))
    finally:
        async with admin.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text(f'DROP DATABASE IF EXISTS "{restore_name}" WITH (FORCE)'))
        await admin.dispose()
