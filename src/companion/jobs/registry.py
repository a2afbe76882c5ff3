"""The retention jobs: what runs, how often, and how one run is carried out.

Every job is a single set-based statement keyed on time, so it is idempotent and safe to run
from several processes at once: two runs at the same moment simply find nothing left to do.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from companion.billing import service as billing_service
from companion.db import transaction, utcnow
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
            "expire-subscriptions",
            "Drop lapsed paid subscriptions to free.",
            DAY,
            billing_service.expire_lapsed,
        ),
        Job(
            "purge-oauth",
            "Delete expired authorization codes and revoked or expired OAuth grants.",
            DAY,
            oauth_service.purge_expired,
        ),
    )
}


async def run_job(
    sessionmaker: async_sessionmaker[AsyncSession], job: Job, *, now: datetime | None = None
) -> int:
    """Run one job in its own transaction; returns how many rows it changed."""
    async with transaction(sessionmaker) as session:
        changed = await job.run(session, now=now or utcnow())
    logger.log(logging.INFO if changed else logging.DEBUG, "job %s changed %d row(s)", job.name, changed)
    return changed


async def run_forever(sessionmaker: async_sessionmaker[AsyncSession], *, tick_seconds: float = 60.0) -> None:
    """Run each job when it falls due, for the life of the process (every process may do this)."""
    last_run: dict[str, float] = {}
    while True:
        for job in JOBS.values():
            previous = last_run.get(job.name)
            if previous is None or time.monotonic() >= previous + job.every.total_seconds():
                try:
                    await run_job(sessionmaker, job)
                except Exception:  # one failing job must not stop the others or the scheduler
                    logger.exception("job %s failed; it will be retried at its next slot", job.name)
                last_run[job.name] = time.monotonic()
        await asyncio.sleep(tick_seconds)
