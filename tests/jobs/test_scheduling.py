"""Scheduled jobs run once per period however many processes (or engines) try at the same time."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from companion.accounts.models import User
from companion.billing import service as billing_service
from companion.billing.models import SubscriptionChange
from companion.cli import app as cli
from companion.config import Settings, get_settings
from companion.db import create_engine, create_sessionmaker, utcnow
from companion.jobs.models import JobRun
from companion.jobs.registry import JOBS, period_start, run_scheduled
from tests.billing.conftest import assert_invariant
from tests.conftest import BACKEND, SignUp

ROOT = Path(__file__).resolve().parents[2]

# Waits until every process has imported and connected, then runs every job's schedule three times.
WORKER = """
import asyncio, json, sys, time
from datetime import datetime
from pathlib import Path
from companion.db import create_engine, create_sessionmaker
from companion.jobs.registry import JOBS, run_scheduled

async def main(url, now, barrier, me, count):
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    async with engine.connect():
        pass
    Path(barrier, me).touch()
    while len(list(Path(barrier).iterdir())) < count:
        time.sleep(0.01)
    ran = []
    for _ in range(3):
        for job in JOBS.values():
            if await run_scheduled(sessionmaker, job, now=now) is not None:
                ran.append(job.name)
    await engine.dispose()
    print(json.dumps(ran))

url, now, barrier, me, count = sys.argv[1:]
asyncio.run(main(url, datetime.fromisoformat(now), barrier, me, int(count)))
"""


async def _lapsed_learner(session: AsyncSession, tokens: dict[str, object]) -> uuid.UUID:
    user = await session.get(User, uuid.UUID(tokens["user"]["id"]))  # type: ignore[index]
    assert user is not None
    await billing_service.change_tier(
        session, user=user, tier="pro", expires_at=utcnow() + timedelta(hours=1)
    )
    await session.commit()
    return user.id


async def test_two_schedulers_on_separate_engines_run_each_period_once(
    app: FastAPI, settings: Settings, sign_up: SignUp, db_session: AsyncSession
) -> None:
    user_id = await _lapsed_learner(db_session, await sign_up())
    now = utcnow() + timedelta(days=1)
    engines = [create_engine(settings.resolved_database_url) for _ in range(2)]
    try:
        makers = [create_sessionmaker(engine) for engine in engines]
        results = await asyncio.gather(
            *(run_scheduled(maker, job, now=now) for job in JOBS.values() for maker in makers)
        )
        ran = [result for result in results if result is not None]
        assert len(ran) == len(JOBS)
        # The same period again, from either engine: nothing runs.
        again = await asyncio.gather(
            *(run_scheduled(maker, job, now=now) for job in JOBS.values() for maker in makers)
        )
        assert again == [None] * (2 * len(JOBS))
        # The next period of the hourly job runs again, once.
        hourly = JOBS["purge-chats"]
        later = now + hourly.every
        assert period_start(hourly, later) > period_start(hourly, now)
        next_period = await asyncio.gather(*(run_scheduled(maker, hourly, now=later) for maker in makers))
        assert sorted(result is None for result in next_period) == [False, True]
    finally:
        for engine in engines:
            await engine.dispose()
    changes = list(
        await db_session.scalars(
            select(SubscriptionChange.source).where(
                SubscriptionChange.user_id == user_id, SubscriptionChange.source == "job"
            )
        )
    )
    assert changes == ["job"]
    await assert_invariant(db_session)

    get_settings.cache_clear()  # the CLI reads the database URL from the environment given here
    try:
        status = await asyncio.to_thread(
            CliRunner().invoke,
            cli,
            ["jobs", "status"],
            env={"COMPANION_DATABASE_URL": settings.resolved_database_url},
        )
    finally:
        get_settings.cache_clear()
    assert status.exit_code == 0, status.output
    assert "expire-subscriptions" in status.output and "1 row(s)" in status.output


async def test_two_processes_run_each_job_once_per_period(
    app: FastAPI, settings: Settings, sign_up: SignUp, db_session: AsyncSession, tmp_path: Path
) -> None:
    if BACKEND != "postgresql":
        pytest.skip("several processes share a PostgreSQL database; SQLite is one process")
    user_id = await _lapsed_learner(db_session, await sign_up())
    now = (utcnow() + timedelta(days=1)).isoformat()
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WORKER,
            settings.resolved_database_url,
            now,
            str(barrier),
            name,
            "2",
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name in ("a", "b")
    ]
    outputs = [await process.communicate() for process in processes]
    assert all(process.returncode == 0 for process in processes), [err.decode()[-2000:] for _, err in outputs]
    ran = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outputs]
    assert sorted(ran[0] + ran[1]) == sorted(JOBS)  # each job ran in exactly one of the two processes
    records = {run.job_name: run.runs for run in await db_session.scalars(select(JobRun))}
    assert records == dict.fromkeys(JOBS, 1)
    changes = list(
        await db_session.scalars(
            select(SubscriptionChange.id).where(
                SubscriptionChange.user_id == user_id, SubscriptionChange.source == "job"
            )
        )
    )
    assert len(changes) == 1
    await assert_invariant(db_session)
