"""Reading the job-run record (without the registry, so any domain may ask)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from companion.jobs.models import JobRun


async def last_finished_at(session: AsyncSession, job_name: str) -> datetime | None:
    """When the job last finished a run, by any process."""
    return await session.scalar(select(JobRun.finished_at).where(JobRun.job_name == job_name))
