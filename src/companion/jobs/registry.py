"""The retention jobs: what runs, how often, and how one run is carried out.

Every job is keyed on time, so it is idempotent. On schedule, each job runs once per period however
many processes serve: a process takes a PostgreSQL advisory lock for the job (others skip it) and
claims the period in `job_runs` in the same transaction as the job's work, so a period that
finished is never repeated and one that failed is retried at the next tick. On SQLite (one
machine) the claim alone does it: SQLite lets one writer in at a time.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from companion import metrics
from companion.analytics import rollup as analytics_rollup
from companion.billing import service as billing_service
from companion.db import transaction, upsert_insert, utcnow
from companion.jobs.models import JobRun
from companion.oauth import service as oauth_service
from companion.premium import service as premium_service
from companion.progress import tasks as progress_tasks
from companion.recommendations import service as recommendations_service
from companion.tutor import tasks as tutor_tasks

logger = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Job:
    """A named maintenance task with its schedule."""

    name: str
    description: str
    every: timedelta
    run: Callable[..., Awaitable[int]]


JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job(
            "purge-chats",
            "Delete tutor conversations past their 24-hour expiry.",
            HOUR,
            tutor_tasks.purge_expired_conversations,
        ),
        Job(
            "end-idle-sessions",
            "End learning sessions idle for 30 minutes.",
            timedelta(minutes=10),
            progress_tasks.end_idle_sessions,
        ),
        Job(
            "expire-recommendations",
            "Retire learning paths older than 7 days.",
            DAY,
            recommendations_service.deactivate_expired,
        ),
        Job(
            "purge-personalized",
            "Delete personalised chapters past their 30-day expiry.",
            DAY,
            premium_service.delete_expired_personalized_content,
        ),
        Job(
            "purge-translations",
            "Delete chapter translations nobody has opened for 90 days.",
            DAY,
            premium_service.delete_idle_translations,
        ),
        Job(
            "expire-subscriptions",
            "Drop lapsed paid subscriptions to free.",
            DAY,
            billing_service.expire_lapsed,
        ),
        Job(
            "refresh-analytics",
            "Rebuild the analytics roll-ups of yesterday and today (all history the first time).",
            timedelta(minutes=15),
            analytics_rollup.refresh,
        ),
        Job(
            "purge-oauth",
            "Delete expired authorization codes and revoked or expired OAuth grants.",
            DAY,
            oauth_service.purge_expired,
        ),
    )
}


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RUNNER = f"{socket.gethostname()}:{os.getpid()}"


def period_start(job: Job, now: datetime) -> datetime:
    """The start of the period `now` falls in (periods are aligned to the epoch, in UTC)."""
    every = job.every.total_seconds()
    return EPOCH + timedelta(seconds=(now - EPOCH).total_seconds() // every * every)


def _lock_key(job: Job) -> int:
    digest = hashlib.blake2b(f"companion-job:{job.name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def _lock(session: AsyncSession, job: Job, *, wait: bool) -> bool:
    """Hold the job's advisory lock until the transaction ends (PostgreSQL; SQLite serialises writes)."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    result = await session.scalar(text(f"SELECT {function}(:key)"), {"key": _lock_key(job)})
    return wait or bool(result)


async def _ensure_record(session: AsyncSession, job: Job) -> None:
    insert = upsert_insert(session.get_bind().dialect.name)
    await session.execute(
        insert(JobRun)
        .values(job_name=job.name, period_start=EPOCH, started_at=EPOCH)
        .on_conflict_do_nothing()
    )


async def _finish(session: AsyncSession, job: Job, *, changed: int) -> None:
    await session.execute(
        update(JobRun)
        .where(JobRun.job_name == job.name)
        .values(finished_at=utcnow(), rows_changed=changed, runs=JobRun.runs + 1, ran_by=RUNNER)
    )


def _report(job: Job, changed: int, started: float) -> None:
    metrics.JOB_RUNS.labels(job=job.name).inc()
    metrics.JOB_ROWS_CHANGED.labels(job=job.name).inc(changed)
    metrics.JOB_DURATION.labels(job=job.name).observe(asyncio.get_running_loop().time() - started)
    logger.log(logging.INFO if changed else logging.DEBUG, "job %s changed %d row(s)", job.name, changed)


async def run_job(
    sessionmaker: async_sessionmaker[AsyncSession], job: Job, *, now: datetime | None = None
) -> int:
    """Run one job now (by hand), in its own transaction; returns how many rows it changed."""
    started = asyncio.get_running_loop().time()
    now = now or utcnow()
    async with transaction(sessionmaker) as session:
        await _lock(session, job, wait=True)
        await _ensure_record(session, job)  # a write first: on SQLite, a concurrent run waits here
        changed = await job.run(session, now=now)
        await _finish(session, job, changed=changed)
    _report(job, changed, started)
    return changed


async def run_scheduled(
    sessionmaker: async_sessionmaker[AsyncSession], job: Job, *, now: datetime | None = None
) -> int | None:
    """Run the job for the current period unless another process has or is; None when skipped."""
    started = asyncio.get_running_loop().time()
    now = now or utcnow()
    period = period_start(job, now)
    async with sessionmaker() as session, session.begin():
        if not await _lock(session, job, wait=False):
            return None  # another process is running it right now
        await _ensure_record(session, job)
        claimed = await session.execute(
            update(JobRun)
            .where(JobRun.job_name == job.name, JobRun.period_start < period)
            .values(period_start=period, started_at=now)
        )
        if claimed.rowcount == 0:  # type: ignore[attr-defined]
            return None  # this period has already run
        changed = await job.run(session, now=now)
        await _finish(session, job, changed=changed)
    _report(job, changed, started)
    return changed


async def last_runs(session: AsyncSession) -> list[JobRun]:
    """The record of every job that has run."""
    return list(await session.scalars(select(JobRun).order_by(JobRun.job_name)))


async def run_forever(sessionmaker: async_sessionmaker[AsyncSession], *, tick_seconds: float = 60.0) -> None:
    """Each tick, run every job whose period has not run yet anywhere (every process may do this)."""
    while True:
        for job in JOBS.values():
            try:
                await run_scheduled(sessionmaker, job)
            except Exception:  # one failing job must not stop the others or the scheduler
                logger.exception("job %s failed; it will be retried at the next tick", job.name)
        await asyncio.sleep(tick_seconds)
